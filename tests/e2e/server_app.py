"""A throwaway Chalice app on chalicelib.server, as its own process: ``python -m tests.e2e.server_app PORT ...``.

Its /echo route shows exactly what the app was handed (method, headers, body), and /seen counts the requests that
reached the app, so the malformed-HTTP tests can tell a refused request from a misread one.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import threading
import time

from chalice import Chalice, Response

from chalicelib.server import BODY_TIMEOUT_S, THREADS_PER_PROCESS, ChaliceRSGI, serve

MAX_BODY = 4096


def render_error(status: int, method: str, path: str, headers: dict, query: dict) -> tuple[int, dict, bytes]:
    body = {"code": f"test.{status}", "method": method, "path": path, "query": query}
    return status, {"Content-Type": "application/json"}, json.dumps(body).encode()


def make_app() -> Chalice:
    app = Chalice(app_name="server-under-test")
    seen = {"count": 0}
    lock = threading.Lock()

    @app.route("/echo", methods=["POST", "GET"], content_types=["*/*"])
    def echo() -> dict:
        request = app.current_request
        with lock:
            seen["count"] += 1
        raw = request.raw_body
        time.sleep(0.001)  # lets other threads run: a shared current_request would now belong to someone else
        return {"method": request.method, "headers": dict(request.headers), "pid": os.getpid(),
                "body": base64.b64encode(raw if isinstance(raw, bytes) else raw.encode()).decode(),
                "again": base64.b64encode(app.current_request.raw_body or b"").decode(),
                "ip": request.context["identity"]["sourceIp"]}

    @app.route("/seen")
    def count() -> dict:
        return {"count": seen["count"]}

    @app.route("/items/{name}")
    def item(name: str) -> dict:
        return {"name": name}

    @app.route("/cookies")
    def cookies() -> Response:
        return Response(body="", headers={"Set-Cookie": ["a=1", "b=2"]}, status_code=204)

    @app.route("/slow")
    def slow() -> dict:
        mark = (app.current_request.query_params or {}).get("mark")
        if mark:
            open(mark, "w").close()  # tells the test the request is inside the view
        time.sleep(1.0)
        return {"slow": True}

    @app.route("/boom")
    def boom() -> dict:
        raise RuntimeError("secret detail")

    @app.route("/badheader")
    def badheader() -> Response:
        return Response(body={"ok": True}, headers={"X-Note": (app.current_request.query_params or {})["v"]})

    @app.route("/failed")
    def failed() -> Response:
        return Response(body={"errorCode": "x"}, status_code=901)

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--threads", type=int, default=THREADS_PER_PROCESS, help="threads that run the app")
    parser.add_argument("--body-timeout", type=float, default=BODY_TIMEOUT_S, help="seconds a body may take")
    args = parser.parse_args()
    app = make_app()
    serve(lambda: ChaliceRSGI(app, max_body=MAX_BODY, error_renderer=render_error, threads=args.threads,
                              body_timeout_s=args.body_timeout), "127.0.0.1", args.port,
          processes=args.processes, tls_cert=args.tls_cert, tls_key=args.tls_key,
          on_ready=lambda url: print(f"ready {url}", flush=True))


if __name__ == "__main__":
    main()
