"""The contract: the OpenAPI document the app serves, and openapi.yaml generated from it.

`make openapi` writes openapi.yaml; a test fails when the file and the app disagree.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from api.idempotency.header import HEADER, MAX_KEY_LENGTH
from api.orders.schemas import CancelIn, OrderCreate, StatusChangeEvent
from api.problems import PROBLEM_JSON, Problem
from api.responses import header_limit_response

SERVERS = [{"url": "http://127.0.0.1:8000", "description": "`make run`"}]
BEARER_DOC = (
    "A JWT in `Authorization: Bearer <token>`; `exp`, `iss`, `aud` and `sub` are required and "
    "`sub` is the customer. Scopes (space-separated `scope` claim): `orders:write` places orders, "
    "`orders:read` reads your own, `admin` reads anyone's. Dev tokens: "
    "`order-api token --sub <customer>`."
)
# Trimmed, non-empty printable ASCII: what parse_idempotency_key accepts in its bare form.
IDEMPOTENCY_KEY_SCHEMA = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_KEY_LENGTH,
    "pattern": r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$",
}
# Models the routes reference by hand (problem responses, a body parsed by a dependency, the
# data of an event stream's events).
_REFERENCED_MODELS: list[type[BaseModel]] = [Problem, OrderCreate, CancelIn, StatusChangeEvent]


def _add_models(schemas: dict[str, Any], models: list[type[BaseModel]]) -> None:
    _, definitions = models_json_schema(
        [(model, "validation") for model in models],
        ref_template="#/components/schemas/{model}",
    )
    for name, schema in definitions.get("$defs", {}).items():
        schemas.setdefault(name, schema)


def _is_default_validation_error(response: dict[str, Any]) -> bool:
    content = response.get("content", {}).get("application/json", {})
    reference: str = content.get("schema", {}).get("$ref", "")
    return reference.endswith("/HTTPValidationError")


def _drop_null_alternative(parameter: dict[str, Any]) -> None:
    """An optional parameter is one a client leaves out: a query or a header has no null to send."""
    schema = parameter["schema"]
    alternatives = schema.get("anyOf", [])
    if parameter["in"] not in ("query", "header") or {"type": "null"} not in alternatives:
        return
    (present,) = [alternative for alternative in alternatives if alternative != {"type": "null"}]
    del schema["anyOf"]
    schema.update(present)


def _tidy_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    # FastAPI adds a 422 of its own shape to any route with parameters; ours are documented
    # per route, as problems, where they can happen.
    if _is_default_validation_error(responses.get("422", {})):
        del responses["422"]
    responses.setdefault("431", header_limit_response())
    for status, response in responses.items():
        if int(status) >= 400:
            response["content"] = {
                PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
            }
    for parameter in operation.get("parameters", []):
        _drop_null_alternative(parameter)
        if parameter["in"] == "header" and parameter["name"] == HEADER:
            # Optional to FastAPI so that a missing key is our 400, but required by contract.
            parameter["required"] = True
            parameter["schema"] = dict(IDEMPOTENCY_KEY_SCHEMA)


def build_openapi(app: FastAPI) -> dict[str, Any]:
    spec = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
        servers=SERVERS,
    )
    for operations in spec["paths"].values():
        for operation in operations.values():
            _tidy_operation(operation)
    components = spec.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    _add_models(schemas, _REFERENCED_MODELS)
    spec["components"]["schemas"] = dict(sorted(schemas.items()))
    for scheme in components.get("securitySchemes", {}).values():
        if scheme.get("scheme") == "bearer":
            scheme["bearerFormat"] = "JWT"
            scheme["description"] = BEARER_DOC
    return spec


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def to_yaml(spec: dict[str, Any]) -> str:
    # Keys in the app's order, not sorted, so the file reads like /docs; the order is stable.
    return yaml.safe_dump(spec, sort_keys=False, allow_unicode=True, width=100)


def main() -> None:
    from api.main import create_app

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("openapi.yaml")
    target.write_text(to_yaml(create_app().openapi()))


if __name__ == "__main__":
    main()
