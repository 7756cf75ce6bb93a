"""`/openapi.json` with the resource kinds' own schemas, so request bodies are documented."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from mlservice.resources import MODELS

REF = "#/components/schemas/{model}"


def body(kind: str | None) -> dict[str, Any]:
    """`openapi_extra` for an operation whose body is one `kind` (None: any JSON object)."""
    schema = {"$ref": REF.format(model=kind)} if kind else {"type": "object"}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


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
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = document  # type: ignore[method-assign]
