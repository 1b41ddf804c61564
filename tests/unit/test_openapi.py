"""openapi.yaml is the contract: generated from the app, and complete about errors and auth."""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.idempotency.header import parse_idempotency_key
from api.main import create_app
from api.openapi import IDEMPOTENCY_KEY_SCHEMA, build_openapi, to_yaml
from api.problems import PROBLEM_JSON, ProblemError
from foundation.settings import Settings

CONTRACT = Path(__file__).resolve().parents[2] / "openapi.yaml"
SPEC: dict[str, Any] = create_app(Settings()).openapi()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, operations in SPEC["paths"].items()
        for method, operation in operations.items()
    ]


def _statuses(method: str, path: str) -> set[int]:
    return {int(s) for s in SPEC["paths"][path][method.lower()]["responses"]}


def test_openapi_yaml_is_exactly_what_the_app_serves() -> None:
    committed = yaml.safe_load(CONTRACT.read_text())
    if committed != SPEC:
        diff = "\n".join(
            difflib.unified_diff(
                CONTRACT.read_text().splitlines(), to_yaml(SPEC).splitlines(), lineterm="", n=1
            )
        )
        pytest.fail(f"openapi.yaml differs from the app; run `make openapi`.\n{diff[:4000]}")


def test_generation_is_deterministic() -> None:
    app = create_app(Settings())
    assert to_yaml(build_openapi(app)) == to_yaml(build_openapi(app))


def test_every_error_response_is_problem_json_only() -> None:
    for method, path, operation in _operations():
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert list(response["content"]) == [PROBLEM_JSON], f"{method} {path} {status}"
                schema = response["content"][PROBLEM_JSON]["schema"]
                assert schema == {"$ref": "#/components/schemas/Problem"}


def test_problem_schema_is_registered_and_the_default_validation_error_is_gone() -> None:
    schemas = SPEC["components"]["schemas"]
    assert {"type", "title", "status", "detail"} <= set(schemas["Problem"]["required"])
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas
    assert "HTTPValidationError" not in to_yaml(SPEC)


def test_every_secured_operation_documents_401_and_403_with_their_challenge() -> None:
    secured = [(m, p, op) for m, p, op in _operations() if op.get("security")]
    assert secured
    for method, path, operation in secured:
        for status in ("401", "403"):
            response = operation["responses"][status]
            assert response["headers"]["WWW-Authenticate"]["required"], f"{method} {path}"


def test_place_order_documents_every_status_it_can_answer() -> None:
    assert _statuses("POST", "/orders") == {201, 400, 401, 403, 409, 413, 415, 422, 429, 431, 503}


def test_get_order_documents_404_and_no_validation_error() -> None:
    assert _statuses("GET", "/orders/{order_id}") == {200, 401, 403, 404, 431, 503}


def test_catalog_and_readiness_document_503() -> None:
    assert _statuses("GET", "/products") == {200, 431, 503}
    assert _statuses("GET", "/health/ready") == {200, 431, 503}


@pytest.mark.parametrize("status", ["409", "429"])
def test_statuses_that_ask_for_a_retry_document_retry_after(status: str) -> None:
    response = SPEC["paths"]["/orders"]["post"]["responses"][status]
    assert response["headers"]["Retry-After"]["required"]


def test_idempotency_key_is_a_required_bounded_string_with_its_semantics() -> None:
    [parameter] = SPEC["paths"]["/orders"]["post"]["parameters"]
    assert parameter["name"] == "Idempotency-Key" and parameter["in"] == "header"
    assert parameter["required"] is True
    assert parameter["schema"] == IDEMPOTENCY_KEY_SCHEMA
    assert parameter["schema"]["minLength"] == 1 and parameter["schema"]["maxLength"] == 255
    for semantics in ("replays", "422", "409", "Retry-After", "400"):
        assert semantics in parameter["description"]


@pytest.mark.parametrize(
    "key", ["k", "order-2026-001", "a b", " padded ", "", "   ", "x" * 255, "x" * 256, "caf\u00e9"]
)
def test_idempotency_key_pattern_agrees_with_the_parser(key: str) -> None:
    schema = IDEMPOTENCY_KEY_SCHEMA
    documented = (
        schema["minLength"] <= len(key) <= schema["maxLength"]
        and re.fullmatch(str(schema["pattern"]), key) is not None
    )
    try:
        parse_idempotency_key(key)
        accepted = True
    except ProblemError:
        accepted = False
    # Leading and trailing blanks are trimmed by the parser, so it may accept more than shown.
    assert accepted or not documented


