"""The OpenAPI document says what the REST routes answer (issue 15), for the auth configured."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlinfer.gateway.app import create_app
from mlinfer.server import Server
from tests.support.servers import settings_for

SECRET = "s" * 48
ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
HEALTH_ROUTES = [("get", "/v2"), ("get", "/v2/health/live"), ("get", "/v2/health/ready")]
INFER_ROUTES = ["/v2/models/{model}/infer", "/v2/models/{model}/versions/{version}/infer"]
BODY_ROUTES = [
    *INFER_ROUTES,
    "/v2/repository/index",
    "/v2/repository/models/{model}/load",
    "/v2/repository/models/{model}/unload",
    "/infer",
    "/infer/image",
]


def _document(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    server = Server(settings_for(tmp_path, **overrides), rest=True)
    app = create_app(
        server.dataplane, server.settings, server.registry, server.metrics, server.tracer,
        server.guard,
    )  # fmt: skip
    return app.openapi()


@pytest.fixture
def doc(tmp_path: Path) -> dict[str, Any]:
    return _document(tmp_path)


@pytest.fixture
def secured(tmp_path: Path) -> dict[str, Any]:
    return _document(tmp_path, auth_mode="required", auth_jwt_secret=SECRET)


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def _keys(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from _keys(item)


def test_every_route_is_documented(doc: dict[str, Any]) -> None:
    assert len(list(_operations(doc))) == 22


def test_no_422_anywhere(doc: dict[str, Any], secured: dict[str, Any]) -> None:
    for document in (doc, secured):
        keys = set(_keys(document))
        assert "422" not in keys
        assert not {"HTTPValidationError", "ValidationError"} & set(
            document["components"]["schemas"]
        )
        assert "x-mlinfer-access" not in keys  # registration's marker never leaks


def test_400_with_the_error_schema_everywhere(doc: dict[str, Any]) -> None:
    schema = doc["components"]["schemas"]["ErrorBody"]
    assert schema["required"] == ["error"]
    assert schema["properties"]["error"]["type"] == "string"
    for method, path, operation in _operations(doc):
        for code, response in operation["responses"].items():
            if code == "200" or (path == "/health" and code == "503"):
                continue
            content = response["content"]
            assert content == {"application/json": {"schema": ERROR_REF}}, (method, path, code)
        assert "400" in operation["responses"], (method, path)


def test_size_and_overload_errors_where_they_happen(doc: dict[str, Any]) -> None:
    documented = {path: set(op["responses"]) for _, path, op in _operations(doc)}
    for path in BODY_ROUTES:
        assert "413" in documented[path], path
    for path in [*INFER_ROUTES, "/infer", "/infer/image"]:
        assert {"404", "429", "503", "504"} <= documented[path], path
    assert "413" not in documented["/v2/models/{model}"]
    assert "404" in documented["/v2/models/{model}/versions/{version}/config"]


def test_health_routes_answer_empty_bodies(doc: dict[str, Any]) -> None:
    for method, path in HEALTH_ROUTES[1:]:
        ok = doc["paths"][path][method]["responses"]["200"]
        assert "content" not in ok, path
    ready = doc["paths"]["/v2/models/{model}/versions/{version}/ready"]["get"]["responses"]
    assert "content" not in ready["200"]
    assert "application/json" in doc["paths"]["/v2"]["get"]["responses"]["200"]["content"]


def test_health_documents_its_body_for_200_and_503(doc: dict[str, Any]) -> None:
    responses = doc["paths"]["/health"]["get"]["responses"]
    ref = {"$ref": "#/components/schemas/HealthBody"}
    assert responses["200"]["content"]["application/json"]["schema"] == ref
    assert responses["503"]["content"]["application/json"]["schema"] == ref


def test_metrics_are_text(doc: dict[str, Any]) -> None:
    content = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(content) == ["text/plain"]


def test_v2_inference_documents_json_and_binary_bodies(doc: dict[str, Any]) -> None:
    for path in INFER_ROUTES:
        operation = doc["paths"][path]["post"]
        body = operation["requestBody"]
        assert body["required"] is True
        json_schema = body["content"]["application/json"]["schema"]
        assert json_schema == {"$ref": "#/components/schemas/InferRequestBody"}
        assert body["content"]["application/octet-stream"]["schema"]["format"] == "binary"
        headers = [p for p in operation["parameters"] if p["in"] == "header"]
        assert [h["name"] for h in headers] == ["Inference-Header-Content-Length"]
        assert headers[0]["required"] is False
        ok = operation["responses"]["200"]["content"]
        assert {"application/json", "application/octet-stream"} <= set(ok)
    request = doc["components"]["schemas"]["InferRequestBody"]
    assert request["required"] == ["inputs"]
    tensor = doc["components"]["schemas"]["InferInputTensor"]
    assert set(tensor["required"]) == {"name", "shape", "datatype"}
    assert "FP32" in tensor["properties"]["datatype"]["enum"]


def test_convenience_inference_documents_its_body(doc: dict[str, Any]) -> None:
    content = doc["paths"]["/infer"]["post"]["requestBody"]["content"]
    assert "application/json" in content
    image = doc["paths"]["/infer/image"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/jpeg", "image/png"} <= set(image)


def test_unversioned_routes_take_no_version(doc: dict[str, Any]) -> None:
    for method, path, operation in _operations(doc):
        names = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
        if "{version}" in path:
            version = next(p for p in operation["parameters"] if p["name"] == "version")
            assert version["in"] == "path" and version["required"] is True
            assert version["schema"]["type"] == "integer" and version["schema"]["minimum"] == 1
        elif path != "/infer/image":  # the image route's version is a documented query
            assert not any(name == "version" for name, _ in names), (method, path)
        if "{model}" in path:
            assert ("model", "path") in names


def test_auth_disabled_documents_no_credentials(doc: dict[str, Any]) -> None:
    assert "securitySchemes" not in doc["components"]
    for method, path, operation in _operations(doc):
        assert "security" not in operation
        assert not {"401", "403"} & set(operation["responses"]), (method, path)
    assert "429" in doc["paths"]["/v2/models/{model}"]["get"]["responses"]  # per-peer limits


def test_auth_required_documents_credentials_on_checked_routes(
    secured: dict[str, Any],
) -> None:
    bearer = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert secured["components"]["securitySchemes"] == {"bearer": bearer}
    open_routes = {*HEALTH_ROUTES, ("get", "/health"), ("get", "/metrics")}
    for method, path, operation in _operations(secured):
        responses = set(operation["responses"])
        if (method, path) in open_routes:  # health and metrics are open by default
            assert "security" not in operation and not {"401", "403", "429"} & responses
        else:
            assert operation["security"] == [{"bearer": []}], (method, path)
            assert {"401", "403", "429"} <= responses, (method, path)


def test_closed_health_and_api_keys_are_documented(tmp_path: Path) -> None:
    from mlinfer.auth import hash_api_key

    key = {"name": "k", "hash": hash_api_key("mlk_" + "k" * 40), "scopes": ["infer"]}
    doc = _document(tmp_path, auth_mode="required", auth_api_keys=[key], auth_open_health=False)
    api_key = {"type": "apiKey", "in": "header", "name": "X-API-Key"}
    assert doc["components"]["securitySchemes"] == {"apiKey": api_key}
    for method, path in [*HEALTH_ROUTES, ("get", "/health")]:
        operation = doc["paths"][path][method]
        assert operation["security"] == [{"apiKey": []}]
        assert {"401", "403"} <= set(operation["responses"])
