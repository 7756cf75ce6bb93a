"""Model storage: a model URI (`pvc://`, `s3://`, `http(s)://`, `file://`, a path) in, a local
path out, through one provider per scheme, safe archive extraction and a shared cache.

`fetch_model` is what a replica's storage initializer calls; `create_volume` is what applying a
PersistentVolumeClaim does; `safe_join` is the one check for a path joined to a volume, the
cache or a model folder; the rest is for callers that check inputs early (volume names,
`.s3cfg` texts, URIs) or extract archives themselves.
"""

from mlservice.storage.archive import extract_archive, is_archive
from mlservice.storage.base import Log, LogSink, Probe, Provider
from mlservice.storage.fetch import PROVIDERS, fetch_model
from mlservice.storage.local import volume_path
from mlservice.storage.paths import check_volume_name, safe_join
from mlservice.storage.s3cfg import S3Config, Secret, parse_s3cfg
from mlservice.storage.uri import ModelURI, parse_uri
from mlservice.storage.volumes import VolumeInfo, create_volume, list_volumes

__all__ = [
    "PROVIDERS",
    "Log",
    "LogSink",
    "ModelURI",
    "Probe",
    "Provider",
    "S3Config",
    "Secret",
    "VolumeInfo",
    "check_volume_name",
    "create_volume",
    "extract_archive",
    "fetch_model",
    "is_archive",
    "list_volumes",
    "parse_s3cfg",
    "parse_uri",
    "safe_join",
    "volume_path",
]
