"""KServe's `TrainedModel` (serving.kserve.io/v1alpha1): one more model for a running
InferenceService's replicas, loaded through their model repository API without a restart.

Fields are KServe's (pkg/apis/serving/v1alpha1/trained_model.go): `spec.inferenceService` (the
parent, same namespace), `spec.model.storageUri`, `spec.model.framework` (the model format) and
`spec.model.memory` (what the model may take; KServe checks it against the server's memory, here
it is what the model is charged against the server's `--max-models-memory`). Status is `url`
and `conditions`, written by the controller.
"""

from __future__ import annotations

import re

from pydantic import Field

from mlservice.errors import FieldCause
from mlservice.resources._base import Model, Quantity
from mlservice.resources.meta import Envelope
from mlservice.resources.uri import StorageUri

# The name is the model's name in the replicas' repository and in `/v2/models/{name}`.
_MODEL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$")


class TrainedModelModel(Model):
    storage_uri: StorageUri
    framework: str = Field(min_length=1)
    memory: Quantity


class TrainedModelSpec(Model):
    inference_service: str = Field(min_length=1)
    model: TrainedModelModel


class TrainedModel(Envelope):
    spec: TrainedModelSpec

    def problems(self) -> list[FieldCause]:
        if _MODEL_NAME.match(self.name):
            return []
        return [
            FieldCause(
                "metadata.name",
                f'"{self.name}" must be lower-case letters, digits, "-" and ".", at most 63, '
                "starting and ending with a letter or digit (it names the model)",
            )
        ]
