"""Request limits on every write route: a body-size cap (uploads have their own, streamed) and
fixed-window rate limits per caller.

Counters live in Redis when ``TIMBRE_RATE_LIMIT_REDIS_URL`` is set, so several API processes
share one budget per caller; the embedded single-process default keeps them in memory."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import anyio
import redis
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from studio.settings import Settings

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
STREAMED_BODY_PATHS = ("/v1/uploads",)  # capped by the upload intake itself
WINDOW_S = 60


class Counter(Protocol):
    def hit(self, key: str, window_s: int) -> int:
        """Count one request for ``key`` in the current window; returns the count so far."""


class MemoryCounter:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, window_s: int) -> int:
        window = int(self._clock()) // window_s
        with self._lock:
            if len(self._counts) > 100_000:  # drop old windows rather than grow without bound
                self._counts = {k: v for k, v in self._counts.items() if v[0] == window}
            seen_window, count = self._counts.get(key, (window, 0))
            count = count + 1 if seen_window == window else 1
            self._counts[key] = (window, count)
            return count


class RedisCounter:
    def __init__(self, url: str, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._clock = clock

    def hit(self, key: str, window_s: int) -> int:
        window = int(self._clock()) // window_s
        name = f"timbre:rl:{key}:{window}"
        pipe = self._redis.pipeline()
        pipe.incr(name)
        pipe.expire(name, window_s * 2)
        count, _ = pipe.execute()
        return int(count)


@dataclass(frozen=True)
class Rule:
    bucket: str
    limit: int


def _rule(method: str, path: str, settings: Settings) -> Rule | None:
    if path.startswith("/v1/auth/"):
        return Rule("auth", settings.rate_limit_auth_per_min)
    if path.startswith("/v1/access"):
        return Rule("access", settings.rate_limit_access_per_min)
    if method in WRITE_METHODS:
        return Rule("write", settings.rate_limit_writes_per_min)
    return None


def _caller(scope: Scope) -> str:
    """Who is asking: the credential if one is presented (hashed: keys never reach Redis),
    else the client address."""
    headers = dict(scope["headers"])
    credential = headers.get(b"authorization") or headers.get(b"x-api-key")
    if credential:
        return "c:" + hashlib.sha256(credential).hexdigest()[:24]
    client = scope.get("client")
    return "ip:" + (client[0] if client else "unknown")


async def _send_error(
    send: Send, status: int, code: str, message: str, extra: list[tuple[bytes, bytes]]
) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "detail": {}}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class LimitsMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings, counter: Counter) -> None:
        self.app = app
        self.settings = settings
        self.counter = counter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        rule = _rule(method, path, self.settings)
        if rule is not None:
            try:
                key = f"{rule.bucket}:{_caller(scope)}"
                if isinstance(self.counter, MemoryCounter):
                    count = self.counter.hit(key, WINDOW_S)
                else:  # network I/O: never on the event loop (a hung Redis would stall it)
                    count = await anyio.to_thread.run_sync(self.counter.hit, key, WINDOW_S)
            except redis.RedisError:
                # Without its counters the service cannot enforce limits: refuse, and say why.
                await _send_error(
                    send,
                    503,
                    "rate_limiter_unavailable",
                    "The request-limit store (TIMBRE_RATE_LIMIT_REDIS_URL) is unavailable; "
                    "retry shortly.",
                    [(b"retry-after", b"5")],
                )
                return
            if count > rule.limit:
                retry = WINDOW_S - int(time.time()) % WINDOW_S
                await _send_error(
                    send,
                    429,
                    "rate_limited",
                    "Too many requests; slow down and retry shortly.",
                    [(b"retry-after", str(retry).encode())],
                )
                return
        if method in WRITE_METHODS and not path.startswith(STREAMED_BODY_PATHS):
            buffered = await self._buffered_body(scope, receive, send)
            if buffered is None:
                return
            receive = buffered
        await self.app(scope, receive, send)

    async def _buffered_body(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """Read a (small) request body whole, refusing it past the cap; None if refused."""
        cap = self.settings.max_body_bytes

        async def refuse() -> None:
            await _send_error(
                send,
                413,
                "body_too_large",
                f"Request bodies are limited to {cap} bytes.",
                [(b"connection", b"close")],
            )

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > cap:
            await refuse()
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > cap:
                await refuse()
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        return replay


def make_counter(settings: Settings) -> Counter:
    if settings.rate_limit_redis_url:
        return RedisCounter(settings.rate_limit_redis_url)
    return MemoryCounter()
