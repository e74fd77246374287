"""`cmi ui` starts a real `dagster dev` that serves the whole lineage, from partner files to the plan."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from orchestration import settings

pytestmark = pytest.mark.integration

ASSET_NODES_QUERY = "{ assetNodes { assetKey { path } groupName } }"
STARTUP_TIMEOUT_S = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def running_ui(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CMI_DUCKDB_PATH": str(tmp_path / "w.duckdb"),
        "CMI_DATA_DIR": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }
    cmi = Path(sys.executable).with_name("cmi")
    log = (tmp_path / "ui.log").open("w")
    process = subprocess.Popen(
        [str(cmi), "ui", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while True:
            try:
                nodes = graphql(port, ASSET_NODES_QUERY)["data"]["assetNodes"]
                if nodes:
                    break
            except (urllib.error.URLError, ConnectionError, KeyError, TypeError):
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"dagster dev did not serve assets: {(tmp_path / 'ui.log').read_text()[-3000:]}")
            time.sleep(2)
        yield port, nodes
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_ui_serves_every_group_of_the_lineage(running_ui):
    _, nodes = running_ui
    keys = {"/".join(node["assetKey"]["path"]) for node in nodes}
    groups = {node["groupName"] for node in nodes}
    assert {"feeds", "warehouse", "quality", "forecasts", "replenishment"} <= groups
    assert {
        "raw/sales",
        "marts/fct_sales_daily",
        "quality/partner_data_gate",
        "forecasts/demand_forecast",
        "replenishment/replenishment_plan",
    } <= keys


# Per group, assets a stakeholder must find on that group's lineage page.
GROUP_ASSETS = {
    "feeds": ["stock_snapshots", "sales", "feed_files", "partner_items"],
    "warehouse": ["fct_sales_daily", "fct_inventory_daily", "dim_partner"],
    "quality": ["partner_data_gate"],
    "forecasts": ["demand_forecast"],
    "replenishment": ["replenishment_plan", "nightly_report"],
}


def _dismiss_welcome_dialog(driver) -> None:
    from selenium.webdriver.common.by import By

    for button in driver.find_elements(By.XPATH, "//button[normalize-space()='Skip']"):
        button.click()


def _wait_for_text(driver, texts: list[str], timeout_s: float = 60) -> str:
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout_s
    while True:
        body = driver.find_element(By.TAG_NAME, "body").text
        if all(text in body for text in texts) or time.monotonic() > deadline:
            return body
        time.sleep(1)


def test_browser_shows_every_group_and_its_assets(running_ui, browser):
    port, _ = running_ui
    browser.get(f"http://127.0.0.1:{port}/asset-groups")
    body = _wait_for_text(browser, list(GROUP_ASSETS))
    _dismiss_welcome_dialog(browser)
    assert "Global asset lineage" in body
    for group in GROUP_ASSETS:
        assert group in body
    if os.environ.get("CMI_UPDATE_SCREENSHOTS"):
        time.sleep(2)
        browser.save_screenshot(str(settings.PROJECT_ROOT / "data" / "screenshots" / "lineage.png"))
    # The lineage canvas only draws nodes inside the viewport; the group's list view names every asset.
    for group, assets in GROUP_ASSETS.items():
        browser.get(f"http://127.0.0.1:{port}/locations/cmi/asset-groups/{group}/list")
        body = _wait_for_text(browser, assets)
        missing = [asset for asset in assets if asset not in body]
        assert not missing, f"group {group} page does not show {missing}"
