"""Fault: PostgreSQL crashes (SIGKILL) and comes back, under the scale-mode cluster.

The cluster of this module runs on a private PostgreSQL server (``PrivatePostgres``): the
machine's server is shared by every test run and must never be restarted."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.scale.actors import ok, sha256_of, sign_in, upload, wait_job
from tests.scale.cluster import Cluster, PrivatePostgres, wait_until
from tests.studio.speech import speech
from tests.studio.wallets import Wallet


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivatePostgres]:
    pg = PrivatePostgres(tmp_path_factory.mktemp("pg")).start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="module")
def cluster(
    postgres: PrivatePostgres, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    c = Cluster.start(tmp_path_factory.mktemp("scale-pg"), database_url=postgres.url)
    try:
        yield c
    finally:
        c.stop()


def _ready(client: httpx.Client) -> tuple[int, dict[str, bool]]:
    r = client.get("/readyz", timeout=30)
    return r.status_code, {b["name"]: b["ok"] for b in r.json()["backends"]}


def test_database_crash_and_restart(
    cluster: Cluster,
    postgres: PrivatePostgres,
    clients: tuple[httpx.Client, httpx.Client],
    speech_cache: Any,
) -> None:
    a, b = clients
    creator = Wallet.new()
    hc = sign_in(cluster, a, b, creator, roles=("creator",))
    data = speech("slt", 3, speech_cache)
    first = upload(a, hc, data)
    refs = [first, upload(b, hc, speech("slt", 3, speech_cache, start=3))]
    body = {"kind": "train", "upload_ids": refs, "name": "Pg", "method": "baseline"}
    trained = wait_job(b, hc, ok(a.post("/v1/jobs", json=body, headers=hc), 201)["id"])
    assert trained["status"] == "succeeded", trained

    postgres.kill()  # a crash: no clean shutdown, recovery from the WAL on restart
    try:
        status, backends = _ready(a)
        assert status == 503 and backends.pop("database") is False
        assert all(backends.values()), backends  # only the database is reported down
        r = b.get("/v1/me", headers=hc)
        assert r.status_code >= 500, r.text  # nothing answers from a stale cache
        assert a.get("/healthz").status_code == 200  # the process itself is alive
    finally:
        postgres.start()
    for client in (a, b):
        wait_until(lambda c=client: _ready(c)[0] == 200, "ready again", 30)

    # Everything committed before the crash is there; the session still works on both.
    assert ok(a.get("/v1/me", headers=hc))["address"] == creator.address
    assert ok(b.get("/v1/me", headers=hc))["address"] == creator.address
    listed = {u["id"]: u for u in ok(b.get("/v1/uploads", headers=hc))}
    assert set(refs) <= set(listed)
    url = ok(a.get(f"/v1/uploads/{first}/url", headers=hc))["url"]
    assert sha256_of(url) == hashlib.sha256(data).hexdigest() == listed[first]["sha256"]
    assert ok(b.get(f"/v1/jobs/{trained['id']}", headers=hc))["status"] == "succeeded"
    # and the workers pick up new work against the restarted database
    again = ok(a.post("/v1/jobs", json={**body, "name": "Pg 2"}, headers=hc), 201)
    assert wait_job(b, hc, again["id"], timeout_s=120)["status"] == "succeeded"


def test_database_outage_is_reported_as_unavailable(
    cluster: Cluster, postgres: PrivatePostgres, clients: tuple[httpx.Client, httpx.Client]
) -> None:
    a, b = clients
    headers = sign_in(cluster, a, b, Wallet.new())
    postgres.kill()
    try:
        r = b.get("/v1/me", headers=headers)
    finally:
        postgres.start()
        wait_until(lambda: _ready(a)[0] == 200 and _ready(b)[0] == 200, "ready again", 30)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "database_unavailable"
