"""Every event's template, in Node.js and in Python, deploys and runs on the real local executor."""

from __future__ import annotations

import pytest

from chalicelib.config import Settings
from chalicelib.domain.events import EVENTS
from chalicelib.services.container import build_services
from chalicelib.services.functions import FunctionChanges
from chalicelib.services.invocations import Call


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory):
    built = build_services(Settings(data_dir=tmp_path_factory.mktemp("tpl"), jobs="inline",
                                    function_timeout_s=10))
    yield built
    built.close()


@pytest.mark.parametrize("runtime", ["nodejs20", "python3.11"])
def test_every_event_template_deploys_and_runs(svc, runtime):
    account = f"tpl-{runtime[:4]}"
    creds = svc.identity.bootstrap(account)
    dev = svc.identity.authenticate(account, f"Bearer {creds['developerToken']}")
    for event in EVENTS:
        fn = svc.functions.create(dev, FunctionChanges(name=f"t-{event.event_id[:40]}", event_id=event.event_id,
                                                       runtime=runtime))
        svc.deployments.deploy(dev, fn.uuid)
        assert svc.functions.get(dev, fn.uuid).state.value == "Productive", event.event_id
        outcome = svc.invocations.invoke(dev, fn.uuid, Call(body=fn.sample_payload))
        assert outcome.result is not None, event.event_id
        assert outcome.logs and outcome.logs[0]["message"] == "invoked", (event.event_id, outcome.logs)
