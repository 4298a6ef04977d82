"""The web UI's static files: content types, caching, conditional requests and nothing outside chalicelib/web/."""

from __future__ import annotations

import pytest
from chalice.test import Client

from app import app


@pytest.fixture
def client() -> Client:
    with Client(app) as c:
        yield c


def test_root_serves_the_app_revalidated_every_time(client: Client) -> None:
    res = client.http.get("/")
    assert res.status_code == 200
    assert res.headers["Content-Type"] == "text/html; charset=utf-8"
    assert res.headers["Cache-Control"] == "no-cache"
    assert b'<script type="module" src="/ui/js/app.js">' in res.body
    # its own policy, not the API's default-src 'none' (under which the browser would load nothing)
    assert res.headers["Content-Security-Policy"].startswith("default-src 'self'; script-src 'self';")


def test_an_unchanged_file_answers_304(client: Client) -> None:
    etag = client.http.get("/ui/app.css").headers["ETag"]
    res = client.http.get("/ui/app.css", headers={"If-None-Match": etag})
    assert res.status_code == 304
    assert res.body == b""


@pytest.mark.parametrize(("path", "content_type"), [
    ("/ui/js/app.js", "text/javascript; charset=utf-8"),
    ("/ui/app.css", "text/css; charset=utf-8"),
    ("/ui/favicon.svg", "image/svg+xml"),
    ("/ui/vendor/codemirror-5.65.21/LICENSE", "text/plain; charset=utf-8"),
])
def test_files_have_their_content_type(client: Client, path: str, content_type: str) -> None:
    res = client.http.get(path)
    assert res.status_code == 200
    assert res.headers["Content-Type"] == content_type
    assert res.headers["X-Content-Type-Options"] == "nosniff"


def test_vendored_files_are_cached_for_a_year(client: Client) -> None:
    res = client.http.get("/ui/vendor/axe-core-4.14.1/axe.min.js")
    assert res.status_code == 200
    assert res.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/ui/nope.js", "/ui/..%2Fapp.py", "/ui/.hidden", "/ui/js/..", "/ui/vendor/x/y",
                                  "/ui/js/%2e%2e%2f%2e%2e%2fapp.py"])
def test_nothing_outside_web_is_served(client: Client, path: str) -> None:
    res = client.http.get(path)
    assert res.status_code == 404
    assert res.headers["Content-Type"] == "application/json"
