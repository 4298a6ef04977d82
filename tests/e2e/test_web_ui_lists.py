"""Long lists in the web UI: an account whose store holds more functions than the API lets one create (seeded
straight into its SQLite store) lists them a page of 100 rows at a time, with a button for the next page that
keeps the keyboard on the list."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.config import Settings
from chalicelib.domain.models import Function, Manifest
from chalicelib.domain.states import State
from chalicelib.services.container import build_store
from chalicelib.services.repository import FunctionRepository
from tests.e2e.conftest import ACCOUNT, Gateway, start_gateway, stop_gateway
from tests.e2e.test_web_ui import LAUNCH_ARGS, check_section, login_with_token

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium")
if CHROMIUM is None:
    pytest.skip("Debian's chromium is not installed (make test installs it)", allow_module_level=True)
expect = sync_api.expect
DRAFTS, LIVE = 230, 120


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    gw = start_gateway(tmp_path_factory.mktemp("gw"))
    store = build_store(replace(Settings.from_env(), data_dir=gw.data_dir))
    repo = FunctionRepository(store)
    for i in range(DRAFTS + LIVE):
        manifest = Manifest(id=str(uuid.uuid4()), version=1, runtime="nodejs20", code="function lambda() {}\n")
        repo.create(Function(account_id=ACCOUNT, uuid=str(uuid.uuid4()), name=f"many-{i:03d}", description="seeded",
                             event_id=None, state=State.DRAFT if i < DRAFTS else State.PRODUCTIVE, manifest=manifest))
    store.close()
    yield gw
    stop_gateway(gw)


def test_long_lists_show_a_page_of_rows_at_a_time(gateway: Gateway, tmp_path: Any) -> None:
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        page = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=gateway.url).new_page()
        page.errors = []
        page.on("pageerror", lambda err: page.errors.append(str(err)))
        login_with_token(page, gateway.creds["developerToken"])
        page.goto("/#/functions")
        drafts = page.get_by_role("region", name=f"Draft ({DRAFTS})")
        expect(drafts.get_by_role("row")).to_have_count(100 + 1)  # and its header row
        more = drafts.get_by_role("button", name=re.compile(r"Show 100 more in Draft \(100 of 230 shown\)"))
        more.focus()
        page.keyboard.press("Enter")
        expect(drafts.get_by_role("row")).to_have_count(200 + 1)
        expect(drafts.get_by_role("button", name=re.compile(r"Show 30 more in Draft"))).to_be_focused()
        page.keyboard.press("Enter")
        expect(drafts.get_by_role("row")).to_have_count(DRAFTS + 1)
        expect(drafts.get_by_role("button", name=re.compile("Show"))).to_have_count(0)
        expect(drafts.get_by_role("row").nth(200 + 1).get_by_role("link")).to_be_focused()  # the first row it added
        check_section(page, tmp_path, "functions-many")
        # filtering works on all of them, not only the rows drawn
        expect(page.get_by_role("region", name=f"Productive / Modified ({LIVE})")).to_be_visible()
        page.get_by_label("Filter").fill("many-22")  # many-220 … many-229, whether their rows were drawn or not
        expect(page.get_by_role("region", name="Draft (10)").get_by_role("row")).to_have_count(10 + 1)
        page.goto("/#/deployments")
        expect(page.get_by_role("button", name=re.compile(r"Show 20 more deployed functions \(100 of 120"))) \
            .to_be_visible()
        browser.close()
