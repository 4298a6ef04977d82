"""The server's compiled route table (chalicelib/server.py `_Routes`) must pick exactly what Chalice's own
RouteMatcher picks — same route, same path parameters (decoded, as the server gets the path), same query
parameters — for every route of the app."""

from __future__ import annotations

import itertools
from urllib.parse import unquote

import pytest
from chalice.local import RouteMatcher

from app import app
from chalicelib.server import _query, _Routes

VALUES = ["x", "le12345678", "a-b_c.d", "%20sp", "caf%C3%A9", "events", "functions", "{x}", ""]
QUERIES = ["", "?v=1", "?v=1&skillId=&externalSystem=a%20b", "?a=1&a=2&b", "?x=%2F&y=+"]


def _paths() -> list[str]:
    paths = []
    for route in app.routes:
        parts = route.split("/")
        holes = [i for i, p in enumerate(parts) if p.startswith("{") and p.endswith("}")]
        for values in itertools.islice(itertools.product(VALUES, repeat=len(holes)), 12):
            filled = list(parts)
            for i, value in zip(holes, values, strict=True):
                filled[i] = value
            path = "/".join(filled) or "/"
            paths.extend([path, path + "/", path + "/extra"])
    return [*paths, "/", "//", "/nope", "/api//x"]  # (no fragment or ;params: the server keeps them in a segment)


@pytest.mark.parametrize("query", QUERIES)
def test_the_compiled_table_matches_chalices_matcher(query: str) -> None:
    ours, theirs = _Routes(app.routes), RouteMatcher(list(app.routes))
    for path in _paths():
        url = path + query
        try:
            expected = theirs.match_route(url)
        except ValueError:
            expected = None
        got = ours.match(unquote(path))
        if expected is None:
            assert got is None, url
            continue
        assert got is not None, url
        route, captured = got
        assert route == expected.route, url
        own = {p[1:-1] for p in route.split("/") if p.startswith("{")}
        assert captured == {k: unquote(v) for k, v in expected.captured.items() if k in own}, url  # (Chalice leaks)
        assert _query(query[1:]) == expected.query_params, url
