"""Tests see only the settings they set: a developer's own cmi.env must not leak into them."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _no_local_config_file():
    previous = os.environ.get("CMI_CONFIG_FILE")
    os.environ["CMI_CONFIG_FILE"] = os.devnull
    yield
    if previous is None:
        os.environ.pop("CMI_CONFIG_FILE", None)
    else:
        os.environ["CMI_CONFIG_FILE"] = previous
