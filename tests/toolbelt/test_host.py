"""ToolbeltHost dispatch and account isolation, the ContextStore's rules, and the toolbelts inside real workers."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.clock import FrozenClock
from chalicelib.domain.errors import SecretForbidden, SecretNotFound
from chalicelib.runtime.base import Target
from chalicelib.services import context_store as cs
from chalicelib.services.context_store import ContextStore
from chalicelib.services.toolbelt_host import RpcError, ToolbeltHost, parse_domain
from chalicelib.storage.sqlite import SqliteStore
from chalicelib.toolbelt import NODE_PATH, PYTHON_PATH

ACCOUNT, OTHER = "le12345678", "le87654321"


def target(account: str = ACCOUNT, runtime: str = "nodejs20", code: str = "", uuid: str = "fn-1") -> Target:
    return Target(account_id=account, function_uuid=uuid, manifest_version=1, runtime=runtime, code=code)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> ContextStore:
    return ContextStore(SqliteStore(tmp_path / "ctx.db"), clock)


def secrets_for(account_id: str, function_uuid: str = "") -> dict[str, Any]:
    """A stand-in for SecretService.rpc_methods: one secret per account, named after it."""

    def read(params: dict[str, Any]) -> Any:
        if params.get("key") != f"secret-of-{account_id}":
            raise SecretNotFound(key=params.get("key"))
        return {"key": params["key"], "value": account_id}

    def update(params: dict[str, Any]) -> Any:
        raise SecretForbidden(key=params.get("key"))

    return {"secret.read": read, "secret.update": update}


@pytest.fixture
def host(store: ContextStore) -> ToolbeltHost:
    return ToolbeltHost(store, secrets_for, {"msgHist": "msg.example.com", "Swift": "http://127.0.0.1:9000/x",
                                             "sentinel": "elsewhere.example"}, "gw.example:8443", "https")


def rpc_error(call: Any) -> RpcError:
    with pytest.raises(RpcError) as err:
        call()
    return err.value


# -- dispatch ----------------------------------------------------------------------------------------------------------
def test_csds_resolves_own_services_to_the_gateway_and_others_from_the_map(host: ToolbeltHost) -> None:
    assert host(target(), "csds.get", {"service": "faasGW"}) == {"service": "faasGW", "host": "gw.example:8443",
                                                                 "scheme": "https"}
    assert host(target(), "csds.get", {"service": "Sentinel"})["host"] == "gw.example:8443"  # the gateway wins
    assert host(target(), "csds.get", {"service": "msgHist"}) == {"service": "msgHist", "host": "msg.example.com",
                                                                  "scheme": "https"}
    assert host(target(), "csds.get", {"service": "swift"})["scheme"] == "http"
    services = {e["service"] for e in host(target(), "csds.all", {})}
    assert {"faasGW", "faasUI", "sentinel", "agentVep", "msgHist", "Swift"} <= services
    err = rpc_error(lambda: host(target(), "csds.get", {"service": "nope"}))
    assert (err.code, err.message) == ("com.liveperson.faas.csds.domain.not-found",
                                       'Service "nope" could not be found.')


@pytest.mark.parametrize(("value", "expected"), [
    ("host.example", ("https", "host.example")), ("host.example:8080", ("https", "host.example:8080")),
    ("http://127.0.0.1:9000/path", ("http", "127.0.0.1:9000")), ("HTTPS://x.example", ("https", "x.example"))])
def test_domain_map_values_may_carry_scheme_and_port(value: str, expected: tuple[str, str]) -> None:
    assert parse_domain(value) == expected


def test_unknown_methods_and_bad_params_are_rpc_errors(host: ToolbeltHost) -> None:
    assert rpc_error(lambda: host(target(), "fs.read", {})).code == "com.liveperson.faas.handler.unknown-rpc"
    assert rpc_error(lambda: host(target(), "context.dropAll", {})).code == "com.liveperson.faas.handler.unknown-rpc"
    assert rpc_error(lambda: host(target(), "context.getListOfNamespaces", ["x"])).code == (
        "com.liveperson.context-service-sdk.parameter.invalid")


def test_secret_calls_use_the_targets_account_and_map_domain_errors(host: ToolbeltHost) -> None:
    assert host(target(), "secret.read", {"key": f"secret-of-{ACCOUNT}", "accountId": OTHER}) == {
        "key": f"secret-of-{ACCOUNT}", "value": ACCOUNT}
    err = rpc_error(lambda: host(target(), "secret.read", {"key": f"secret-of-{OTHER}"}))
    assert (err.code, err.message) == ("com.liveperson.faas.secret.not-found",
                                       f"There is no secret secret-of-{OTHER} for this account")
    assert rpc_error(lambda: host(target(), "secret.update", {"key": "k", "value": 1})).code == (
        "com.liveperson.faas.secret.forbidden")


def test_secrets_without_a_secret_host_fail_with_op_failed(store: ContextStore) -> None:
    bare = ToolbeltHost(store, None, {}, "")
    assert rpc_error(lambda: bare(target(), "secret.read", {"key": "k"})).code == "com.liveperson.faas.secret.op-failed"
    assert rpc_error(lambda: bare(target(), "csds.get", {"service": "faasGW"})).code == (
        "com.liveperson.faas.csds.domain.not-found")


def test_an_unexpected_secret_failure_is_op_failed_without_details(store: ContextStore) -> None:
    def broken(account_id: str, function_uuid: str) -> dict[str, Any]:
        return {"secret.read": lambda params: 1 / 0}

    err = rpc_error(lambda: ToolbeltHost(store, broken, {}, "gw")(target(), "secret.read", {"key": "k"}))
    assert (err.code, err.message) == ("com.liveperson.faas.secret.op-failed", "The secret operation failed")


def test_context_data_is_isolated_per_account(host: ToolbeltHost) -> None:
    host(target(ACCOUNT), "context.setPropertiesInNamespace", {"namespace": "ns", "properties": {"k": "mine"}})
    host(target(OTHER), "context.createNamespace", {"namespace": "ns", "accountId": ACCOUNT})
    assert host(target(OTHER), "context.getAllPropertiesInSession", {"namespace": "ns", "accountId": ACCOUNT}) == {}
    host(target(OTHER), "context.deleteNamespace", {"namespace": "ns", "accountId": ACCOUNT})
    assert host(target(ACCOUNT), "context.getPropertyInSession", {"namespace": "ns", "propertyName": "k"}) == "mine"
    assert [n["name"] for n in host(target(OTHER), "context.getListOfNamespaces", {})] == []


# -- the context store -------------------------------------------------------------------------------------------------
def test_sessions_expire_ttl_seconds_after_their_last_write(store: ContextStore, clock: FrozenClock) -> None:
    store.create_namespace(ACCOUNT, "short", ttl=60)
    store.set_properties(ACCOUNT, "short", {"a": 1}, "s1")
    clock.advance(50)
    store.set_properties(ACCOUNT, "short", {"b": 2}, "s1")  # a write renews the document
    clock.advance(50)
    assert store.get_all(ACCOUNT, "short", "s1") == {"a": 1, "b": 2}
    clock.advance(11)
    assert store.get_all(ACCOUNT, "short", "s1") == {}
    assert store.list_sessions(ACCOUNT, "short") == []
    assert store.set_properties(ACCOUNT, "short", {"c": 3}, "s1") == {"c": 3}  # expired data does not come back


def test_namespace_rules(store: ContextStore) -> None:
    for bad in ("faas", "sde", "", "has space", "a/b", "x" * 101, None):
        with pytest.raises(cs.ContextInvalid):
            store.create_namespace(ACCOUNT, bad)
    for ttl in (0, -5, 1.5, "60", True, cs.TTL_MAX_S + 1):
        with pytest.raises(cs.ContextInvalid, match="TTL"):
            store.create_namespace(ACCOUNT, "n1", ttl=ttl)
    first = store.create_namespace(ACCOUNT, "n1", ttl=30)
    assert store.create_namespace(ACCOUNT, "n1", ttl=99) == first  # idempotent; the TTL stays
    store.delete_namespace(ACCOUNT, "")  # SDK behaviour: nothing to do
    with pytest.raises(cs.ContextNotFound):
        store.get_all(ACCOUNT, "never-made")


def test_deleting_a_namespace_deletes_its_sessions(store: ContextStore) -> None:
    store.set_properties(ACCOUNT, "auto", {"a": 1}, "s1")  # saving creates the namespace
    store.set_properties(ACCOUNT, "auto", {"a": 2}, "s2")
    store.delete_namespace(ACCOUNT, "auto")
    store.create_namespace(ACCOUNT, "auto")
    assert store.list_sessions(ACCOUNT, "auto") == []


def test_a_session_document_is_bounded(store: ContextStore) -> None:
    store.set_properties(ACCOUNT, "big", {"a": "x" * 1000})
    with pytest.raises(cs.DocumentTooLarge) as err:
        store.set_properties(ACCOUNT, "big", {"b": "y" * cs.DOCUMENT_MAX_CHARS})
    assert err.value.code == "com.liveperson.context-service-sdk.unknown"
    assert store.get_all(ACCOUNT, "big") == {"a": "x" * 1000}


def test_namespaces_per_account_are_bounded(store: ContextStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cs, "NAMESPACES_PER_ACCOUNT", 2)
    store.create_namespace(ACCOUNT, "one")
    store.create_namespace(ACCOUNT, "two")
    with pytest.raises(cs.ContextInvalid, match="At most 2"):
        store.create_namespace(ACCOUNT, "three")


# -- inside real workers -----------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def executor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, ToolbeltHost]]:
    if os.geteuid() != 0 or not shutil.which("node"):
        pytest.skip("real workers need root (for the sandbox) and node")
    from chalicelib.runtime.local.executor import LocalExecutor

    store = ContextStore(SqliteStore(tmp_path_factory.mktemp("ctx") / "ctx.db"))
    host = ToolbeltHost(store, secrets_for, {}, "gw.example")
    ex = LocalExecutor(timeout_s=10.0, rpc_handler=host, toolbelt_node_path=NODE_PATH,
                       toolbelt_python_path=PYTHON_PATH, spares=0)
    yield ex, host
    ex.close()


NODE_FUNCTION = """async function lambda(input) {
  const { Toolbelt } = require('lp-faas-toolbelt');
  const ctx = Toolbelt.ContextServiceClient('key');
  await ctx.setPropertiesInNamespace('shared', {by: 'node', n: input.payload});
  const { value } = await Toolbelt.SecretClient().readSecret('secret-of-' + process.env.X_LIVEPERSON_BRAND_ID);
  return {props: await ctx.getAllPropertiesInSession('shared'), secret: value};
}"""

PYTHON_FUNCTION = """def lambda_handler(input, callback):
    from fngate_toolbelt import Toolbelt
    ctx = Toolbelt.context_service_client("key")
    ctx.update_properties_in_namespace("shared", {"seen_by": "python"})
    callback(None, ctx.get_all_properties_in_session("shared"))
"""


def test_node_and_python_functions_share_their_accounts_context_through_the_bridge(executor: Any) -> None:
    ex, _ = executor
    node, python = target(code=NODE_FUNCTION, uuid="fn-node"), target(code=PYTHON_FUNCTION, runtime="python3.11",
                                                                       uuid="fn-py")
    other = target(OTHER, code=PYTHON_FUNCTION, runtime="python3.11", uuid="fn-other")
    for t in (node, python, other):
        ex.deploy(t)
    event = {"headers": [], "payload": 7}
    assert ex.invoke(node, event).result == {"props": {"by": "node", "n": 7}, "secret": ACCOUNT}
    assert ex.invoke(python, event).result == {"by": "node", "n": 7, "seen_by": "python"}
    assert ex.invoke(other, event).result == {"seen_by": "python"}  # another account sees only its own
