"""Resource kinds as pydantic models, their defaults, and validation whose errors name the field:
ours (`tensorstack.dev`, core `v1`) and KServe's (`serving.kserve.io`: `inferenceservice`,
`servingruntime` modules).

`validate_object(manifest)` is what the API calls before storing anything; `parse(manifest)` gives
controllers the typed model.
"""

from mlservice.resources.event import Event
from mlservice.resources.inferenceservice import InferenceService
from mlservice.resources.meta import Envelope, ObjectMeta
from mlservice.resources.mlservice import MLService, Predictor, Release, Transformer
from mlservice.resources.mlserviceruntime import MLServiceRuntime, SupportedModelFormat
from mlservice.resources.pod import Container, PodSpec, PodTemplate
from mlservice.resources.pvc import PersistentVolumeClaim
from mlservice.resources.secret import S3Config, Secret
from mlservice.resources.serviceaccount import ServiceAccount
from mlservice.resources.servingruntime import ClusterServingRuntime, ServingRuntime
from mlservice.resources.simplemlservice import SimpleMLService
from mlservice.resources.trainedmodel import TrainedModel
from mlservice.resources.validation import MODELS, Resource, parse, parse_as, validate_object

__all__ = [
    "MODELS",
    "ClusterServingRuntime",
    "Container",
    "Envelope",
    "Event",
    "InferenceService",
    "MLService",
    "MLServiceRuntime",
    "ObjectMeta",
    "PersistentVolumeClaim",
    "PodSpec",
    "PodTemplate",
    "Predictor",
    "Release",
    "Resource",
    "S3Config",
    "Secret",
    "ServiceAccount",
    "ServingRuntime",
    "SimpleMLService",
    "SupportedModelFormat",
    "TrainedModel",
    "Transformer",
    "parse",
    "parse_as",
    "validate_object",
]
