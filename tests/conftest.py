"""Test tiers by folder, the order files start in, shared fixtures; and tests see only the settings they set: a
developer's own cmi.env must not leak into them."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

# The tier of a test is the folder it lives in: `pytest -m unit` runs the fast pure tests alone.
TIERS = {
    "unit": "pure tests: no dbt, no Dagster run, no server (fast)",
    "dbt": "tests that run dbt on a small hand-written warehouse",
    "integration": "in-process Dagster materializations, `cmi` and `dagster` processes, the UI in a browser (slow)",
}
TESTS_DIR = Path(__file__).resolve().parent
# The path of the `webhook` fixture's URL: a token, as real webhook URLs carry; no output may show it.
SECRET_WEBHOOK_PATH = "/services/T000/s3cr3t-token"


def pytest_configure(config):
    for tier, description in TIERS.items():
        config.addinivalue_line("markers", f"{tier}: {description}")


# The files that take longest, longest first. `make test` hands whole files to the workers in collection order, so
# these start at once on separate workers and the many short files fill in around them.
LONGEST_FIRST = (
    "integration/test_backfill.py",
    "integration/test_nightly_end_to_end.py",
    "integration/test_ui_serves_asset_graph.py",
)


def _under_tests(item) -> str:
    """The item's file relative to tests/ ("" for a file elsewhere, as pytest may collect beside tests/)."""
    path = Path(item.path).resolve()
    return path.relative_to(TESTS_DIR).as_posix() if path.is_relative_to(TESTS_DIR) else ""


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        path = _under_tests(item)
        return LONGEST_FIRST.index(path) if path in LONGEST_FIRST else len(LONGEST_FIRST)

    for item in items:
        folder = _under_tests(item).split("/")[0]
        if folder in TIERS:
            item.add_marker(getattr(pytest.mark, folder))
    items.sort(key=rank)


@pytest.fixture
def webhook():
    """A real HTTP endpoint on loopback that records what is posted to it."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{SECRET_WEBHOOK_PATH}", received
    server.shutdown()


@pytest.fixture(autouse=True, scope="session")
def _no_local_config_file():
    previous = os.environ.get("CMI_CONFIG_FILE")
    os.environ["CMI_CONFIG_FILE"] = os.devnull
    yield
    if previous is None:
        os.environ.pop("CMI_CONFIG_FILE", None)
    else:
        os.environ["CMI_CONFIG_FILE"] = previous
