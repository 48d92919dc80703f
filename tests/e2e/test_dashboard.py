"""The operators' dashboard in a real headless browser (Debian's chromium driven by Playwright):
it shows the online share by channel and the transfers on their three-day path, and follows new
events without a reload."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Page, async_playwright
from playwright.async_api import TimeoutError as PlaywrightTimeoutError

from contracts.subjects import Subjects
from runtime.settings import RuntimeSettings
from tests.conftest import Servers
from tests.e2e import test_arrears as arrears
from tests.e2e import test_injury as injury
from tests.e2e.working_lives import NANCHANG
from tests.seeding import seed_transfer_histories, young_citizen
from tests.stack import Stack, running_stack, served_over_http

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
async def stack(servers: Servers, subject_root: str) -> AsyncIterator[Stack]:
    async with running_stack(servers, subject_root, services=("enrolment", "transfer"), regions=("36", "44")) as s:
        yield s


@pytest.fixture
async def gateway_url(stack: Stack) -> AsyncIterator[str]:
    async with served_over_http(stack) as url:
        yield url


async def shows(page: Page, selector: str, text: str) -> None:
    """Wait until the element's text contains `text`; on a timeout, say what it showed instead."""
    try:
        await page.wait_for_function(
            "([s, t]) => (document.querySelector(s)?.textContent || '').includes(t)",
            arg=[selector, text],
            timeout=30_000,
        )
    except PlaywrightTimeoutError:
        shown = await page.evaluate("(s) => document.querySelector(s)?.textContent", selector)
        status = await page.evaluate("() => document.querySelector('#status')?.textContent")
        raise AssertionError(f"{selector} shows {shown!r}, not {text!r} (status: {status!r})") from None


async def test_the_dashboard_shows_the_online_share_and_transfers_and_follows_new_events(
    stack: Stack, gateway_url: str, tmp_path: Path
) -> None:
    token = stack.token()["Authorization"].removeprefix("Bearer ")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{gateway_url}/dashboard#token={token}&region=36&every=300")
            await shows(page, "#status", "live")
            await shows(page, "#online-share", "no services yet")

            # A counter registration, then a transfer applied online that waits on the old region.
            registered = await stack.client.post(
                "/v1/regions/36/employers",
                json={
                    "credit_code": NANCHANG,
                    "name": "Nanchang Steel",
                    "division_code": "360102",
                    "industry_code": "C3110",
                    "established_on": "2024-06-03",
                },
                headers={**stack.token(), "X-Channel": "counter"},
            )
            assert registered.status_code == 201, registered.text
            await shows(page, "#channels", "counter")
            await shows(page, "#online-count", "0 online of 1 handled")

            worker = young_citizen(77)
            await seed_transfer_histories(
                stack.services[("transfer", "44")].resources.pool,
                stack.services[("transfer", "36")].resources.pool,
                [worker],
                RuntimeSettings().pseudonym_salt.encode(),
            )
            await stack.stop("transfer", "44")  # the case stays open on its path
            applied = await stack.client.post(
                "/v1/regions/36/transfers",
                json={"citizen_id": worker, "from_region": "44"},
                headers={**stack.token(), "X-Channel": "mobile_app"},
            )
            assert applied.status_code == 201, applied.text
            case_id = applied.json()["case_id"]

            await shows(page, "#transfers", case_id[:8])
            await shows(page, "#transfers", "on track")
            await shows(page, "#online-share", "50.00 %")
            await shows(page, "#channels", "mobile_app (online)")

            # How the region runs: the services of this stack answer, the others are not started;
            # a message that is not a letter reaches transfer-36's inbox and becomes a dead letter.
            await shows(page, "#services", "transferready0")  # service, state, parked (cells run together)
            await shows(page, "#services", "arrearsnot answering")
            await shows(page, "#behind-summary", "none: every consumer keeps up")
            await shows(page, "#views-summary", "none: every read model keeps up")
            await shows(page, "#dead-summary", "none")
            nc = stack.services[("transfer", "36")].resources.nc
            await nc.jetstream().publish(
                Subjects(stack.settings.subject_root).inbox("36", "transfer", "not_a_letter"), b"{}"
            )
            await shows(page, "#dead-summary", "1 held on this NATS")
            await shows(page, "#dead", "transfer-36-inbox1")
            await page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            await browser.close()


async def test_without_a_token_the_page_says_how_to_open_it(stack: Stack, gateway_url: str) -> None:
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            response = await page.goto(f"{gateway_url}/dashboard")
            assert response is not None and response.status == 200, response and await response.text()
            await shows(page, "#status", "yiwang token operator")
        finally:
            await browser.close()


async def test_the_dashboard_shows_arrears_under_supervision_and_settlement_totals(
    servers: Servers, subject_root: str, tmp_path: Path
) -> None:
    async with (
        running_stack(
            servers, subject_root, services=("arrears", "injury"), regions=("36",), hospital_keys=injury.KEYS
        ) as stack,
        served_over_http(stack) as url,
        async_playwright() as p,
    ):
        await injury.prepared(stack)
        await injury.determination(stack, "RD-001", injury.WORKER, recognise=True)
        posted = await injury.signed(
            stack, "POST", injury.SETTLEMENTS.format("H36001"), injury.posting(stack, "S-DASH-1")
        )
        assert posted.status_code < 300, posted.text
        lead = await arrears.receive(stack, arrears.complaint(stack, (arrears.ZHANG, 680_000)))
        stack.clock.advance(days=15)  # past 5 working days unanswered: supervised by the city

        browser = await p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            page = await browser.new_page()
            token = stack.token()["Authorization"].removeprefix("Bearer ")
            await page.goto(f"{url}/dashboard#token={token}&region=36&every=300")
            await shows(page, "#settlement-count", "1 settled")
            await shows(page, "#hospitals", "H36001")
            await shows(page, "#arrears-summary", "1 under supervision")
            await shows(page, "#supervised", lead["lead_id"][:8])
            await page.screenshot(path=str(tmp_path / "dashboard-arrears-injury.png"), full_page=True)
        finally:
            await browser.close()
