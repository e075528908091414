"""Rate limits and body-size limits on write routes; shared across processes through Redis."""

from __future__ import annotations

import os
import re
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


def _write_routes(client: TestClient) -> list[tuple[str, str]]:
    """Every write route of the app, path parameters filled with a well-formed unknown id."""
    from studio.limits import WRITE_METHODS
    from tests.studio.test_authz_matrix import app_routes

    found = []
    for route in sorted(app_routes(client.app)):  # type: ignore[arg-type]
        method, path = route.split(" ", 1)
        if method not in WRITE_METHODS:
            continue
        path = re.sub(
            r"\{([a-z_]+)\}",
            lambda m: "1" if "number" in m.group(1) else str(uuid.uuid4()),
            path,
        )
        found.append((method, path))
    return found


def test_every_write_route_is_rate_limited_and_body_capped(
    make_client: Callable[..., TestClient],
) -> None:
    """The limits sit in front of routing, so no write route can be added outside them: each
    write route of the app, called twice by one caller on a budget of one, answers 429 the
    second time; every write route that buffers its body refuses one over the cap with 413."""
    from studio.limits import STREAMED_BODY_PATHS

    client = make_client(
        rate_limit_writes_per_min=1,
        rate_limit_auth_per_min=1,
        rate_limit_access_per_min=1,
        max_body_bytes=1_000,
    )
    routes = _write_routes(client)
    assert len(routes) >= 20, routes  # the walk really sees the included routers
    for i, (method, path) in enumerate(routes):
        caller = {"Authorization": f"Bearer not-a-session-{i}"}  # a bucket of its own
        first = client.request(method, path, headers=caller, json={})
        assert first.status_code != 429, (method, path, first.text)
        second = client.request(method, path, headers=caller, json={})
        assert (second.status_code, second.json()["error"]["code"]) == (429, "rate_limited"), (
            method,
            path,
            second.text,
        )
        assert second.headers["retry-after"].isdigit()
    for i, (method, path) in enumerate(routes):
        if path.startswith(STREAMED_BODY_PATHS):
            continue  # the upload intake caps these as they stream (tests/studio/test_uploads.py)
        big = client.request(
            method,
            path,
            headers={"Authorization": f"Bearer big-body-{i}", "Content-Type": "application/json"},
            content=b'{"pad": "' + b"x" * 2_000 + b'"}',
        )
        assert (big.status_code, big.json()["error"]["code"]) == (413, "body_too_large"), (
            method,
            path,
            big.text,
        )
