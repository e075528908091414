"""Load: mixed traffic against the scale-mode cluster (two API processes, two Celery workers,
PostgreSQL, Redis, SeaweedFS, anvil — ``tests/scale/cluster.py``), all on loopback.

Traffic, spread round-robin over both API processes:

- **plays**: one client per streaming platform, each paying every play with the next voucher
  of its channel (``POST /v1/access``; a channel's vouchers are sequential by design);
- **catalogue**: readers of ``GET /v1/voices``, ``GET /v1/tracks``, ``GET /v1/tracks/{id}``;
- **jobs**: fans creating conversion jobs (``POST /v1/jobs``), each followed to its end over
  SSE (``GET /v1/jobs/{id}/events``) on the *other* API process;
- **baseline**: one client on ``GET /healthz`` (no backend touched) in the same run.

Two phases of ``--duration`` seconds each: steady, then the same with worker-0 SIGKILLed
halfway (every job accepted must still finish). Bounded in time and in requests per client
(``--max-requests``); the load generator shares the machine's cores with the cluster (stated in
the output). Prints one JSON document and a one-line summary.

    .venv/bin/python bench/load.py [--duration 60] [--platforms 4] [--readers 8] [--fans 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.scale.actors import (  # noqa: E402
    Platform,
    ok,
    open_platform,
    sign_in,
    sign_terms,
    upload,
    wait_job,
)
from tests.scale.cluster import FIRST_PLATFORM, Cluster, running_cluster  # noqa: E402
from tests.studio.speech import speech  # noqa: E402
from tests.studio.wallets import Wallet  # noqa: E402

PRICE = 1000  # base units per play ($0.001 of a 6-decimal stablecoin)
TERMINAL = ("succeeded", "failed", "cancelled")


@dataclass
class Route:
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    rate_limited: int = 0
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def summary(self, seconds: float) -> dict[str, Any]:
        lat = sorted(self.latencies_ms)
        return {
            "requests": len(lat),
            "ok": self.ok,
            "rate_limited_429": self.rate_limited,
            "errors": dict(self.errors),
            "throughput_rps": round(self.ok / seconds, 1),
            "p50_ms": round(statistics.median(lat), 1) if lat else None,
            "p99_ms": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))], 1) if lat else None,
        }


@dataclass
class Stage:
    tracks: list[dict[str, Any]]
    voice_id: str
    platforms: list[Platform]
    fans: list[tuple[dict[str, str], str]]  # (headers, upload id)


def set_up(cluster: Cluster, n_platforms: int, n_fans: int, cache: Path) -> Stage:
    """A trained voice with signed terms, two published tracks, funded platforms, fans."""
    a = httpx.Client(base_url=cluster.api_urls[0], timeout=60)
    b = httpx.Client(base_url=cluster.api_urls[1], timeout=60)
    with a, b:
        creator = Wallet.new()
        hc = sign_in(cluster, a, b, creator, roles=("creator",))
        refs = [upload(a, hc, speech("slt", 3, cache, start=i * 3)) for i in range(2)]
        body = {"kind": "train", "upload_ids": refs, "name": "Load", "method": "baseline"}
        train = wait_job(b, hc, ok(a.post("/v1/jobs", json=body, headers=hc), 201)["id"])
        assert train["status"] == "succeeded", train
        voice_id = str(train["voice_model_id"])
        sign_terms(cluster, a, b, creator, hc, voice_id, price=PRICE)
        fans: list[tuple[dict[str, str], str]] = []
        tracks: list[dict[str, Any]] = []
        for i in range(max(n_fans, 2)):
            hf = sign_in(cluster, b, a, Wallet.new(), roles=("fan",))
            ok(a.post(f"/v1/voices/{voice_id}/accept", json={"terms_version": 1}, headers=hf))
            vocal = upload(b, hf, speech("awb", 1, cache, start=10 + i))
            fans.append((hf, vocal))
            if len(tracks) < 2:
                job_body = {"kind": "convert", "upload_id": vocal, "voice_model_id": voice_id}
                job = ok(a.post("/v1/jobs", json=job_body, headers=hf), 201)
                assert wait_job(b, hf, job["id"])["status"] == "succeeded"
                track_body = {"job_id": job["id"], "title": f"load {i}"}
                tracks.append(ok(b.post("/v1/tracks", json=track_body, headers=hf), 201))
        platforms = [
            open_platform(cluster, a, b, FIRST_PLATFORM + i, name=f"load-{i}", deposit=500_000_000)
            for i in range(n_platforms)
        ]
    return Stage(tracks, voice_id, platforms, fans[:n_fans])


class Load:
    def __init__(self, cluster: Cluster, stage: Stage, max_requests: int) -> None:
        self.cluster, self.stage, self.max_requests = cluster, stage, max_requests
        self.routes: dict[str, Route] = defaultdict(Route)
        self.jobs: dict[str, dict[str, Any]] = {}  # accepted job id -> {"fan", "t0", "status"}

    def record(self, route: str, status: int, started: float, expected: int = 200) -> None:
        r = self.routes[route]
        r.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status == expected:
            r.ok += 1
        elif status == 429:
            r.rate_limited += 1
        else:
            r.errors[str(status)] += 1

    async def plays(self, http: list[httpx.AsyncClient], p: Platform, stop: float) -> None:
        for i in range(self.max_requests):
            if time.monotonic() >= stop:
                return
            track = self.stage.tracks[i % len(self.stage.tracks)]
            body = p.access_body(track, PRICE, int(time.time()))
            t0 = time.perf_counter()
            try:
                r = await http[i % 2].post(
                    "/v1/access", json=body, headers={"X-API-Key": p.api_key}
                )
                status = r.status_code
            except httpx.HTTPError as exc:
                status = 0
                self.routes["POST /v1/access"].errors[type(exc).__name__] += 1
            if status != 201:
                p.meter.undo_last()  # not charged: the next voucher reuses its seq and amount
                if status == 429:
                    await asyncio.sleep(1)
            if status:
                self.record("POST /v1/access", status, t0, expected=201)

    async def reader(self, http: list[httpx.AsyncClient], n: int, stop: float) -> None:
        paths = ["/v1/voices", "/v1/tracks", f"/v1/tracks/{self.stage.tracks[0]['id']}"]
        names = ["GET /v1/voices", "GET /v1/tracks", "GET /v1/tracks/{id}"]
        for i in range(self.max_requests):
            if time.monotonic() >= stop:
                return
            k = (i + n) % 3
            t0 = time.perf_counter()
            try:
                status = (await http[(i + n) % 2].get(paths[k])).status_code
            except httpx.HTTPError as exc:
                self.routes[names[k]].errors[type(exc).__name__] += 1
                continue
            self.record(names[k], status, t0)

    async def baseline(self, http: list[httpx.AsyncClient], stop: float) -> None:
        for i in range(self.max_requests):
            if time.monotonic() >= stop:
                return
            t0 = time.perf_counter()
            self.record("GET /healthz", (await http[i % 2].get("/healthz")).status_code, t0)

    async def fan(self, http: list[httpx.AsyncClient], n: int, stop: float) -> None:
        headers, vocal = self.stage.fans[n]
        body = {"kind": "convert", "upload_id": vocal, "voice_model_id": self.stage.voice_id}
        for i in range(self.max_requests):
            if time.monotonic() >= stop:
                return
            t0 = time.perf_counter()
            r = await http[(i + n) % 2].post("/v1/jobs", json=body, headers=headers)
            self.record("POST /v1/jobs", r.status_code, t0, expected=201)
            if r.status_code != 201:
                await asyncio.sleep(1)
                continue
            job_id = r.json()["id"]
            self.jobs[job_id] = {"fan": n, "t0": time.monotonic(), "status": "queued"}
            # follow it to its end over SSE on the other process (bounded by the phase)
            t1 = time.perf_counter()
            url = f"/v1/jobs/{job_id}/events"
            try:
                async with http[(i + n + 1) % 2].stream(
                    "GET", url, headers=headers, timeout=max(5.0, stop - time.monotonic() + 5)
                ) as stream:
                    async for line in stream.aiter_lines():
                        if time.monotonic() > stop + 5:
                            break  # the phase is over: settle_jobs checks how it ends
                        if line.startswith("data: "):
                            status = json.loads(line[6:])["status"]
                            self.jobs[job_id]["status"] = status
                            if status in TERMINAL:
                                break
                self.record("SSE job events (to done)", 200, t1)
            except httpx.HTTPError as exc:
                self.routes["SSE job events (to done)"].errors[type(exc).__name__] += 1

    async def run(self, duration: float, sizes: dict[str, int], kill_at: float | None) -> float:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        http = [
            httpx.AsyncClient(base_url=u, timeout=30, limits=limits) for u in self.cluster.api_urls
        ]
        start = time.monotonic()
        stop = start + duration
        tasks = [self.plays(http, p, stop) for p in self.stage.platforms]
        tasks += [self.reader(http, n, stop) for n in range(sizes["readers"])]
        tasks += [self.fan(http, n, stop) for n in range(sizes["fans"])]
        tasks.append(self.baseline(http, stop))
        if kill_at is not None:
            tasks.append(self.kill_worker(start + kill_at))
        try:
            await asyncio.gather(*tasks)
        finally:
            for client in http:
                await client.aclose()
        return time.monotonic() - start

    async def kill_worker(self, at: float) -> None:
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        self.cluster.workers[0].kill()


def settle_jobs(cluster: Cluster, load: Load, stage: Stage, timeout_s: float) -> dict[str, Any]:
    """Waits (bounded) for every accepted job to finish; counts how each ended."""
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=cluster.api_urls[0], timeout=30) as http:
        for job_id, info in load.jobs.items():
            headers = stage.fans[info["fan"]][0]
            while True:
                job = http.get(f"/v1/jobs/{job_id}", headers=headers).json()
                if job["status"] in TERMINAL or time.monotonic() > deadline:
                    info["status"], info["attempts"] = job["status"], job["attempts"]
                    break
                time.sleep(0.5)
    ended: dict[str, int] = defaultdict(int)
    for info in load.jobs.values():
        ended[info["status"]] += 1
    return {
        "accepted": len(load.jobs),
        "ended": dict(ended),
        "redelivered": sum(1 for i in load.jobs.values() if i.get("attempts", 1) > 1),
        "all_finished": all(i["status"] in TERMINAL for i in load.jobs.values()),
    }


def phase(
    cluster: Cluster, stage: Stage, args: argparse.Namespace, *, kill: bool
) -> dict[str, Any]:
    load = Load(cluster, stage, args.max_requests)
    sizes = {"readers": args.readers, "fans": args.fans}
    kill_at = args.duration / 2 if kill else None
    seconds = asyncio.run(load.run(args.duration, sizes, kill_at))
    jobs = settle_jobs(cluster, load, stage, timeout_s=180)
    routes = {name: r.summary(seconds) for name, r in sorted(load.routes.items())}
    non_429 = sum(sum(r.errors.values()) for r in load.routes.values())
    return {
        "phase": "worker-0 SIGKILLed halfway" if kill else "steady",
        "seconds": round(seconds, 1),
        "throughput_rps": round(sum(r.ok for r in load.routes.values()) / seconds, 1),
        "non_429_errors": non_429,
        "routes": routes,
        "jobs": jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per phase")
    parser.add_argument("--platforms", type=int, default=4, help="play clients (max 5)")
    parser.add_argument("--readers", type=int, default=8, help="catalogue readers")
    parser.add_argument("--fans", type=int, default=2, help="job-creating fans (+1 SSE each)")
    parser.add_argument("--max-requests", type=int, default=20_000, help="per client, per phase")
    parser.add_argument("--no-kill-phase", action="store_true", help="skip the worker-kill phase")
    parser.add_argument("--json", type=Path, help="also write the JSON document here")
    parser.add_argument("--root", type=Path, help="cluster directory (logs) to keep; default temp")
    args = parser.parse_args()
    if not 1 <= args.platforms <= 5:
        parser.error("--platforms: 1 to 5 (the dev accounts with gas)")

    # every client is on 127.0.0.1: lift the per-IP sign-in limit, keep the others as shipped
    env = {"TIMBRE_RATE_LIMIT_AUTH_PER_MIN": "100000"}
    with running_cluster(args.root, env=env) as cluster:
        stage = set_up(cluster, args.platforms, args.fans, cluster.root / "speech")
        phases = [phase(cluster, stage, args, kill=False)]
        if not args.no_kill_phase:
            phases.append(phase(cluster, stage, args, kill=True))
    doc: dict[str, Any] = {
        "bench": "load",
        "target": "scale-mode cluster on loopback: 2 API processes (uvicorn, 1 process each), "
        "2 Celery workers (solo), PostgreSQL, Redis, SeaweedFS, anvil",
        "machine": {"cpus": os.cpu_count(), "note": "load generator shares these cores"},
        "concurrency": {
            "play_clients": args.platforms,
            "catalogue_readers": args.readers,
            "job_fans": args.fans,
            "sse_followers": args.fans,
            "baseline_healthz": 1,
            "total": args.platforms + args.readers + 2 * args.fans + 1,
        },
        "phases": phases,
    }
    text = json.dumps(doc, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    steady = phases[0]["routes"]

    def fig(route: str) -> str:
        r = steady.get(route, {})
        return f"{r.get('throughput_rps', 0)}/s p50 {r.get('p50_ms')} p99 {r.get('p99_ms')} ms"

    killed = phases[-1]["jobs"] if len(phases) > 1 else None
    print(
        f"load @ {doc['concurrency']['total']} clients: total {phases[0]['throughput_rps']}/s; "
        f"access {fig('POST /v1/access')}; voices {fig('GET /v1/voices')}; "
        f"jobs {phases[0]['jobs']['accepted']} accepted; non-429 errors "
        f"{[p['non_429_errors'] for p in phases]}"
        + (
            f"; worker killed: {killed['accepted']} jobs accepted, ended {killed['ended']}"
            if killed
            else ""
        )
    )


if __name__ == "__main__":
    main()
