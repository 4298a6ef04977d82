"""A bot conversation over a real `fngate serve`: the fake messaging side sends signed notifications to the webhook,
a deployed Node.js echo bot answers, and the fake receives the outbound events, in order."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from chalicelib.bots.fake import FakeMessaging, bot_assigned, consumer_text
from chalicelib.domain.events import EVENTS_BY_ID, node_template
from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, FakeMessaging]]:
    fake = FakeMessaging("e2e-app", "e2e-secret").start()
    gw = start_gateway(tmp_path_factory.mktemp("bots"), {"FNGATE_DOMAIN_MAP": json.dumps(fake.domain_map())})
    yield gw, fake
    stop_gateway(gw)
    fake.close()


def test_a_conversation_with_the_echo_bot_template(setup):
    gw, fake = setup
    template = node_template(EVENTS_BY_ID["bot_connectors_custom_integration"])
    uuid = gw.deploy("echo-bot", template, eventId="bot_connectors_custom_integration")
    status, bot, _ = gw.request("POST", f"/api/account/{ACCOUNT}/bots", token=gw.creds["adminToken"], body={
        "botId": "echo", "functionUuid": uuid, "clientId": "e2e-app", "clientSecret": "e2e-secret",
        "agentId": "bot-agent"})
    assert status == 201, bot
    url = f"{gw.url}/api/account/{ACCOUNT}/bots/echo/webhook"
    assert fake.notify(url, bot_assigned("conv-1", "bot-agent", 1))[0] == 200
    for seq, text in enumerate(["one", "two", "three"], start=1):
        assert fake.notify(url, consumer_text("conv-1", seq, text), algorithm="sha256") == (200, {"queued": 1,
                                                                                             "duplicates": 0})
    assert fake.notify(url, consumer_text("conv-1", 2, "two"))[1] == {"queued": 0, "duplicates": 1}
    assert fake.notify(url, consumer_text("conv-1", 4, "x"), secret="wrong")[0] == 401
    assert fake.wait_for(4, timeout_s=30)
    texts = [r["body"]["event"]["message"] for r in fake.sent("conv-1")]
    assert texts[1:] == ["one", "two", "three"] and texts[0].startswith("Welcome")
    status, test, _ = gw.request("POST", f"/api/account/{ACCOUNT}/bots/echo/test-connection",
                                 token=gw.creds["adminToken"])
    assert status == 200 and test["ok"] is True, test
