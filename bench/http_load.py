"""Closed-loop HTTP load shared by the benchmarks: ``clients`` concurrent keep-alive aiohttp
clients, each sending its next request as soon as the last one answered, for ``duration``
seconds after a 1 s warm-up.

aiohttp, not httpx: httpx's client costs so much CPU per request that on two shared cores it,
not the servers, set the pace (both apps of bench/api.py measured ~590/s)."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

import aiohttp

Request = Callable[[aiohttp.ClientSession, int], Awaitable[bool]]
"""(session, client number) -> whether the answer was the expected one."""


@dataclass(frozen=True)
class Run:
    latencies_ms: list[float]  # sorted, answered-as-expected requests only
    failed: int
    elapsed_s: float

    @property
    def per_s(self) -> float:
        return round(len(self.latencies_ms) / self.elapsed_s, 1)

    def percentile_ms(self, q: float) -> float | None:
        ms = self.latencies_ms
        if not ms:
            return None
        if q == 0.5:
            return round(statistics.median(ms), 2)
        return round(ms[int(q * (len(ms) - 1))], 2)


async def closed_loop(
    base: str,
    clients: int,
    duration: float,
    request: Request,
    *,
    headers: dict[str, str] | None = None,
    measured: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> Run:
    """The timed run happens inside ``measured()`` (e.g. a CPU-time reading), the warm-up
    outside it. A request that raises a client error or answers unexpectedly counts as failed
    and its client pauses 50 ms."""
    latencies: list[float] = []
    failed = 0
    connector = aiohttp.TCPConnector(limit=clients, limit_per_host=clients)
    async with aiohttp.ClientSession(base, headers=headers, connector=connector) as http:

        async def client(n: int, stop_at: float, record: bool) -> None:
            nonlocal failed
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                try:
                    good = await request(http, n)
                except aiohttp.ClientError:
                    good = False
                if good:
                    if record:
                        latencies.append((time.perf_counter() - t0) * 1000)
                else:
                    failed += record
                    await asyncio.sleep(0.05)

        warm = time.perf_counter() + 1.0
        await asyncio.gather(*(client(n, warm, False) for n in range(clients)))
        with measured():
            start = time.perf_counter()
            await asyncio.gather(*(client(n, start + duration, True) for n in range(clients)))
            elapsed = time.perf_counter() - start
    return Run(sorted(latencies), failed, elapsed)


def get_ok(path: str) -> Request:
    """A request: GET ``path``, expecting 200."""

    async def send(http: aiohttp.ClientSession, _n: int) -> bool:
        async with http.get(path) as r:
            await r.read()
            return r.status == 200

    return send
