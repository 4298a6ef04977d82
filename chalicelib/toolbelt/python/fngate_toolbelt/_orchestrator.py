"""Toolbelt.orchestrator_client(): invoke other functions of the account through faasGW (this gateway), as the
Node client does: POST {faasGW}/api/account/{accountId}/lambdas/{uuid}/invoke?v=1&externalSystem={uuid}_{account}}
with {timestamp, payload, headers: [{key, value}]} and a token for the secret lp-faas-orchestrator-app-key; up to
``retries`` (3) attempts on 500/502/504/429, network errors and timeouts (sleeping attempt*100 ms); all within
``deadline`` ms (≤ 25000), else ...orchestrator-fn.invoke.timeout."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any
from urllib.parse import urlencode

from . import _rpc
from ._constants import ORCHESTRATOR_APP_KEY_SECRET, ErrorStrategy
from ._csds import CsdsClient
from ._errors import ErrorCodes, OrchestratorError, RequestError, ToolBeltError
from ._http import HTTPClient
from ._oauth2 import authorization, read_credentials
from ._secrets import SecretClient

MAX_DEADLINE_MS = 25000
RETRIES = 3
RETRIABLE_STATUS = (500, 502, 504, 429)
RETRIABLE_NETWORK = ("ENOTFOUND", "ECONNRESET", "ETIMEDOUT", "ECONNREFUSED", "EPIPE")
RetryFunction = Callable[[int | None, Exception | None], bool]


def default_retry(status: int | None, error: Exception | None) -> bool:
    if status is not None:
        return status in RETRIABLE_STATUS
    if isinstance(error, RequestError):
        return error.proxy_status in RETRIABLE_STATUS if error.code == "EPROXY" else error.code in RETRIABLE_NETWORK
    return False


def _timeout_error(deadline_ms: float) -> OrchestratorError:
    return OrchestratorError(ErrorCodes.OrchestratorFN.Timeout,
                             f"Invocations timed out after a deadline of {int(deadline_ms)} ms")


def _failed_entry(uuid: str, error: Exception) -> dict[str, Any]:
    if isinstance(error, OrchestratorError) and error.status_code is not None:
        return {"uuid": uuid, "body": error.body, "headers": error.headers, "statusCode": error.status_code,
                "error": {"code": error.code, "message": error.message}}
    if isinstance(error, RequestError | ToolBeltError):
        return {"uuid": uuid, "error": {"code": error.code, "message": str(error)}}
    return {"uuid": uuid, "error": {"code": "Unknown Error", "message": str(error)}}


class OrchestratorClient:
    def __init__(self, csds: CsdsClient, secrets: SecretClient, http: HTTPClient | None = None) -> None:
        self._csds, self._secrets, self._http = csds, secrets, http or HTTPClient()

    def invoke(self, invocations: list[dict[str, Any]], deadline: float = MAX_DEADLINE_MS,
               options: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Invocations ``{uuid, payload, headers?: {k: v}, retries?, retry_function?}``; options ``timeout`` (ms),
        ``json``, ``errorStrategy`` ('ExitOnError' | 'ContinueOnError'), ``invokeParallel``."""
        deadline = min(float(deadline), MAX_DEADLINE_MS)
        opts = _final_options(len(invocations), deadline, options or {})
        ends = time.monotonic() + deadline / 1000
        if not opts["invokeParallel"]:
            return [self._invoke_one(inv, opts, ends, deadline) for inv in invocations]
        pool = ThreadPoolExecutor(max_workers=min(len(invocations), 16) or 1)
        try:
            futures = [pool.submit(self._invoke_one, inv, opts, ends, deadline) for inv in invocations]
            _, pending = wait(futures, timeout=max(0.0, ends - time.monotonic()))
            if pending:
                raise _timeout_error(deadline)
            return [f.result() for f in futures]
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _invoke_one(self, inv: dict[str, Any], opts: dict[str, Any], ends: float, deadline: float) -> dict[str, Any]:
        retries = int(inv.get("retries") or RETRIES)
        retry: RetryFunction = inv.get("retry_function") or inv.get("retryFunction") or default_retry
        for attempt in range(1, retries + 1):
            left = ends - time.monotonic()
            if left <= 0:
                raise _timeout_error(deadline)
            try:
                return self._request(inv, opts, min(opts["timeout"] / 1000, left))
            except (ToolBeltError, RequestError) as err:  # credentials failures too: not retried by default
                status = err.status_code if isinstance(err, OrchestratorError) else None
                if attempt >= retries or not retry(status, err):
                    if ends - time.monotonic() <= 0:
                        raise _timeout_error(deadline) from None
                    if opts["errorStrategy"] == ErrorStrategy.EXIT_ON_ERROR:
                        raise
                    return _failed_entry(inv["uuid"], err)
                time.sleep(min(attempt * 0.1, max(0.0, ends - time.monotonic())))
        raise AssertionError("unreachable")

    def _request(self, inv: dict[str, Any], opts: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        account, uuid = _rpc.account_id(), inv["uuid"]
        query = urlencode({"v": 1, "externalSystem": f"{uuid}_{account}}}"})
        url = f"{self._csds.base_url('faasGW')}/api/account/{account}/lambdas/{uuid}/invoke?{query}"
        body = {"timestamp": int(time.time() * 1000), "payload": inv.get("payload"),
                "headers": [{"key": k, "value": v} for k, v in (inv.get("headers") or {}).items()]}
        creds = read_credentials(self._secrets, ORCHESTRATOR_APP_KEY_SECRET, False, "Orchestrator-FN",
                                 ErrorCodes.OrchestratorFN.Creds)
        headers = {"authorization": authorization(self._csds, creds), "X-Request-Id": _rpc.trace_id()}
        res = self._http.request("POST", url, headers=headers, json=body, timeout=timeout_s)
        text = res.text()
        if not res.ok:
            raise OrchestratorError(ErrorCodes.OrchestratorFN.Invocation.StatusError,
                                    "Invocation failed with a non 2XX error", res.status, text, res.headers)
        parsed: Any = text
        if opts.get("json"):
            with contextlib.suppress(ValueError):
                parsed = json.loads(text)
        return {"uuid": uuid, "body": parsed, "headers": res.headers, "statusCode": res.status}


def _final_options(count: int, deadline: float, options: dict[str, Any]) -> dict[str, Any]:
    per_invocation = deadline // max(count, 1)
    opts: dict[str, Any] = {"invokeParallel": False, "errorStrategy": ErrorStrategy.EXIT_ON_ERROR,
                            "timeout": per_invocation, "json": False}
    opts.update({_camel(k): v for k, v in options.items()})
    if opts["timeout"] * count > deadline:
        opts["timeout"] = per_invocation
    return opts


def _camel(name: str) -> str:
    """Accept python_names for the options too (error_strategy → errorStrategy)."""
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