def test_bearer_scheme_is_a_jwt_with_its_scopes_described() -> None:
    [scheme] = SPEC["components"]["securitySchemes"].values()
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert scheme["bearerFormat"] == "JWT"
    for scope in ("orders:write", "orders:read", "admin"):
        assert scope in scheme["description"]


def test_order_body_is_documented_and_carries_an_example() -> None:
    body = SPEC["paths"]["/orders"]["post"]["requestBody"]
    assert body["required"] is True
    reference = body["content"]["application/json"]["schema"]["$ref"]
    assert reference == "#/components/schemas/OrderCreate"
    assert SPEC["components"]["schemas"]["OrderCreate"]["examples"]


def test_servers_name_the_local_run() -> None:
    assert SPEC["servers"][0]["url"] == "http://127.0.0.1:8000"


def _response(method: str, path: str, status: str) -> dict[str, Any]:
    return dict(SPEC["paths"][path][method.lower()]["responses"][status])


def test_cancel_documents_its_real_conflicts_with_an_optional_retry_after() -> None:
    conflict = _response("POST", "/orders/{order_id}/cancel", "409")
    assert "order-not-cancellable" in conflict["description"]
    assert "order-busy" in conflict["description"]
    assert "Idempotency-Key" not in conflict["description"]
    assert not conflict["headers"]["Retry-After"].get("required", False)


def test_redrive_documents_its_real_conflict_without_retry_after() -> None:
    conflict = _response("POST", "/dead-letters/{dead_letter_id}/redrive", "409")
    assert "dead-letter-resolved" in conflict["description"]
    assert "Idempotency-Key" not in conflict["description"]
    assert "Retry-After" not in conflict.get("headers", {})


def test_cancel_accepted_documents_the_order_it_returns_and_how_to_follow_it() -> None:
    accepted = _response("POST", "/orders/{order_id}/cancel", "202")
    schema = accepted["content"]["application/json"]["schema"]
    assert schema == {"$ref": "#/components/schemas/OrderOut"}
    assert accepted["headers"]["Location"]["required"]
    assert accepted["headers"]["Retry-After"]["required"]


def test_every_operation_documents_the_431_of_the_header_limit() -> None:
    for method, path, _ in _operations():
        assert 431 in _statuses(method, path), f"{method} {path}"


def _links() -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method} {path} {status} {name}", link)
        for method, path, operation in _operations()
        for status, response in operation["responses"].items()
        for name, link in response.get("links", {}).items()
    ]


def test_every_link_names_an_operation_its_path_parameters_and_only_its_parameters() -> None:
    by_id = {operation["operationId"]: operation for _, _, operation in _operations()}
    assert _links()
    for where, link in _links():
        target = by_id.get(link["operationId"])
        assert target is not None, where
        path_parameters = {p["name"] for p in target["parameters"] if p["in"] == "path"}
        all_parameters = {p["name"] for p in target["parameters"]}
        assert path_parameters <= set(link["parameters"]) <= all_parameters, where


def test_the_order_list_links_its_next_page_and_its_orders() -> None:
    links = _response("GET", "/orders", "200")["links"]
    assert links["NextPage"]["operationId"] == "list_orders_orders_get"
    assert links["NextPage"]["parameters"] == {"cursor": "$response.body#/next_cursor"}
    assert links["GetFirstOrder"]["operationId"] == "get_order_orders__order_id__get"


def test_links_chain_create_get_cancel_and_dead_letter_redrive() -> None:
    chained = {
        (where.split(" ")[0] + " " + where.split(" ")[1], link["operationId"])
        for where, link in _links()
    }
    assert ("POST /orders", "get_order_orders__order_id__get") in chained
    assert ("GET /orders/{order_id}", "cancel_order_orders__order_id__cancel_post") in chained
    redrive = "redrive_dead_letters__dead_letter_id__redrive_post"
    assert ("GET /dead-letters", redrive) in chained
