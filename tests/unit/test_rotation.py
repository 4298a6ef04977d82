"""Master-key rotation with the local keyring: nothing is lost, even when interrupted half-way."""

from __future__ import annotations

import json

import pytest

from chalicelib.cli import main
from chalicelib.crypto.envelope import LocalKeyring
from chalicelib.services.identity import load_signer
from chalicelib.services.rotation import rotate_master_key
from chalicelib.storage.base import Query
from tests.conftest import ACCOUNT, OTHER_ACCOUNT

SECRETS = {f"s{i}": {"n": i, "token": f"value-{i}"} for i in range(6)}


class Crash(Exception):
    pass


def crash_after(n: int):
    """A ``before_write`` hook that lets ``n`` records through, then fails like a killed process."""
    seen: list[str] = []

    def hook(record) -> None:
        if len(seen) >= n:
            raise Crash(f"stopped after {n} records")
        seen.append(record.sk)

    return hook


@pytest.fixture
def svc(make_services):
    services = make_services(domain_map={}, public_host="gw.example.com")
    for account in (ACCOUNT, OTHER_ACCOUNT):
        services.identity.bootstrap(account)
        services.provisioning.provision(account)
        for key, value in SECRETS.items():
            services.secrets.ensure(account, key, value)
    return services


def fresh(make_services):
    """A new process on the same data dir: keys and records read from disk only."""
    return make_services(domain_map={}, public_host="gw.example.com")


def all_values(services) -> dict[tuple[str, str], object]:
    out = {}
    for account in (ACCOUNT, OTHER_ACCOUNT):
        for record in services.store.query(Query("secret", account)):
            out[(account, record.sk)] = services.secrets.read_for_function(account, record.sk)["value"]
    return out


def key_ids_in_use(services) -> set[str]:
    kids = set()
    for account in (ACCOUNT, OTHER_ACCOUNT):
        kids |= {r.data["envelope"]["kid"] for r in services.store.query(Query("secret", account))}
        kids |= {r.data["sealed"]["kid"] for r in services.store.query(Query("appkey", account)) if r.data["sealed"]}
    kids.add(services.store.get("system", "system", "signing-key").data["envelope"]["kid"])
    return kids


def test_rotation_rewraps_every_data_key_and_the_old_key_can_go(svc, make_services):
    # GIVEN secrets, retrievable app keys and the signing key, all under the first master key
    before, old = all_values(svc), svc.keyring.current_id
    # WHEN the master key is rotated and the old key removed
    report = rotate_master_key(svc.store, svc.keyring, remove_old_keys=True)
    # THEN every record was re-wrapped: per account 8 secrets and 3 app keys (bootstrap, two provisioned),
    # plus the signing key
    assert report.complete and report.rewrapped == 2 * (len(SECRETS) + 2 + 3) + 1
    assert key_ids_in_use(svc) == {report.new_key_id} and report.removed_keys == [old]
    # AND a new process with only the new key file reads everything, the app keys and the signing key included
    again = fresh(make_services)
    assert all_values(again) == before
    assert again.keyring.key_ids() == [report.new_key_id]
    key, secret = again.identity.ensure_app_key(ACCOUNT, "lp-faas-orchestrator-app-key", [])
    assert again.identity.app_token(ACCOUNT, key.client_id, secret)["access_token"]
    assert load_signer(again.store, again.keyring).sign({"x": 1}, 60)


def test_rotation_moves_data_keys_only(svc):
    before = svc.store.get("secret", ACCOUNT, "s1").data["envelope"]
    rotate_master_key(svc.store, svc.keyring)
    after = svc.store.get("secret", ACCOUNT, "s1").data["envelope"]
    assert after["ct"] == before["ct"] and after["wk"] != before["wk"] and after["kid"] != before["kid"]


def test_an_interrupted_rotation_loses_nothing_and_a_rerun_completes(svc, make_services):
    before, old = all_values(svc), svc.keyring.current_id
    # WHEN the rotation dies after 5 records
    with pytest.raises(Crash):
        rotate_master_key(svc.store, svc.keyring, before_write=crash_after(5))
    # THEN records sit under both keys, and every one still opens (in this process and a new one)
    assert len(key_ids_in_use(svc)) == 2 and old in key_ids_in_use(svc)
    assert all_values(svc) == before == all_values(fresh(make_services))
    # WHEN it is resumed, even crashing once more on the way
    with pytest.raises(Crash):
        rotate_master_key(svc.store, svc.keyring, resume=True, before_write=crash_after(3))
    report = rotate_master_key(svc.store, svc.keyring, resume=True, remove_old_keys=True)
    # THEN it completes without adding a key, and the old key goes only now
    assert report.complete and report.new_key_id is None and report.removed_keys == [old]
    assert key_ids_in_use(svc) == {svc.keyring.current_id}
    assert all_values(fresh(make_services)) == before


def test_rerunning_without_resume_rotates_again_and_still_completes(svc, make_services):
    before = all_values(svc)
    with pytest.raises(Crash):
        rotate_master_key(svc.store, svc.keyring, before_write=crash_after(2))
    report = rotate_master_key(svc.store, svc.keyring)
    assert report.complete and key_ids_in_use(svc) == {report.new_key_id}
    assert len(svc.keyring.key_ids()) == 3  # kept: removal is a separate, explicit step
    assert all_values(fresh(make_services)) == before


def test_a_concurrent_update_during_rotation_wins(svc):
    # GIVEN an admin who updates s0 just as the rotation is about to rewrite it
    def update_first(record) -> None:
        if record.kind == "secret" and record.sk == "s0" and record.pk == ACCOUNT:
            svc.secrets.update_for_function(ACCOUNT, "s0", "updated meanwhile")

    report = rotate_master_key(svc.store, svc.keyring, before_write=update_first)
    # THEN the update is kept (sealed under the new key already) and nothing is left behind
    assert report.complete
    assert svc.secrets.read_for_function(ACCOUNT, "s0")["value"] == "updated meanwhile"
    assert key_ids_in_use(svc) == {report.new_key_id}


def test_a_running_server_seals_under_a_key_rotated_by_another_process(svc):
    # GIVEN `fngate admin` (its own keyring instance on the same key dir) adds a key
    admin_keyring = LocalKeyring(svc.settings.key_dir)
    rotate_master_key(svc.store, admin_keyring)
    # WHEN the server writes a secret afterwards
    svc.secrets.update_for_function(ACCOUNT, "s1", "new")
    # THEN it used the new key, so removing old keys cannot strand it
    assert svc.store.get("secret", ACCOUNT, "s1").data["envelope"]["kid"] == admin_keyring.current_id


def test_unreadable_records_are_reported_and_block_key_removal(svc):
    record = svc.store.get("secret", ACCOUNT, "s2")
    broken = {**record.data, "envelope": {**record.data["envelope"], "kid": "missing"}}
    svc.store.put("secret", ACCOUNT, "s2", broken)
    report = rotate_master_key(svc.store, svc.keyring, remove_old_keys=True)
    assert report.failed == [f"secret/{ACCOUNT}/s2"] and not report.complete and report.removed_keys == []
    assert len(svc.keyring.key_ids()) == 2


def test_cli_rotates_and_prints_a_report(svc, capsys):
    old = svc.keyring.current_id
    assert main(["admin", "rotate-master-key", "--data-dir", str(svc.settings.data_dir), "--remove-old-keys"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["complete"] and report["removedKeys"] == [old] and report["rewrapped"] > 0
    assert svc.secrets.read_for_function(ACCOUNT, "s3")["value"] == SECRETS["s3"]
