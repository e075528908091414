"""Scale-mode fixtures: one cluster per test module (module docstring of ``cluster``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.scale.cluster import Cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    c = Cluster.start(tmp_path_factory.mktemp("scale"))
    try:
        yield c
    finally:
        c.stop()


@pytest.fixture(scope="module")
def clients(cluster: Cluster) -> Iterator[tuple[httpx.Client, httpx.Client]]:
    """One client per API process, each talking to that process's own port."""
    a = httpx.Client(base_url=cluster.api_urls[0], timeout=60)
    b = httpx.Client(base_url=cluster.api_urls[1], timeout=60)
    with a, b:
        yield a, b


@pytest.fixture(scope="module")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech")
