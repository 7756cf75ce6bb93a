"""`/openapi.json` with the resource kinds' own schemas, so request bodies are documented."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from mlservice.resources import MODELS
from mlservice.resources.kinds import KINDS

REF = "#/components/schemas/{model}"


def body(kind: str | None) -> dict[str, Any]:
    """`openapi_extra` for an operation whose body is one `kind` (None: any JSON object)."""
    schema = {"$ref": REF.format(model=kind)} if kind else {"type": "object"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


# What `DELETE` reads of Kubernetes' DeleteOptions; the body is optional.
DELETE_OPTIONS = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "preconditions": {
                            "type": "object",
                            "properties": {"resourceVersion": {"type": "string"}},
                        }
                    },
                }
            }
        },
    }
}


def _pin_kinds(components: dict[str, Any]) -> None:
    """Each kind's schema names its own `apiVersion` and `kind`, the only values it accepts."""
    for info in KINDS:
        properties = components.get(info.kind, {}).get("properties", {})
        if "apiVersion" in properties and "kind" in properties:
            properties["apiVersion"] = {"type": "string", "enum": [info.api_version]}
            properties["kind"] = {"type": "string", "enum": [info.kind]}


def install(app: FastAPI) -> None:
    def document() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            # One pass over all kinds, so pydantic disambiguates same-named parts between them.
            keys, schemas = models_json_schema(
                [(model, "validation") for model in MODELS.values()],
                by_alias=True,
                ref_template=REF,
            )
            components = doc.setdefault("components", {}).setdefault("schemas", {})
            components.update(schemas.get("$defs", {}))
            for (model, _), ref in keys.items():
                name = ref["$ref"].rsplit("/", 1)[-1]
                if model.__name__ != name:
                    components[model.__name__] = ref
            _pin_kinds(components)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
