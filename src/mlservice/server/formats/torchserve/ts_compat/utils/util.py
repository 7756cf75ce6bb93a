"""`ts.utils.util`: the helpers handlers import (label mapping, class listing, errors)."""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import os
import re
from types import ModuleType
from typing import Any

log = logging.getLogger("mlservice.server.torchserve")

CLEANUP_REGEX = re.compile("<.*?>|&([a-z0-9]+|#[0-9]{1,6}|#x[0-9a-f]{1,6});")


class PredictionException(Exception):
    """Raised by a handler to answer with its own message and status."""

    def __init__(self, message: str, error_code: int = 500) -> None:
        self.message = message
        self.error_code = error_code
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message} : {self.error_code}"


def list_classes_from_module(module: ModuleType, parent_class: type | None = None) -> list[type]:
    """The classes `module` itself defines (not those it imports), optionally of one base."""
    classes = [
        member
        for _, member in inspect.getmembers(module, inspect.isclass)
        if member.__module__ == module.__name__
    ]
    if parent_class is not None:
        return [c for c in classes if issubclass(c, parent_class)]
    return classes


def load_label_mapping(mapping_file_path: str) -> dict[str, str] | None:
    """`index_to_name.json` as {"0": "label"}; None (with a warning) when there is none."""
    if not os.path.isfile(mapping_file_path):
        log.warning("%r is missing; answers will not include class names.", mapping_file_path)
        return None
    with open(mapping_file_path, encoding="utf-8") as f:
        mapping = json.load(f)
    if not isinstance(mapping, dict):
        raise Exception('index->name JSON mapping should be in "class": "label" format.')
    names = mapping.get("object_type_names")
    if isinstance(names, list):  # the older layout some examples still ship
        return {str(i): str(v) for i, v in enumerate(names)}
    labels: dict[str, str] = {}
    for key, value in mapping.items():
        label = value[-1] if isinstance(value, list) else value  # ImageNet's [id, name]
        if not isinstance(label, str):
            raise Exception("labels in index->name mapping must be either str or List[str]")
        labels[key] = label
    return labels


def map_class_to_label(
    probs: list[Any], mapping: dict[str, str] | None = None, lbl_classes: Any = None
) -> list[dict[str, Any]]:
    """One {label: probability} dict per row; labels are class ids when there is no mapping."""
    if not isinstance(probs, list):
        raise Exception("Convert classes to list before doing mapping")
    if mapping is not None and not isinstance(mapping, dict):
        raise Exception("Mapping must be a dict")
    if lbl_classes is None:
        lbl_classes = itertools.repeat(range(len(probs[0])), len(probs))
    return [
        {
            (mapping[str(c)] if mapping is not None else str(c)): p
            for c, p in zip(classes, row, strict=False)
        }
        for classes, row in zip(lbl_classes, probs, strict=False)
    ]


def get_yaml_config(yaml_file_path: str) -> dict[str, Any]:
    import yaml

    with open(yaml_file_path, encoding="utf-8") as f:
        loaded = yaml.safe_load(f)
    return loaded if isinstance(loaded, dict) else {}
