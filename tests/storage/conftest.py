"""Storage tests use the SeaweedFS plugin's fixtures (``s3_server``, ``s3_bucket``,
``object_store``)."""

from __future__ import annotations

import pytest

SEAWEED_PLUGIN = "tests.services.seaweed"


def pytest_configure(config: pytest.Config) -> None:
    # The root conftest is meant to list the plugin in `pytest_plugins`; until it does, load it
    # here (registering it twice would start a second weed server).
    if not config.pluginmanager.has_plugin(SEAWEED_PLUGIN):
        config.pluginmanager.import_plugin(SEAWEED_PLUGIN)
