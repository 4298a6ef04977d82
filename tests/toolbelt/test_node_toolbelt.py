"""The Node toolbelt under real node, part 1: exports, SecretClient, HTTPClient / fetch / MTLSClient through a
CONNECT proxy (the stand-in and the gateway's real one) to local HTTP(S) servers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest

from tests.toolbelt.fakes import ConnectProxy, Pki, RpcFailure, Seen, Upstream, json_answer
from tests.toolbelt.node_runner import run_node

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
SECRET_CODES = ["not-found", "invalid-format", "forbidden", "op-failed", "op-timed-out", "auth-failed"]


def net_env(proxy: ConnectProxy, pki: Pki) -> dict[str, str]:
    return {**proxy.env(), "NODE_EXTRA_CA_CERTS": str(pki.ca)}


# -- exports -----------------------------------------------------------------------------------------------------------
def test_package_exports_the_spec_names_under_both_package_names() -> None:
    run = run_node("""
        const v2 = require('core-functions-toolbelt');
        return {keys: Object.keys(tb).sort(), same: v2 === tb, msgHist: tb.LpServices.MSG_HIST,
                strategy: tb.ErrorStrategy.CONTINUE_ON_ERROR, cart: tb.SDETypes.CART,
                info: tb.ConversationContentTypes.INFO, notFound: tb.ErrorCodes.Secret.NotFound,
                factories: Object.getOwnPropertyNames(tb.Toolbelt).filter((n) => typeof tb.Toolbelt[n] === 'function')};
    """)
    assert run.ok, run.error
    assert {"Toolbelt", "LpServices", "ErrorCodes", "ConversationContentTypes", "SDETypes",
            "ErrorStrategy"} <= set(run.value["keys"])
    assert run.value["same"] is True
    assert (run.value["msgHist"], run.value["strategy"], run.value["cart"], run.value["info"]) == (
        "msgHist", "ContinueOnError", "cart", "info")
    assert run.value["notFound"] == "com.liveperson.faas.secret.not-found"
    assert {"SecretClient", "HTTPClient", "LpClient", "OrchestratorClient", "ContextServiceClient", "CsdsClient",
            "ConversationUtil", "SDEUtil", "GDPRUtil", "MTLSClient"} <= set(run.value["factories"])


# -- SecretClient ------------------------------------------------------------------------------------------------------
def test_read_secret_returns_the_hosts_answer() -> None:
    run = run_node("return await Toolbelt.SecretClient().readSecret('api-token');",
                   rpc={"secret.read": lambda p: {"key": p["key"], "value": {"token": "abc"}}})
    assert run.ok, run.error
    assert run.value == {"key": "api-token", "value": {"token": "abc"}}
    assert run.calls == [("secret.read", {"key": "api-token"})]


@pytest.mark.parametrize("suffix", SECRET_CODES)
def test_read_secret_passes_the_hosts_error_code_through(suffix: str) -> None:
    code = f"com.liveperson.faas.secret.{suffix}"
    run = run_node("await Toolbelt.SecretClient().readSecret('k');",
                   rpc={"secret.read": RpcFailure(code, "There is no secret k for this account")})
    assert not run.ok
    assert run.error["code"] == code
    assert run.error["component"] == "SecretClient"
    assert run.error["message"] == "SecretClient: There is no secret k for this account"


def test_an_rpc_failure_without_a_secret_code_is_op_failed() -> None:
    run = run_node("await Toolbelt.SecretClient().readSecret('k');",
                   rpc={"secret.read": RpcFailure("com.fngate.rpc.failed", "pipe closed")})
    assert run.error["code"] == "com.liveperson.faas.secret.op-failed"
    assert "pipe closed" in run.error["message"]


def test_a_slow_host_answer_times_out_with_op_timed_out() -> None:
    def slow(params: Any) -> Any:
        time.sleep(0.4)
        return {"key": "k", "value": 1}

    run = run_node("await Toolbelt.SecretClient().readSecret('k', {timeout: 100});", rpc={"secret.read": slow})
    assert run.error["code"] == "com.liveperson.faas.secret.op-timed-out"


def test_update_secret_sends_key_and_value_and_checks_system_and_size_first() -> None:
    run = run_node("""
        const client = Toolbelt.SecretClient();
        const codes = [];
        for (const args of [{key: 'LIVEPERSON_DEFAULT_APP_KEY', value: 1}, {key: 'big', value: 'x'.repeat(20000)}]) {
          try { await client.updateSecret(args); } catch (e) { codes.push(e.code); }
        }
        const circular = {}; circular.self = circular;
        try { await client.updateSecret({key: 'c', value: circular}); } catch (e) { codes.push(e.code); }
        return {codes, updated: await client.updateSecret({key: 'refresh', value: {t: 2}})};
    """, rpc={"secret.update": lambda p: {"key": p["key"], "value": p["value"]}})
    assert run.ok, run.error
    assert run.value["codes"] == ["com.liveperson.faas.secret.forbidden", "com.liveperson.faas.secret.invalid-format",
                                  "com.liveperson.faas.secret.invalid-format"]
    assert run.value["updated"] == {"key": "refresh", "value": {"t": 2}}
    assert run.calls == [("secret.update", {"key": "refresh", "value": {"t": 2}})]


def test_reads_are_fresh_by_default_and_an_opt_in_cache_is_refreshed_by_updates() -> None:
    values = iter(range(1, 100))
    run = run_node("""
        const fresh = Toolbelt.SecretClient();
        const a = (await fresh.readSecret('k')).value, b = (await fresh.readSecret('k')).value;
        const cached = Toolbelt.SecretClient({cache: {ttl: 60000}});
        const c = (await cached.readSecret('k')).value, d = (await cached.readSecret('k')).value;
        await cached.updateSecret({key: 'k', value: 'new'});
        const e = (await cached.readSecret('k')).value;
        const f = (await cached.readSecret('k', {useCache: false})).value;
        return [a, b, c, d, e, f];
    """, rpc={"secret.read": lambda p: {"key": "k", "value": next(values)},
              "secret.update": lambda p: {"key": p["key"], "value": p["value"]}})
    assert run.ok, run.error
    assert run.value == [1, 2, 2, 2, "new", 3]  # the cache is per process: the fresh reads filled it


# -- HTTPClient and fetch through the proxy ----------------------------------------------------------------------------
def test_http_client_gets_json_over_https_through_a_connect_tunnel(upstreams: Any, proxy: ConnectProxy,
                                                                   pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({"path": seen.path}), tls=True)
    run = run_node(f"""
        const http = Toolbelt.HTTPClient();
        return await http({{uri: '{server.url}/items', qs: {{q: 'a b'}}, json: true}});
    """, env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == {"path": "/items?q=a%20b"}
    assert proxy.log.requests == [("CONNECT", server.host, "fn:tok-123")]


def test_http_client_posts_json_to_plain_http_in_absolute_form(upstreams: Any, proxy: ConnectProxy,
                                                               pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({"got": seen.json()}, 201))
    run = run_node(f"""
        const res = await Toolbelt.HTTPClient().post({{uri: '{server.url}/things', body: {{a: 1}}, json: true,
                                                     resolveWithFullResponse: true}});
        return {{status: res.statusCode, body: res.body}};
    """, env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == {"status": 201, "body": {"got": {"a": 1}}}
    assert proxy.log.requests == [("POST", f"{server.url}/things", "fn:tok-123")]
    assert server.seen[0].headers["content-type"] == "application/json"
    assert "proxy-authorization" not in server.seen[0].headers


def test_http_client_rejects_non_2xx_unless_simple_is_false(upstreams: Any, proxy: ConnectProxy, pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({"error": "nope"}, 404), tls=True)
    run = run_node(f"""
        const http = Toolbelt.HTTPClient();
        const loose = await http({{uri: '{server.url}/x', json: true, simple: false, resolveWithFullResponse: true}});
        try {{ await http.get('{server.url}/x', {{json: true}}); }}
        catch (e) {{ return {{loose: loose.statusCode, name: e.name, status: e.statusCode, error: e.error}}; }}
    """, env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == {"loose": 404, "name": "StatusCodeError", "status": 404, "error": {"error": "nope"}}


def test_a_host_the_proxy_refuses_is_a_request_error(upstreams: Any, proxy: ConnectProxy, pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({}), tls=True)
    proxy.log.deny.add("127.0.0.1")
    run = run_node(f"await Toolbelt.HTTPClient()('{server.url}/x');", env=net_env(proxy, pki))
    assert run.error["name"] == "RequestError"
    assert run.error["cause"]["code"] == "EPROXY"
    assert run.error["cause"]["proxyStatus"] == 403
    assert server.seen == []


def test_every_redirect_hop_goes_through_the_proxy(upstreams: Any, proxy: ConnectProxy, pki: Pki) -> None:
    target: Upstream = upstreams(lambda seen: (200, {}, "landed"))
    first: Upstream = upstreams(lambda seen: (302, {"Location": f"{target.url}/end"}, ""), tls=True)
    run = run_node(f"return await Toolbelt.HTTPClient()('{first.url}/start');", env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == "landed"
    assert proxy.log.targets() == [first.host, f"{target.url}/end"]


def test_http_client_timeout_is_a_request_error(upstreams: Any, proxy: ConnectProxy, pki: Pki) -> None:
    def slow(seen: Seen) -> Any:
        time.sleep(1.0)
        return 200, {}, "late"

    server: Upstream = upstreams(slow)
    run = run_node(f"await Toolbelt.HTTPClient()({{uri: '{server.url}/slow', timeout: 150}});",
                   env=net_env(proxy, pki))
    assert run.error["name"] == "RequestError"
    assert run.error["cause"]["code"] == "ETIMEDOUT"


def test_toolbelt_fetch_uses_the_proxy_and_returns_a_response(upstreams: Any, proxy: ConnectProxy, pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({"echo": seen.json(), "ct": seen.headers["content-type"]}),
                                 tls=True)
    run = run_node(f"""
        const res = await tb.fetch('{server.url}/f', {{method: 'POST', body: JSON.stringify({{n: 1}}),
                                                      headers: {{'content-type': 'application/json'}}}});
        return {{status: res.status, ok: res.ok, body: await res.json(), type: res.headers.get('content-type')}};
    """, env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == {"status": 200, "ok": True, "body": {"echo": {"n": 1}, "ct": "application/json"},
                         "type": "application/json"}
    assert proxy.log.targets() == [server.host]


def test_the_egress_unix_socket_is_used_when_no_proxy_variable_is_set(upstreams: Any, unix_proxy: Any,
                                                                      pki: Pki) -> None:
    proxy, path = unix_proxy
    server: Upstream = upstreams(lambda seen: (200, {}, "via unix"), tls=True)
    run = run_node(f"return await Toolbelt.HTTPClient()('{server.url}/u');",
                   env={"FNGATE_EGRESS_SOCKET": path, "FNGATE_EGRESS_TOKEN": "tok-123",
                        "NODE_EXTRA_CA_CERTS": str(pki.ca)})
    assert run.ok, run.error
    assert run.value == "via unix"
    assert proxy.log.requests == [("CONNECT", server.host, "fn:tok-123")]


# -- MTLSClient --------------------------------------------------------------------------------------------------------
def test_mtls_client_presents_the_client_certificate_through_the_proxy(upstreams: Any, proxy: ConnectProxy,
                                                                       pki: Pki) -> None:
    server: Upstream = upstreams(lambda seen: json_answer({"hi": "there"}), tls=True, client_ca=True)
    bundle = {name: Path(getattr(pki, attr)).read_text() for name, attr in
              (("cert", "client_cert"), ("key", "client_key"), ("ca", "ca"))}
    run = run_node(f"""
        const client = Toolbelt.MTLSClient({json.dumps(bundle)});
        return await client.post('{server.url}/secure', {{}}, {{a: 1}}, {{json: true, timeout: 5000}});
    """, env=proxy.env())
    assert run.ok, run.error
    assert run.value["statusCode"] == 200 and run.value["body"] == {"hi": "there"}
    assert server.seen[0].client_cert is not None
    assert proxy.log.targets() == [server.host]


def test_mtls_client_rejects_a_malformed_certificate() -> None:
    run = run_node("Toolbelt.MTLSClient({cert: 'nope', key: 'nope'});")
    assert run.error["code"] == "com.liveperson.faas.mtls.invalid-cert"


# -- through the gateway's real egress proxy ---------------------------------------------------------------------------
def test_toolbelt_traffic_passes_the_real_egress_proxy_only_to_allowlisted_hosts(upstreams: Any, real_egress: Any,
                                                                                 pki: Pki) -> None:
    tls_server: Upstream = upstreams(lambda seen: json_answer({"tls": True}), tls=True)
    plain: Upstream = upstreams(lambda seen: json_answer({"plain": True}))
    real_egress.allow.append("localhost")
    run = run_node(f"""
        const http = Toolbelt.HTTPClient();
        const a = await http({{uri: 'https://localhost:{tls_server.port}/a', json: true}});
        const b = await (await tb.fetch('http://localhost:{plain.port}/b')).json();
        try {{ await http('https://127.0.0.1:{tls_server.port}/c'); }}
        catch (e) {{ return {{a, b, refused: e.cause.proxyStatus}}; }}
    """, env={**real_egress.env(), "NODE_EXTRA_CA_CERTS": str(pki.ca)})
    assert run.ok, run.error
    assert run.value == {"a": {"tls": True}, "b": {"plain": True}, "refused": 403}
    assert [s.path for s in tls_server.seen + plain.seen] == ["/a", "/b"]


# -- SFClient (jsforce, preinstalled) ------------------------------------------------------------------------------
def test_sf_client_queries_salesforce_through_the_proxy_with_the_access_token(upstreams: Any, proxy: ConnectProxy,
                                                                              pki: Pki) -> None:
    records = {"totalSize": 1, "done": True, "records": [{"attributes": {"type": "Account"}, "Id": "001A"}]}
    server: Upstream = upstreams(lambda seen: json_answer(records))
    run = run_node(f"""
        const conn = Toolbelt.SFClient().connectToSalesforce({{loginUrl: '{server.url}', accessToken: 'sf-token'}});
        const res = await conn.query('SELECT Id FROM Account');
        return res.records.map(r => r.Id);
    """, env=net_env(proxy, pki))
    assert run.ok, (run.error, run.stderr[-2000:])
    assert run.value == ["001A"]
    seen = server.seen[0]
    assert seen.path.startswith("/services/data/") and "/query?q=SELECT" in seen.path
    assert seen.headers["authorization"] == "Bearer sf-token"
    assert proxy.log.requests and proxy.log.requests[0][0] == "GET"  # through the egress proxy
