"""The Python toolbelt (fngate_toolbelt): a fake ``fngate_rpc`` bridge (or the real ToolbeltHost behind it), HTTP
through the stand-in CONNECT proxy to local HTTP(S) servers."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.clock import Clock
from chalicelib.runtime.base import Target
from chalicelib.services.context_store import ContextStore
from chalicelib.services.toolbelt_host import ToolbeltHost
from chalicelib.storage.sqlite import SqliteStore
from chalicelib.toolbelt import PYTHON_PATH
from tests.toolbelt.fakes import ACCOUNT, ConnectProxy, Pki, RpcFailure, Seen, Upstream, json_answer, standard_rpc
from tests.toolbelt.node_runner import answer_rpc

SECRET_CODES = ["not-found", "invalid-format", "forbidden", "op-failed", "op-timed-out", "auth-failed"]


class Bridge:
    """What the worker installs as ``fngate_rpc``: call(method, params), recording every call."""

    def __init__(self) -> None:
        self.handler: Any = None
        self.calls: list[tuple[str, Any]] = []

    def call(self, method: str, params: Any = None) -> Any:
        self.calls.append((method, params))
        return json.loads(json.dumps(answer_rpc(self.handler, method, json.loads(json.dumps(params)))))


@pytest.fixture
def tb(monkeypatch: pytest.MonkeyPatch, pki: Pki) -> Iterator[tuple[types.ModuleType, Bridge]]:
    """The package with fresh process caches, a fake bridge, a clean proxy environment and the test CA."""
    monkeypatch.syspath_prepend(PYTHON_PATH)
    bridge = Bridge()
    module = types.ModuleType("fngate_rpc")
    module.call = bridge.call  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fngate_rpc", module)
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy", "FNGATE_EGRESS_SOCKET"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("X_LIVEPERSON_BRAND_ID", ACCOUNT)
    monkeypatch.setenv("SSL_CERT_FILE", str(pki.ca))
    import fngate_toolbelt
    from fngate_toolbelt import _oauth2, _secrets

    fngate_toolbelt._csds = None
    _oauth2._tokens.clear()
    _secrets._cache.clear()
    yield fngate_toolbelt, bridge


def use_proxy(monkeypatch: pytest.MonkeyPatch, proxy: ConnectProxy) -> None:
    for name, value in proxy.env().items():
        monkeypatch.setenv(name, value)


# -- secrets -----------------------------------------------------------------------------------------------------------
def test_read_secret_returns_the_hosts_answer(tb: Any) -> None:
    pkg, bridge = tb
    bridge.handler = {"secret.read": lambda p: {"key": p["key"], "value": [1, 2]}}
    assert pkg.Toolbelt.secret_client().read_secret("k") == {"key": "k", "value": [1, 2]}
    assert bridge.calls == [("secret.read", {"key": "k"})]


@pytest.mark.parametrize("suffix", SECRET_CODES)
def test_secret_errors_keep_the_hosts_code(tb: Any, suffix: str) -> None:
    pkg, bridge = tb
    code = f"com.liveperson.faas.secret.{suffix}"
    bridge.handler = {"secret.read": RpcFailure(code, "There is no secret k for this account")}
    with pytest.raises(pkg.ToolBeltError) as err:
        pkg.Toolbelt.secret_client().read_secret("k")
    assert (err.value.component, err.value.code) == ("SecretClient", code)
    assert str(err.value) == "SecretClient: There is no secret k for this account"


def test_update_secret_checks_first_then_asks_the_host(tb: Any) -> None:
    pkg, bridge = tb
    bridge.handler = {"secret.update": lambda p: {"key": p["key"], "value": p["value"]}}
    client = pkg.Toolbelt.secret_client()
    for key, value, code in (("LIVEPERSON_DEFAULT_APP_KEY", 1, "forbidden"), ("big", "x" * 20000, "invalid-format"),
                             ("odd", {1, 2}, "invalid-format")):
        with pytest.raises(pkg.ToolBeltError) as err:
            client.update_secret(key, value)
        assert err.value.code == f"com.liveperson.faas.secret.{code}"
    assert client.update_secret({"key": "k", "value": {"v": 2}}) == {"key": "k", "value": {"v": 2}}
    assert bridge.calls == [("secret.update", {"key": "k", "value": {"v": 2}})]


def test_reads_are_fresh_unless_a_cache_ttl_is_asked_for(tb: Any) -> None:
    pkg, bridge = tb
    values = iter(range(1, 100))
    bridge.handler = {"secret.read": lambda p: {"key": "k", "value": next(values)}}
    fresh, cached = pkg.Toolbelt.secret_client(), pkg.Toolbelt.secret_client(cache_ttl_s=60)
    assert [fresh.read_secret("k")["value"] for _ in range(2)] == [1, 2]
    assert [cached.read_secret("k")["value"] for _ in range(2)] == [2, 2]
    assert cached.read_secret("k", use_cache=False)["value"] == 3


# -- HTTP --------------------------------------------------------------------------------------------------------------
def test_http_client_gets_json_over_https_through_the_proxy(tb: Any, upstreams: Any, proxy: ConnectProxy,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    use_proxy(monkeypatch, proxy)
    server: Upstream = upstreams(lambda seen: json_answer({"path": seen.path}), tls=True)
    res = pkg.Toolbelt.http_client().get(f"{server.url}/items", params={"q": "a b"})
    assert (res.status, res.ok, res.json()) == (200, True, {"path": "/items?q=a+b"})
    assert proxy.log.requests == [("CONNECT", server.host, "fn:tok-123")]


def test_http_client_posts_to_plain_http_in_absolute_form(tb: Any, upstreams: Any, proxy: ConnectProxy,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    use_proxy(monkeypatch, proxy)
    server: Upstream = upstreams(lambda seen: json_answer({"got": seen.json()}, 201))
    res = pkg.Toolbelt.http_client().post(f"{server.url}/things", json={"a": 1})
    assert (res.status, res.json()) == (201, {"got": {"a": 1}})
    assert proxy.log.requests == [("POST", f"{server.url}/things", "fn:tok-123")]
    assert "proxy-authorization" not in server.seen[0].headers


def test_a_refused_host_and_a_timeout_are_request_errors(tb: Any, upstreams: Any, proxy: ConnectProxy,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    use_proxy(monkeypatch, proxy)

    def slow(seen: Seen) -> Any:
        time.sleep(1.0)
        return 200, {}, "late"

    slow_server: Upstream = upstreams(slow)
    with pytest.raises(pkg.RequestError) as timed_out:
        pkg.Toolbelt.http_client().get(f"{slow_server.url}/slow", timeout=0.2)
    assert timed_out.value.code == "ETIMEDOUT"
    proxy.log.deny.add("127.0.0.1")
    with pytest.raises(pkg.RequestError) as refused:
        pkg.Toolbelt.http_client().get(f"https://127.0.0.1:{slow_server.port}/x")
    assert (refused.value.code, refused.value.proxy_status) == ("EPROXY", 403)


def test_redirect_hops_each_go_through_the_proxy(tb: Any, upstreams: Any, proxy: ConnectProxy,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    use_proxy(monkeypatch, proxy)
    target: Upstream = upstreams(lambda seen: (200, {}, "landed"))
    first: Upstream = upstreams(lambda seen: (302, {"Location": f"{target.url}/end"}, ""), tls=True)
    res = pkg.Toolbelt.http_client().get(f"{first.url}/start")
    assert (res.text(), res.url, res.redirects) == ("landed", f"{target.url}/end", 1)
    assert proxy.log.targets() == [first.host, f"{target.url}/end"]


def test_the_egress_unix_socket_is_the_fallback(tb: Any, upstreams: Any, unix_proxy: Any,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    proxy, path = unix_proxy
    monkeypatch.setenv("FNGATE_EGRESS_SOCKET", path)
    monkeypatch.setenv("FNGATE_EGRESS_TOKEN", "tok-123")
    tls_server: Upstream = upstreams(lambda seen: (200, {}, "tls"), tls=True)
    plain: Upstream = upstreams(lambda seen: (200, {}, "plain"))
    client = pkg.Toolbelt.http_client()
    assert (client.get(f"{tls_server.url}/a").text(), client.get(f"{plain.url}/b").text()) == ("tls", "plain")
    assert proxy.log.requests == [("CONNECT", tls_server.host, "fn:tok-123"), ("GET", f"{plain.url}/b", "fn:tok-123")]


# -- orchestrator, lp_client, csds -------------------------------------------------------------------------------------
def ok_invocation(seen: Seen, n: int) -> Any:
    return json_answer({"echo": seen.json()["payload"]})


def test_orchestrator_invokes_in_sequence_with_the_spec_request(tb: Any, lp: Any, proxy: ConnectProxy,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, bridge = tb
    use_proxy(monkeypatch, proxy)
    fake, server = lp
    bridge.handler = standard_rpc(server)
    fake.invocations.update({"fn-a": ok_invocation, "fn-b": ok_invocation})
    results = pkg.Toolbelt.orchestrator_client().invoke(
        [{"uuid": "fn-a", "payload": {"n": 1}, "headers": {"h": "v"}}, {"uuid": "fn-b", "payload": 2}], 5000,
        {"json": True})
    assert [(r["uuid"], r["statusCode"], r["body"]) for r in results] == [
        ("fn-a", 200, {"echo": {"n": 1}}), ("fn-b", 200, {"echo": 2})]
    invoke = next(s for s in server.seen if "/lambdas/fn-a/" in s.path)
    assert parse_qs(urlsplit(invoke.path).query) == {"v": ["1"], "externalSystem": [f"fn-a_{ACCOUNT}}}"]}
    assert invoke.json()["headers"] == [{"key": "h", "value": "v"}]
    assert invoke.headers["authorization"] == "Bearer tok-1"
    assert len(fake.tokens) == 1


def test_orchestrator_error_strategies_and_retries(tb: Any, lp: Any, proxy: ConnectProxy,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, bridge = tb
    use_proxy(monkeypatch, proxy)
    fake, server = lp
    bridge.handler = standard_rpc(server)
    fake.invocations.update({"bad": lambda seen, n: json_answer({"errorCode": "x"}, 400), "fn-b": ok_invocation,
                             "flaky": lambda seen, n: json_answer({"n": n}, 502 if n == 1 else 200)})
    client = pkg.Toolbelt.orchestrator_client()
    with pytest.raises(pkg.OrchestratorError) as err:
        client.invoke([{"uuid": "bad", "payload": 1}, {"uuid": "fn-b", "payload": 2}], 5000)
    assert (err.value.code, err.value.status_code) == (
        "com.liveperson.faas.orchestrator-fn.invoke.status-code-error", 400)
    assert "fn-b" not in fake.counts
    results = client.invoke([{"uuid": "bad", "payload": 1}, {"uuid": "flaky", "payload": 2}], 5000,
                            {"error_strategy": pkg.ErrorStrategy.CONTINUE_ON_ERROR, "invoke_parallel": True})
    assert results[0]["statusCode"] == 400 and results[0]["error"]["code"].endswith("status-code-error")
    assert (results[1]["statusCode"], json.loads(results[1]["body"])) == (200, {"n": 2})
    assert fake.counts["bad"] == 2  # a 400 is not retried: one call per invoke


def test_orchestrator_deadline(tb: Any, lp: Any, proxy: ConnectProxy, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, bridge = tb
    use_proxy(monkeypatch, proxy)
    fake, server = lp
    bridge.handler = standard_rpc(server)

    release, answered = threading.Event(), threading.Event()

    def slow(seen: Seen, n: int) -> Any:
        release.wait(10)  # answers only once the test lets it
        answered.set()
        return json_answer({})

    fake.invocations["slow"] = slow
    try:
        with pytest.raises(pkg.OrchestratorError) as err:
            pkg.Toolbelt.orchestrator_client().invoke([{"uuid": "slow", "payload": {}}], 300)
        assert err.value.code == "com.liveperson.faas.orchestrator-fn.invoke.timeout"
        assert not answered.is_set()  # the client gave up on its own timeout, not after an answer
    finally:
        release.set()


def test_lp_client_retries_a_401_with_fresh_credentials(tb: Any, lp: Any, proxy: ConnectProxy,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, bridge = tb
    use_proxy(monkeypatch, proxy)
    fake, server = lp
    bridge.handler = standard_rpc(server)
    fake.routes["/api/data"] = lambda seen: (
        json_answer({"ok": True}) if seen.headers["authorization"] == "Bearer tok-2" else json_answer({}, 401))
    res = pkg.Toolbelt.lp_client()(pkg.LpServices.MSG_HIST, "/api/data")
    assert (res.status, res.json()) == (200, {"ok": True})
    assert len(fake.tokens) == 2
    assert bridge.calls.count(("secret.read", {"key": "lp-faas-default-app-key"})) == 2
    bridge.handler = standard_rpc(server, {"lp-faas-default-app-key": ["wrong"]})
    with pytest.raises(pkg.ToolBeltError) as err:
        pkg.Toolbelt.lp_client()("msgHist", "/api/data")
    assert err.value.code == "com.liveperson.faas.lp-client.credentials-wrong-format"


def test_csds_client_resolves_and_reports_unknown_services(tb: Any) -> None:
    pkg, bridge = tb

    def rpc(method: str, params: Any) -> Any:
        if method == "csds.all":
            return [{"service": "msgHist", "host": "m.example", "scheme": "https"}]
        if params["service"] == "msgHist":
            return {"service": "msgHist", "host": "m.example", "scheme": "https"}
        raise RpcFailure("com.liveperson.faas.csds.domain.not-found", "no")

    bridge.handler = rpc
    csds = pkg.Toolbelt.csds_client()
    assert (csds.get("msgHist"), csds.get_all()) == ("m.example", [{"msgHist": "m.example"}])
    with pytest.raises(pkg.ToolBeltError) as err:
        csds.get("nope")
    assert err.value.code == "com.liveperson.faas.csds.domain.not-found"


# -- context service against the real host -----------------------------------------------------------------------------
def test_context_client_round_trips_through_the_real_host(tb: Any, tmp_path: Path) -> None:
    pkg, bridge = tb
    host = ToolbeltHost(ContextStore(SqliteStore(tmp_path / "ctx.db"), Clock()), None, {}, "gw.example")
    target = Target(ACCOUNT, "fn-py", 1, "python3.11", "")
    bridge.handler = lambda method, params: host(target, method, params)
    ctx = pkg.Toolbelt.context_service_client("key")
    assert ctx.create_namespace("orders", ttl=60)["ttlSecond"] == 60
    assert ctx.set_properties_in_namespace("orders", {"a": 1, "b": [2]}) == {"a": 1, "b": [2]}
    assert ctx.update_properties_in_namespace("orders", {"a": 3}, "s1") == {"a": 3}
    assert ctx.get_selected_properties_in_session("orders", ["b", "zz"]) == {"b": [2]}
    assert ctx.get_property_in_session("orders", "a", "s1") == 3
    assert sorted(ctx.get_list_of_sessions("orders")) == ["__default__", "s1"]
    ctx.delete_property_in_session("orders", "a", "s1")
    assert ctx.get_all_properties_in_session("orders", "s1") == {}
    ctx.delete_session("orders", "s1")
    assert [n["name"] for n in ctx.get_list_of_namespaces()] == ["orders"]
    with pytest.raises(pkg.ContextServiceError) as err:
        ctx.get_property_in_session("orders", "missing")
    assert err.value.code == "com.liveperson.context-service-sdk.data.does-not-exist"
    ctx.delete_namespace("orders")
    assert ctx.get_list_of_namespaces() == []
    with pytest.raises(ValueError, match="No valid API-key was provided"):
        pkg.Toolbelt.context_service_client("")


# -- through the gateway's real egress proxy ---------------------------------------------------------------------------
def test_python_traffic_passes_the_real_egress_proxy_only_to_allowlisted_hosts(
        tb: Any, upstreams: Any, real_egress: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg, _ = tb
    for name, value in real_egress.env().items():
        monkeypatch.setenv(name, value)
    tls_server: Upstream = upstreams(lambda seen: json_answer({"tls": True}), tls=True)
    plain: Upstream = upstreams(lambda seen: json_answer({"plain": True}))
    real_egress.allow.append("localhost")
    client = pkg.Toolbelt.http_client()
    assert client.get(f"https://localhost:{tls_server.port}/a").json() == {"tls": True}
    assert client.get(f"http://localhost:{plain.port}/b").json() == {"plain": True}
    with pytest.raises(pkg.RequestError) as err:
        client.get(f"https://127.0.0.1:{tls_server.port}/c")
    assert (err.value.code, err.value.proxy_status) == ("EPROXY", 403)
    real_egress.allow.clear()  # allowlist changes apply to the next request
    refused = client.get(f"http://localhost:{plain.port}/d")  # plain HTTP: the proxy's refusal is its answer
    assert (refused.status, "allowlist" in refused.text()) == (403, True)
    assert [s.path for s in plain.seen] == ["/b"]
