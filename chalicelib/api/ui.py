"""The web UI: static files from chalicelib/web/ (inside chalicelib so `chalice package` ships them and the UI is
served on AWS too). ``/`` is the app; ``/ui/...`` its scripts, styles and the vendored third-party assets
(web/vendor/NAME-VERSION/, cached for a year since a new version is a new path)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api._wire import route
from chalicelib.domain.errors import NotFound

bp = Blueprint(__name__)
WEB_ROOT = Path(__file__).resolve().parents[1] / "web"
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
         ".txt": "text/plain; charset=utf-8", "": "text/plain; charset=utf-8"}
IMMUTABLE = "public, max-age=31536000, immutable"
# The API's own policy (api/middleware.py) forbids everything; the UI needs its own files and its API, nothing else:
# no inline script, style attribute, handler or other origin (the app is written for that).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
REVALIDATE = "no-cache"  # the app's own files: always asked again, answered 304 while the ETag holds

_cache: dict[Path, tuple[int, str, str]] = {}  # path -> (mtime_ns, text, etag); replaced when the file changes


def _read(path: Path) -> tuple[str, str]:
    mtime = path.stat().st_mtime_ns
    hit = _cache.get(path)
    if hit is None or hit[0] != mtime:
        raw = path.read_bytes()
        hit = _cache[path] = (mtime, raw.decode("utf-8"), '"' + hashlib.sha256(raw).hexdigest()[:20] + '"')
    return hit[1], hit[2]


def _resolve(parts: tuple[str, ...]) -> Path:
    if any(not p or p.startswith(".") or "\\" in p or "%" in p for p in parts):
        raise NotFound(what="File", key="/".join(parts))
    path = (WEB_ROOT / Path(*parts)).resolve()
    if not path.is_relative_to(WEB_ROOT) or not path.is_file() or path.suffix not in TYPES:
        raise NotFound(what="File", key="/".join(parts))
    return path


def _serve(*parts: str) -> Response:
    path = _resolve(parts)
    text, etag = _read(path)
    headers: dict[str, str | list[str]] = {
        "Content-Type": TYPES[path.suffix], "ETag": etag, "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": CSP,
        "Cache-Control": IMMUTABLE if parts[0] == "vendor" else REVALIDATE}
    if bp.current_request.headers.get("if-none-match") == etag:
        return Response(body="", status_code=304, headers={k: v for k, v in headers.items() if k != "Content-Type"})
    return Response(body=text, status_code=200, headers=headers)


@route(bp, "/", ["GET"], summary="The web UI", tag="ui", auth="none")
def index() -> Response:
    return _serve("index.html")


@route(bp, "/ui/{name}", ["GET"], summary="A file of the web UI", tag="ui", auth="none")
def asset(name: str) -> Response:
    return _serve(name)


@route(bp, "/ui/{folder}/{name}", ["GET"], summary="A file of the web UI", tag="ui", auth="none")
def nested_asset(folder: str, name: str) -> Response:
    return _serve(folder, name)


@route(bp, "/ui/{folder}/{package}/{name}", ["GET"], summary="A vendored file of the web UI", tag="ui", auth="none")
def vendored_asset(folder: str, package: str, name: str) -> Response:
    return _serve(folder, package, name)
