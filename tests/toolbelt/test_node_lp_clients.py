"""The Node toolbelt under real node, part 2: the LivePerson-facing clients (Orchestrator, LpClient, CSDS,
ConversationUtil, SDEUtil, GDPRUtil) against a fake LivePerson over HTTPS through the stand-in CONNECT proxy, and the
ContextServiceClient against the real ToolbeltHost + ContextStore."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from chalicelib.clock import Clock
from chalicelib.runtime.base import Target
from chalicelib.services.context_store import ContextStore
from chalicelib.services.toolbelt_host import ToolbeltHost
from chalicelib.storage.sqlite import SqliteStore
from tests.toolbelt.fakes import ACCOUNT, APP_KEY, ConnectProxy, Pki, RpcFailure, Seen, json_answer, standard_rpc
from tests.toolbelt.node_runner import run_node

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")


def net_env(proxy: ConnectProxy, pki: Pki) -> dict[str, str]:
    return {**proxy.env(), "NODE_EXTRA_CA_CERTS": str(pki.ca)}


# -- OrchestratorClient ------------------------------------------------------------------------------------------------
def ok_invocation(seen: Seen, n: int) -> Any:
    return json_answer({"echo": seen.json()["payload"]})


def test_orchestrator_invokes_each_function_with_the_spec_request(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.invocations.update({"fn-a": ok_invocation, "fn-b": ok_invocation})
    run = run_node("""
        return await Toolbelt.OrchestratorClient().invoke(
          [{uuid: 'fn-a', payload: {n: 1}, headers: {h1: 'v1'}}, {uuid: 'fn-b', payload: 'two'}], 5000, {json: true});
    """, rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    assert [(r["uuid"], r["statusCode"], r["body"]) for r in run.value] == [
        ("fn-a", 200, {"echo": {"n": 1}}), ("fn-b", 200, {"echo": "two"})]
    invoke = next(s for s in server.seen if "/lambdas/fn-a/" in s.path)
    query = parse_qs(urlsplit(invoke.path).query)
    assert query == {"v": ["1"], "externalSystem": [f"fn-a_{ACCOUNT}}}"]}
    assert invoke.json()["headers"] == [{"key": "h1", "value": "v1"}]
    assert isinstance(invoke.json()["timestamp"], int)
    assert invoke.headers["authorization"] == "Bearer tok-1"
    assert fake.tokens[0]["client_id"] == [APP_KEY["client_id"]]
    assert ("secret.read", {"key": "lp-faas-orchestrator-app-key"}) in run.calls
    assert len(fake.tokens) == 1  # the token is reused


def test_exit_on_error_throws_at_the_first_failure(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.invocations.update({"bad": lambda seen, n: json_answer({"errorCode": "x"}, 400), "fn-b": ok_invocation})
    run = run_node("""
        await Toolbelt.OrchestratorClient().invoke([{uuid: 'bad', payload: 1}, {uuid: 'fn-b', payload: 2}], 5000);
    """, rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.error["code"] == "com.liveperson.faas.orchestrator-fn.invoke.status-code-error"
    assert run.error["statusCode"] == 400
    assert "fn-b" not in fake.counts


def test_continue_on_error_reports_failures_in_the_results(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.invocations.update({"bad": lambda seen, n: json_answer({"errorCode": "x"}, 400), "fn-b": ok_invocation})
    run = run_node("""
        return await Toolbelt.OrchestratorClient().invoke([{uuid: 'bad', payload: 1}, {uuid: 'fn-b', payload: 2}],
          5000, {errorStrategy: tb.ErrorStrategy.CONTINUE_ON_ERROR, invokeParallel: true});
    """, rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    bad, good = run.value
    assert bad["statusCode"] == 400
    assert bad["error"]["code"] == "com.liveperson.faas.orchestrator-fn.invoke.status-code-error"
    assert json.loads(bad["body"]) == {"errorCode": "x"}
    assert good["statusCode"] == 200 and "error" not in good


def test_a_502_is_retried_and_then_succeeds(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.invocations["flaky"] = lambda seen, n: json_answer({"n": n}, 502 if n == 1 else 200)
    run = run_node("return await Toolbelt.OrchestratorClient().invoke([{uuid: 'flaky', payload: {}}], 5000);",
                   rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value[0]["statusCode"] == 200
    assert json.loads(run.value[0]["body"]) == {"n": 2}
    assert fake.counts["flaky"] == 2


def test_the_deadline_ends_the_invocations_with_the_timeout_code(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp

    def slow(seen: Seen, n: int) -> Any:
        time.sleep(1.0)
        return json_answer({})

    fake.invocations["slow"] = slow  # answers after 1 s: only the 300 ms deadline makes the call fail
    run = run_node("await Toolbelt.OrchestratorClient().invoke([{uuid: 'slow', payload: {}}], 300);",
                   rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.error["code"] == "com.liveperson.faas.orchestrator-fn.invoke.timeout"
    assert run.error["message"] == "Orchestrator-FN: Invocations timed out after a deadline of 300 ms"


# -- LpClient, CsdsClient, ConversationUtil, SDEUtil, GDPRUtil ---------------------------------------------------------
def test_lp_client_retries_a_401_once_with_fresh_credentials_and_token(lp: Any, proxy: ConnectProxy,
                                                                        pki: Pki) -> None:
    fake, server = lp
    fake.routes["/api/data"] = lambda seen: (
        json_answer({"ok": True}) if seen.headers["authorization"] == "Bearer tok-2" else json_answer({}, 401))
    run = run_node("""
        const res = await Toolbelt.LpClient()(tb.LpServices.ACCOUNT_CONFIG_READ_ONLY, '/api/data', {method: 'GET'});
        return {status: res.status, body: await res.json()};
    """, rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == {"status": 200, "body": {"ok": True}}
    assert len(fake.tokens) == 2
    assert run.calls.count(("secret.read", {"key": "lp-faas-default-app-key"})) == 2
    data_calls = [s for s in server.seen if s.path == "/api/data"]
    assert [s.headers["authorization"] for s in data_calls] == ["Bearer tok-1", "Bearer tok-2"]
    assert all(s.headers.get("x-request-id") for s in data_calls)
    assert ("csds.get", {"service": "accountConfigReadOnly"}) in run.calls


def test_lp_client_reports_credentials_of_the_wrong_shape(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    _, server = lp
    run = run_node("await Toolbelt.LpClient()('msgHist', '/x', {});",
                   rpc=standard_rpc(server, {"lp-faas-default-app-key": "not-an-object"}), env=net_env(proxy, pki))
    assert run.error["code"] == "com.liveperson.faas.lp-client.credentials-wrong-format"


def test_csds_client_gets_hosts_and_reports_unknown_services() -> None:
    def rpc(method: str, params: Any) -> Any:
        if method == "csds.all":
            return [{"service": "msgHist", "host": "msg.example", "scheme": "https"}]
        if params["service"] == "msgHist":
            return {"service": "msgHist", "host": "msg.example", "scheme": "https"}
        raise RpcFailure("com.liveperson.faas.csds.domain.not-found", "no")

    run = run_node("""
        const csds = Toolbelt.CsdsClient();
        const host = await csds.get('msgHist'), again = await csds.get('msgHist'), all = await csds.getAll();
        try { await csds.get('nope'); } catch (e) { return {host, again, all, code: e.code, message: e.message}; }
    """, rpc=rpc)
    assert run.ok, run.error
    assert run.value == {"host": "msg.example", "again": "msg.example", "all": [{"msgHist": "msg.example"}],
                         "code": "com.liveperson.faas.csds.domain.not-found",
                         "message": 'CSDS-Client: Service "nope" could not be found.'}
    assert run.methods().count("csds.get") == 2  # the second msgHist lookup came from the cache


CONVERSATION = {"_metadata": {"count": 1}, "conversationHistoryRecords": [{
    "messageRecords": [
        {"type": "TEXT_PLAIN", "messageData": {"msg": {"text": "I want a refund"}}, "timeL": 1, "sentBy": "Consumer"},
        {"type": "HOSTED_FILE", "messageData": {"file": {"caption": "receipt", "relativePath": "/v1/AUTH/a/b.png"}},
         "timeL": 2, "sentBy": "Consumer"}],
    "sdes": {"events": [{"serverTimeStamp": "2", "x": 2}, {"serverTimeStamp": "1", "x": 1}]}}]}


def test_conversation_util_fetches_from_msg_hist_and_scans_keywords(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.routes[f"/messaging_history/api/account/{ACCOUNT}/conversations/conversation/search"] = (
        lambda seen: json_answer(CONVERSATION))
    run = run_node("""
        const util = Toolbelt.ConversationUtil();
        const conv = await util.getConversationById('conv-1', [tb.ConversationContentTypes.MESSAGE_RECORDS]);
        return {scan: util.scanConversationForKeywords(conv, ['refund', 'receipt']),
                sdes: Toolbelt.SDEUtil().getSDEsFromConv(conv)};
    """, rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    assert [(r["message"], r["tag"]) for r in run.value["scan"]] == [
        ("I want a refund", "keywordRef:refund"), ("receipt", "keywordRef:receipt")]
    assert [e["x"] for e in run.value["sdes"]["sdes"]["events"]] == [1, 2]
    search = next(s for s in server.seen if "conversation/search" in s.path)
    assert search.method == "POST"
    assert search.json() == {"conversationId": "conv-1", "contentToRetrieve": ["messageRecords"]}


def test_sde_util_puts_engagement_attributes_to_the_monitoring_api(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.routes[f"/api/account/{ACCOUNT}/monitoring/visitors/"] = lambda seen: (200, {}, "")
    run = run_node("await Toolbelt.SDEUtil().addSDEs([{type: tb.SDETypes.CART, total: 3}], 'vis-1', 'ses-1');",
                   rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    put = next(s for s in server.seen if "/monitoring/" in s.path)
    assert (put.method, put.path) == ("PUT", f"/api/account/{ACCOUNT}/monitoring/visitors/vis-1/visits/current/events"
                                             "?v=1&sid=ses-1")
    assert put.json() == [{"type": "cart", "total": 3}]


def test_gdpr_util_replaces_hosted_files_in_swift(lp: Any, proxy: ConnectProxy, pki: Pki) -> None:
    fake, server = lp
    fake.routes["/auth/v1.0"] = lambda seen: (200, {"X-Auth-Token": "swift-tok"}, "")
    fake.routes["/v1/AUTH/"] = lambda seen: (201, {}, "")
    run = run_node(f"return await Toolbelt.GDPRUtil().replaceConversationFiles({json.dumps(CONVERSATION)},"
                   " {username: 'u', password: 'p'});", rpc=standard_rpc(server), env=net_env(proxy, pki))
    assert run.ok, run.error
    assert run.value == ["/v1/AUTH/a/b.png"]
    auth, put = server.seen[0], server.seen[1]
    assert (auth.headers["x-auth-user"], auth.headers["x-auth-key"]) == ("u", "p")
    assert (put.method, put.headers["x-auth-token"], put.headers["content-type"]) == ("PUT", "swift-tok", "image/png")
    assert put.body.startswith(b"\x89PNG")


# -- ContextServiceClient against the real host ------------------------------------------------------------------------
@pytest.fixture
def host(tmp_path: Path) -> ToolbeltHost:
    return ToolbeltHost(ContextStore(SqliteStore(tmp_path / "ctx.db"), Clock()), None, {}, "gw.example:8443")


def test_context_client_round_trips_through_the_real_host(host: ToolbeltHost) -> None:
    target = Target(ACCOUNT, "fn-1", 1, "nodejs20", "")
    run = run_node("""
        const ctx = Toolbelt.ContextServiceClient('any-key');
        const ns = await ctx.createNamespace('orders', {ttl: 3600});
        await ctx.setPropertiesInNamespace('orders', {cart: [1, 2], user: 'ann'});
        await ctx.updatePropertiesInNamespace('orders', {user: 'bob'}, 'session-7');
        const all = await ctx.getAllPropertiesInSession('orders');
        const picked = await ctx.getSelectedPropertiesInSession('orders', ['cart', 'missing']);
        const one = await ctx.getPropertyInSession('orders', 'user', 'session-7');
        const sessions = (await ctx.getListOfSessions('orders')).sort();
        await ctx.deletePropertyInSession('orders', 'cart');
        const afterDelete = await ctx.getAllPropertiesInSession('orders');
        await ctx.deleteSession('orders', 'session-7');
        const names = (await ctx.getListOfNamespaces()).map((n) => n.name);
        let missing;
        try { await ctx.getPropertyInSession('orders', 'nope'); } catch (e) { missing = e.code; }
        await ctx.deleteNamespace('orders');
        return {ns: {name: ns.name, ttl: ns.ttlSecond, date: ns.createdAt instanceof Date}, all, picked, one, sessions,
                afterDelete, names, missing, left: await ctx.getListOfNamespaces()};
    """, rpc=lambda method, params: host(target, method, params))
    assert run.ok, run.error
    assert run.value == {"ns": {"name": "orders", "ttl": 3600, "date": True}, "all": {"cart": [1, 2], "user": "ann"},
                         "picked": {"cart": [1, 2]}, "one": "bob", "sessions": ["__default__", "session-7"],
                         "afterDelete": {"user": "ann"}, "names": ["orders"],
                         "missing": "com.liveperson.context-service-sdk.data.does-not-exist", "left": []}


def test_context_client_needs_an_api_key_and_reports_sdk_codes(host: ToolbeltHost) -> None:
    target = Target(ACCOUNT, "fn-1", 1, "nodejs20", "")
    run = run_node("""
        let noKey;
        try { Toolbelt.ContextServiceClient(''); } catch (e) { noKey = e.message; }
        try { await Toolbelt.ContextServiceClient({apiKey: 'k'}).createNamespace('faas'); }
        catch (e) { return {noKey, name: e.name, code: e.code}; }
    """, rpc=lambda method, params: host(target, method, params))
    assert run.ok, run.error
    assert run.value == {"noKey": "No valid API-key was provided", "name": "SDKError",
                         "code": "com.liveperson.context-service-sdk.parameter.invalid"}
