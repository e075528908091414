"""Rate limits and body-size limits on write routes; shared across processes through Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from studio.app import create_app
from studio.db.migrate import upgrade
from studio.services import build_services
from studio.settings import Settings
from tests.studio.wallets import Wallet, sign_in

REDIS_URL = os.environ.get("TIMBRE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def test_sign_in_attempts_are_rate_limited_per_caller(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_auth_per_min=5)
    codes = [client.get("/v1/auth/nonce").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    r = client.get("/v1/auth/nonce")
    assert r.json()["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["retry-after"]) <= 60
    assert r.headers["x-request-id"]
    # reads that are not sign-in are not counted
    assert client.get("/healthz").status_code == 200


def test_write_routes_are_rate_limited_per_credential(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client(rate_limit_writes_per_min=3)
    alice = sign_in(client, Wallet.new())
    bob = sign_in(client, Wallet.new())
    statuses = [
        client.post("/v1/me/roles", json={"role": "fan"}, headers=alice).status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    # another caller has a budget of their own
    assert client.post("/v1/me/roles", json={"role": "fan"}, headers=bob).status_code == 200


def test_oversized_json_bodies_are_refused(make_client: Callable[..., TestClient]) -> None:
    client = make_client(max_body_bytes=10_000)
    big = {"message": "x" * 20_000, "signature": "0x00"}
    r = client.post("/v1/auth/siwe", json=big)
    assert (r.status_code, r.json()["error"]["code"]) == (413, "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"message": "'
        yield b"x" * 20_000
        yield b'", "signature": "0x00"}'

    r = client.post("/v1/auth/siwe", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # small bodies pass through untouched
    r = client.post("/v1/auth/siwe", json={"message": "hi", "signature": "0x00"})
    assert r.status_code == 422


def test_limits_are_shared_across_processes_with_redis(tmp_path: Path) -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:  # a named requirement: fail, never skip
        pytest.fail(f"Redis at {REDIS_URL} is required: {exc}")
    apps = []
    for i in range(2):
        settings = Settings(
            environment="test",
            var_dir=tmp_path / f"v{i}",
            secret_key="x" * 40,
            rate_limit_auth_per_min=4,
            rate_limit_redis_url=REDIS_URL,
            public_url="http://testserver",
        )
        settings.var_dir.mkdir()
        upgrade(settings.resolved_database_url)
        apps.append(TestClient(create_app(services=build_services(settings))))
    # any credential identifies the caller; a fresh one keeps earlier runs' counters out
    caller = {"X-API-Key": f"tk_{uuid.uuid4().hex}"}
    with apps[0] as first, apps[1] as second:
        seen = [
            (first if i % 2 == 0 else second).get("/v1/auth/nonce", headers=caller).status_code
            for i in range(6)
        ]
    assert seen == [200, 200, 200, 200, 429, 429]


def test_a_down_limit_store_is_a_clear_503(
    make_client: Callable[..., TestClient], tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        url = f"redis://127.0.0.1:{port}/0"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                redis.Redis.from_url(url).ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        client = make_client(rate_limit_redis_url=url)
        assert client.get("/v1/auth/nonce").status_code == 200
    finally:
        server.kill()
        server.wait()
    r = client.get("/v1/auth/nonce")
    assert (r.status_code, r.json()["error"]["code"]) == (503, "rate_limiter_unavailable")
    assert "TIMBRE_RATE_LIMIT_REDIS_URL" in r.json()["error"]["message"]
    ready = client.get("/readyz").json()
    assert {b["name"]: b["ok"] for b in ready["backends"]}["rate_limits"] is False
