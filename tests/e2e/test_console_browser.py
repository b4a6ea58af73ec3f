"""The console in a real headless Chromium (Debian chromium + chromium-driver)
against the running app and SIPp calls: log in, watch a call appear on the
Now page and leave it, raise an emergency announcement and find it in the
next call's journey, set an A/B split and find both variants in journeys.
Screenshots of each page go to docs/console/.

Selenium calls block, so they run in threads while SIPp calls run on the loop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select, WebDriverWait

from agi_app.core.controls import AbSplit
from agi_app.core.numbers import normalise
from agi_app.settings import PROJECT_ROOT
from tests.conftest import AppProcess, admin, place_call, wait_journey

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]
SHOTS = PROJECT_ROOT / "docs" / "console"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebDriver]:
    os.environ["SE_OFFLINE"] = "true"  # Selenium Manager makes no network calls
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    profile = tmp_path_factory.mktemp("chromium")
    for arg in (
        "--headless=new",
        "--no-sandbox",  # required as root
        "--disable-dev-shm-usage",
        "--remote-debugging-pipe",
        "--window-size=1280,1400",
        f"--user-data-dir={profile}",
    ):
        opts.add_argument(arg)
    driver = webdriver.Chrome(
        service=Service("/usr/bin/chromedriver", port=_free_port()), options=opts
    )
    driver.set_page_load_timeout(20)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def base(app: AppProcess) -> str:
    return f"http://{app.settings.bind_address}:{app.settings.admin_port}"


def until(driver: WebDriver, holds: Callable[[WebDriver], Any], timeout: float = 15) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(holds)


def text(driver: WebDriver, element_id: str) -> str:
    return str(driver.find_element(By.ID, element_id).text)


def open_now(driver: WebDriver, app: AppProcess) -> None:
    """The Now page, logged in, with its live feed connected."""
    driver.get(base(app) + "/now")
    if driver.current_url.endswith("/login"):
        driver.find_element(By.ID, "token").send_keys(app.settings.admin_token.get_secret_value())
        driver.find_element(By.ID, "login-button").click()
    until(driver, lambda d: d.find_element(By.ID, "feed-status").get_attribute("data-live"))


async def test_log_in_and_watch_a_call_come_and_go(
    app: AppProcess, browser: WebDriver, tmp_path: Path
) -> None:
    await asyncio.to_thread(open_now, browser, app)
    assert "热线运营台" in browser.title or "热线运营台" in browser.page_source
    call = asyncio.create_task(place_call(tmp_path, "100", "13900008001", "wait 4; 1"))
    try:
        await asyncio.to_thread(
            until, browser, lambda d: "100" in text(d, "by-line") and text(d, "live-total") != "0"
        )
        await asyncio.to_thread(browser.save_screenshot, str(SHOTS / "now.png"))
    finally:
        result = await call
    assert result.successful == 1, result.output
    await asyncio.to_thread(until, browser, lambda d: text(d, "live-total") == "0")


async def test_announcement_from_the_console_reaches_the_next_call(
    app: AppProcess, browser: WebDriver, db: Any, tmp_path: Path
) -> None:
    await asyncio.to_thread(open_now, browser, app)

    def announce(d: WebDriver) -> None:
        d.find_element(By.ID, "announce-text").send_keys("系统维护通知")
        d.find_element(By.ID, "announce-lines").send_keys("100")
        d.find_element(By.ID, "announce-set").click()
        until(d, lambda d: "系统维护通知" in text(d, "active-controls"))

    await asyncio.to_thread(announce, browser)
    status, body = await admin(app.settings, "GET", "/api/controls")
    assert status == 200
    ident = body["controls"]["announcement"]["id"]
    try:
        since = dt.datetime.now(dt.UTC)
        result = await place_call(tmp_path, "100", "13900008002", "wait 7; 1")
        assert result.successful == 1, result.output
        journey = await wait_journey(db, "13900008002", since)
        assert journey["announcement"] == ident
        assert journey["steps"][0]["node"] == "emergency-announcement"
        await asyncio.to_thread(browser.save_screenshot, str(SHOTS / "now-announcement.png"))
    finally:
        await asyncio.to_thread(browser.find_element(By.ID, "announce-clear").click)
    await asyncio.to_thread(
        until, browser, lambda d: "系统维护通知" not in text(d, "active-controls")
    )


def callers_for_both_variants(split: AbSplit) -> tuple[str, str]:
    """A caller who gets A and one who gets B (by the same hash the app uses)."""
    seen: dict[str, str] = {}
    for n in range(1000):
        number = f"1390000{9000 + n}"
        variant, _flow = split.variant(normalise(number) or number)
        seen.setdefault(variant, number)
        if len(seen) == 2:
            return seen["A"], seen["B"]
    raise AssertionError("no caller for one of the variants")


async def test_ab_split_from_the_console_shows_both_variants(
    app: AppProcess, browser: WebDriver, db: Any, tmp_path: Path
) -> None:
    assert app.flows_dir is not None
    second = app.flows_dir / "demo_ivr_b.yaml"
    demo = (app.flows_dir / "demo_ivr.yaml").read_text(encoding="utf-8")
    second.write_text(
        demo.replace("id: demo_ivr", "id: demo_ivr_b")
        .replace("default: true", "default: false")
        .replace('entry_numbers: ["100"]', "entry_numbers: []"),
        encoding="utf-8",
    )
    try:
        status, body = await admin(app.settings, "POST", "/admin/reload")
        assert status == 200, body
        await asyncio.to_thread(open_now, browser, app)

        def split(d: WebDriver) -> None:
            until(d, lambda d: "demo_ivr_b" in text(d, "ab-flow-b"))
            Select(d.find_element(By.ID, "ab-line")).select_by_value("100")
            Select(d.find_element(By.ID, "ab-flow-a")).select_by_value("demo_ivr")
            Select(d.find_element(By.ID, "ab-flow-b")).select_by_value("demo_ivr_b")
            share = d.find_element(By.ID, "ab-share")
            share.clear()
            share.send_keys("0.5")
            d.find_element(By.ID, "ab-set").click()
            until(d, lambda d: "A/B 100" in text(d, "active-controls"))

        await asyncio.to_thread(split, browser)
        a, b = callers_for_both_variants(AbSplit("100", "demo_ivr", "demo_ivr_b", 0.5))
        since = dt.datetime.now(dt.UTC)
        results = await asyncio.gather(
            place_call(tmp_path, "100", a, "wait 1; 1"),
            place_call(tmp_path, "100", b, "wait 1; 1"),
        )
        assert all(r.successful == 1 for r in results), [r.output for r in results]
        ja, jb = await wait_journey(db, a, since), await wait_journey(db, b, since)
        assert (ja["ab_variant"], ja["flow"]) == ("A:demo_ivr", "demo_ivr")
        assert (jb["ab_variant"], jb["flow"]) == ("B:demo_ivr_b", "demo_ivr_b")
        await asyncio.to_thread(screenshots, browser, app)
    finally:
        await admin(app.settings, "POST", "/api/ab/clear", {"line": "100"})
        second.unlink()
        await admin(app.settings, "POST", "/admin/reload")


def screenshots(d: WebDriver, app: AppProcess) -> None:
    """The Flows and Month pages (traffic from the calls above), and Now on a phone."""
    d.get(base(app) + "/flows")
    until(d, lambda d: "demo_ivr" in text(d, "flow-select"))
    Select(d.find_element(By.ID, "flow-select")).select_by_value("demo_ivr")
    until(d, lambda d: "greeting" in text(d, "traffic"))  # demo_ivr's, with the calls above
    until(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#variants tbody tr"))
    node = d.execute_script(
        "return [...document.querySelectorAll('#graph svg g.node')]"
        ".find(g => g.dataset.node === 'greeting')"
    )
    d.execute_script("arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", node)
    until(d, lambda d: "greeting" in text(d, "node-detail"))
    d.save_screenshot(str(SHOTS / "flows.png"))
    d.get(base(app) + "/month")
    until(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#month-chart svg rect"))
    d.save_screenshot(str(SHOTS / "month.png"))
    d.set_window_size(390, 844)
    try:
        d.get(base(app) + "/now")
        until(d, lambda d: d.find_element(By.ID, "feed-status").get_attribute("data-live"))
        d.save_screenshot(str(SHOTS / "now-phone.png"))
    finally:
        d.set_window_size(1280, 1400)
