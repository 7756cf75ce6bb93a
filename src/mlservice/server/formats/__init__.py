"""Model formats, one module each, and detection of which one a model folder holds."""

from mlservice.server.formats.base import BuildOptions, Format
from mlservice.server.formats.detection import (
    ALIASES,
    FORMATS,
    build_model,
    build_models,
    detect,
)

__all__ = ["ALIASES", "FORMATS", "BuildOptions", "Format", "build_model", "build_models", "detect"]
