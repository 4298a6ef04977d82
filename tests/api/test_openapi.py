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
