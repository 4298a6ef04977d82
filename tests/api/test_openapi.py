"""/openapi.json lists exactly the app's routes and methods."""

from __future__ import annotations

from app import app
from tests.api.conftest import body


def test_openapi_lists_every_route_and_method(api):
    doc = body(api.client.http.get("/openapi.json"))
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    actual = {(path.replace("{account_id}", "{account_id}"), method)
              for path, methods in app.routes.items() for method in methods}
    assert documented == actual


def test_every_operation_has_a_summary_and_path_parameters(api):
    doc = body(api.client.http.get("/openapi.json"))
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["summary"]
            assert {p["name"] for p in op["parameters"]} == {s.strip("{}") for s in path.split("/") if "{" in s}


def test_every_operation_declares_its_body_and_answers_with_schemas(api):
    doc = body(api.client.http.get("/openapi.json"))
    schemas = doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            success = [code for code in op["responses"] if code.startswith("2")]
            assert success, (method, path)
            for code in success:  # JSON, or a text export (CSV / JSON lines)
                content = op["responses"][code]["content"]
                assert all(media["schema"] is not None for media in content.values()) and content, (method, path)
            assert op["responses"]["4XX"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/Error"}
            if method in ("post", "put") and "requestBody" in op:
                for media in op["requestBody"]["content"].values():
                    name = media["schema"]["$ref"].rpartition("/")[2]
                    assert schemas[name]["type"] == "object", name
