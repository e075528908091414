"""Settlement throughput on this CPU: voucher checks per second, paid accesses per second
through HTTP, and one epoch's build time.

1. Voucher acceptance in-process (``royalties.vouchers.accept_voucher``: every rule, the
   usage-log root and the coincurve fast-path signature recovery), against the baseline of
   recovering the same vouchers through eth-account's generic EIP-712 path.
2. One epoch of 1,000,000 plays from 10 platforms over 10,000 tracks (1,000 creators,
   9,000 fans, one treasury: about 10,000 payees): attribute redeemed plays to tracks, split,
   build the cumulative Merkle tree and every proof, write the canonical report. Baseline in
   the same run: a naive per-play split (floor each play's price per payee, accumulate).

3. ``POST /v1/access`` through HTTP: ``--clients`` concurrent streaming platforms (one funded
   escrow channel each on anvil, each paying every play with its channel's next real signed
   cumulative voucher) against ``timbre run`` on PostgreSQL (``--workers`` API processes;
   with more than one, rate-limit counters in a private Redis as a deployment shares them).
   Accesses/s with p50/p99 latency and the CPU time the API processes, anvil and the load
   generator spent per request; baseline in the same run through the same client harness and
   server: ``GET /healthz`` (no backend touched). Afterwards the database must hold exactly
   the plays answered 201 and each channel's charge must equal its client's cumulative amount.
   The vouchers are signed before the clock starts (the platform's CPU is not the service's);
   the load generator still shares the machine's cores with the servers, PostgreSQL and anvil.

Prints JSON, then a one-line summary. Timings are wall-clock, single run.

    .venv/bin/python bench/settlement.py [--plays N] [--clients 32] [--duration 10]
        [--workers 1,2] [--only vouchers,http,epoch]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
from eth_account import Account
from eth_account.messages import encode_typed_data
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from web3 import Web3

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api import BIN, Server, free_port  # noqa: E402
from bench.http_load import Request, closed_loop, get_ok  # noqa: E402
from contracts.anvil import AnvilNode  # noqa: E402
from contracts.deploy import connect, deploy_all  # noqa: E402
from contracts.eip712 import escrow_domain, voucher_typed_data  # noqa: E402
from royalties.gross import ChargedPlay, covered_gross  # noqa: E402
from royalties.platform_meter import PlatformMeter  # noqa: E402
from royalties.report import ChainRef, build_report  # noqa: E402
from royalties.splits import BPS, SplitState, Terms, advance, checksum  # noqa: E402
from royalties.vouchers import Accepted, ChannelState, Play, accept_voucher  # noqa: E402
from studio.app import create_app  # noqa: E402
from studio.db.migrate import upgrade  # noqa: E402
from studio.db.models import ChannelMeter  # noqa: E402
from studio.db.models import Play as PlayRow  # noqa: E402
from studio.local_chain import dev_roles  # noqa: E402
from studio.services import Services, build_services  # noqa: E402
from studio.settings import Settings  # noqa: E402
from tests.conftest import PG_ADMIN_DSN  # noqa: E402
from tests.scale.cluster import RedisServer, drop_database, fresh_database  # noqa: E402
from tests.studio.test_settlement_world import (  # noqa: E402
    DEPLOYER,
    FIRST_PLATFORM,
    SETTLEMENT,
    World,
)
from tests.studio.test_settlement_world import Platform as StreamingPlatform  # noqa: E402

PLATFORMS = 10
TRACKS = 10_000
CREATORS = 1_000
PRICE = 3_000  # base units per play (0.003 USD)
VOUCHERS = 5_000
BASELINE_VOUCHERS = 500
NOW = 1_800_000_000
DOMAIN = escrow_domain(31337, "0x" + "e5" * 20)
CHAIN = ChainRef(31337, "0x" + "a1" * 20, "0x" + "e5" * 20, "0x" + "c3" * 20)


def address(i: int) -> str:
    return checksum(f"0x{i:040x}")


def bench_vouchers() -> dict[str, Any]:
    key = bytes.fromhex("11" * 32)
    meter = PlatformMeter(1, key, DOMAIN)
    track = b"\x07" * 32
    signed = [meter.pay(track, PRICE, NOW) for _ in range(VOUCHERS)]
    state = ChannelState(1, Account.from_key(key).address, balance=PRICE * VOUCHERS)
    play = Play(track, PRICE, NOW)
    start = time.perf_counter()
    for voucher, signature in signed:
        result = accept_voucher(state, play, voucher, signature, DOMAIN, now=NOW)
        assert isinstance(result, Accepted)
        state = result.state
    fast_s = time.perf_counter() - start
    start = time.perf_counter()
    for voucher, signature in signed[:BASELINE_VOUCHERS]:
        message = encode_typed_data(full_message=voucher_typed_data(DOMAIN, voucher))
        assert Account.recover_message(message, signature=signature) == state.signer
    slow_s = time.perf_counter() - start
    return {
        "vouchers": VOUCHERS,
        "accept_per_s": round(VOUCHERS / fast_s),
        "baseline_eth_account_recover_per_s": round(BASELINE_VOUCHERS / slow_s),
    }


def make_epoch(plays: int) -> tuple[list[ChargedPlay], dict[bytes, Terms], dict[int, int]]:
    rng = random.Random(6)
    treasury = address(1)
    terms: dict[bytes, Terms] = {}
    for t in range(TRACKS):
        creator_bps = rng.choice([5_000, 3_333, 6_000, 4_500])
        fan_bps = rng.choice([4_000, 3_333, 2_500])
        terms[t.to_bytes(32, "big")] = Terms(
            version=0,
            creator=address(10 + t % CREATORS),
            fan=address(100_000 + t % (TRACKS - CREATORS)),
            treasury=treasury,
            creator_bps=creator_bps,
            fan_bps=fan_bps,
            platform_bps=BPS - creator_bps - fan_bps,
        )
    track_ids = list(terms)
    out: list[ChargedPlay] = []
    cumulative = [0] * PLATFORMS
    for i in range(plays):
        channel = i % PLATFORMS
        price = PRICE + (i % 7)
        cumulative[channel] += price
        track = track_ids[rng.randrange(TRACKS)]
        out.append(ChargedPlay(channel + 1, i // PLATFORMS + 1, track, price, cumulative[channel]))
    return out, terms, {c + 1: cumulative[c] for c in range(PLATFORMS)}


def bench_epoch(plays: int) -> dict[str, Any]:
    charged, terms, claimed = make_epoch(plays)
    stages: dict[str, float] = {}
    start = t0 = time.perf_counter()
    gross = covered_gross(charged, claimed)
    stages["attribute_plays_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    state = advance(SplitState(), 0, gross, {t: terms[t] for t in gross}, address(2))
    stages["split_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    report = build_report(
        epoch=0,
        state=state,
        channels=claimed,
        dust_account=address(2),
        previous_total=0,
        chain=CHAIN,
        code_version="bench",
    )
    root = report.payouts.root  # the tree is built lazily: count it here
    stages["tree_and_report_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    proofs = report.payouts.proofs()
    stages["all_proofs_s"] = time.perf_counter() - t0
    total_s = time.perf_counter() - start

    # Baseline: split every play on its own, flooring per play; remainders pile up per play.
    t0 = time.perf_counter()
    naive: dict[str, int] = {}
    naive_dust = 0
    for p in charged:
        t = terms[p.track_id]
        paid = 0
        for payee, w in t.shares():
            amount = p.price * w // BPS
            naive[payee] = naive.get(payee, 0) + amount
            paid += amount
        naive_dust += p.price - paid
    naive_s = time.perf_counter() - t0
    ent = report.entitlements
    return {
        "plays": plays,
        "platforms": PLATFORMS,
        "tracks": TRACKS,
        "payees": len(report.payouts.leaves),
        "gross_base_units": ent.gross,
        "root": "0x" + root.hex(),
        "proof_length": len(next(iter(proofs.values()))),
        "report_bytes": len(report.data),
        "dust_pending_base_units": ent.dust_pending,
        "epoch_build_s": round(total_s, 3),
        "stages_s": {k: round(v, 3) for k, v in stages.items()},
        "baseline_naive_per_play_split_s": round(naive_s, 3),
        "baseline_naive_dust_base_units": naive_dust,
    }


# --- 3. paid accesses through HTTP -----------------------------------------------------------

HTTP_TRACKS = 10
HTTP_PRICES = (1_000, 1_007)
MAX_RATE = 4_000  # accesses/s the pre-signed vouchers are sized for


@dataclass
class _Stage:
    world: World
    services: Services
    env: dict[str, str]
    tracks: list[dict[str, Any]]
    prices: list[int]
    platforms: list[StreamingPlatform]


def _stage(node: AnvilNode, work: Path, database_url: str, clients: int) -> _Stage:
    """Contracts on ``node``; two creators' voices with signed terms, published tracks and
    ``clients`` platforms with funded channels, all made through the app in process, on the
    database the servers use."""
    w3 = Web3(Web3.HTTPProvider(node.rpc_url))
    dev = node.dev_accounts
    deployment = deploy_all(w3, dev[DEPLOYER], **dev_roles(node, epoch_length_s=3600))
    deployment.save(work / "deployment.json")
    secret = secrets.token_hex(32)
    relayer = "0x" + bytes(dev[SETTLEMENT].key).hex()
    env = {
        "TIMBRE_ENVIRONMENT": "production",
        "TIMBRE_SECRET_KEY": secret,
        "TIMBRE_VAR_DIR": str(work / "var"),
        "TIMBRE_DATABASE_URL": database_url,
        "TIMBRE_CHAIN_RPC_URL": node.rpc_url,
        "TIMBRE_CHAIN_ID": str(node.chain_id),
        "TIMBRE_DEPLOYMENT_FILE": str(work / "deployment.json"),
        "TIMBRE_RELAYER_KEY": relayer,
        "TIMBRE_EMBEDDED_CHAIN": "false",
        "TIMBRE_SETTLE_INTERVAL_S": "0",
        "TIMBRE_EMBEDDED_WORKERS": "0",
        # plays are limited per API key (6,000/min by default): the benchmark measures the
        # service, not that policy (the counter is still hit on every request)
        "TIMBRE_RATE_LIMIT_ACCESS_PER_MIN": "10000000",
    }
    settings = Settings(
        environment="production",
        secret_key=secret,
        var_dir=work / "var",
        public_url="http://testserver",
        database_url=database_url,
        chain_rpc_url=node.rpc_url,
        chain_id=node.chain_id,
        deployment_file=work / "deployment.json",
        relayer_key=relayer,
        embedded_chain=False,
        settle_interval_s=0,
        embedded_workers=0,
        rate_limit_auth_per_min=100_000,  # every platform signs in from this address
        rate_limit_writes_per_min=100_000,
    )
    upgrade(settings.resolved_database_url)
    services = build_services(settings)
    client = TestClient(create_app(services=services))
    client.__enter__()
    try:
        world = World(node, client, services, deployment, connect(w3, deployment), w3)
        world.offset = max(0, node.latest_timestamp() - int(time.time()))
        services.clock = lambda: datetime.fromtimestamp(world.now(), UTC)
        for i in range(2):
            world.sign_in(f"creator{i}", "creator")
            world.sign_in(f"fan{i}", "fan")
        voices = [world.voice(f"creator{i}", price=HTTP_PRICES[i]) for i in range(2)]
        tracks = [world.track(f"fan{i % 2}", voices[i % 2], f"t{i}") for i in range(HTTP_TRACKS)]
        platforms = [world.platform(f"p{i}", FIRST_PLATFORM + i, 10**12) for i in range(clients)]
    finally:
        client.__exit__(None, None, None)
    prices = [HTTP_PRICES[i % 2] for i in range(HTTP_TRACKS)]
    return _Stage(world, services, env, tracks, prices, platforms)


def _api_server(stage: _Stage, workers: int, redis_url: str | None) -> Server:
    port = free_port()
    env = {**stage.env, "TIMBRE_PORT": str(port), "TIMBRE_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    if redis_url:
        env["TIMBRE_RATE_LIMIT_REDIS_URL"] = redis_url
    argv = [str(BIN / "timbre"), "run"]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return Server(argv, env, port)


def _tree_cpu_s(pids: list[int]) -> dict[int, float]:
    """CPU seconds (user + system) used so far by each of ``pids`` and their live
    descendants."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = set(pids), list(pids)
    while frontier:
        parent = frontier.pop()
        children = [c for c, p in parents.items() if p == parent and c not in tree]
        tree.update(children)
        frontier.extend(children)
    return {p: times[p] for p in tree if p in times}


def _backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving ``database_url`` now (the API's pool keeps its
    connections, so the same backends serve a whole run)."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_DSN + " dbname=postgres", autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(r[0]) for r in rows]


def _cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds spent between two readings by the processes alive at both."""
    return sum(after[p] - before[p] for p in before.keys() & after.keys())


async def _load(
    base: str,
    clients: int,
    duration: float,
    request: Request,
    pids: dict[str, Callable[[], list[int]]],
) -> dict[str, Any]:
    """:func:`bench.http_load.closed_loop`, with the CPU time the processes of ``pids`` (and
    their children) and this load generator spent per answered request meanwhile."""
    cpu: dict[str, float] = {}

    @contextmanager
    def cpu_time() -> Iterator[None]:
        groups = {name: find() for name, find in pids.items()}
        cpu0 = {name: _tree_cpu_s(group) for name, group in groups.items()}
        own0 = time.process_time()
        yield
        cpu.update({name: _cpu_delta(cpu0[name], _tree_cpu_s(g)) for name, g in groups.items()})
        cpu["load_generator"] = time.process_time() - own0  # this process alone

    run = await closed_loop(base, clients, duration, request, measured=cpu_time)
    ok = len(run.latencies_ms)
    return {
        "ok": ok,
        "failed": run.failed,
        "per_s": run.per_s,
        "p50_ms": run.percentile_ms(0.5),
        "p99_ms": run.percentile_ms(0.99),
        "cpu_ms_per_request": {name: round(1000 * s / max(ok, 1), 3) for name, s in cpu.items()},
    }


MeterState = tuple[int, int, Any, int]


class _Plays:
    """Each client's pre-signed vouchers (the channel's next ones, in order) and how many the
    service accepted; a refused or lost request is sent again unchanged (nothing was charged),
    so the clients' meters stay in step with the service's."""

    def __init__(self, stage: _Stage, per_client: int) -> None:
        self.stage = stage
        ts = int(time.time())
        self.bodies: list[list[bytes]] = []
        self.states: list[list[MeterState]] = []
        self.accepted = [0] * len(stage.platforms)
        self.errors: dict[str, int] = {}
        for n, p in enumerate(stage.platforms):
            m = p.meter
            states: list[MeterState] = [(m.seq, m.cumulative, m.usage, len(m.records))]
            bodies = []
            for i in range(per_client):
                k = (n + i) % len(stage.tracks)
                body = stage.world.access_body(p, stage.tracks[k], stage.prices[k], timestamp=ts)
                bodies.append(json.dumps(body).encode())
                states.append((m.seq, m.cumulative, m.usage, len(m.records)))
            self.bodies.append(bodies)
            self.states.append(states)

    async def request(self, http: aiohttp.ClientSession, n: int) -> bool:
        i = self.accepted[n]
        if i >= len(self.bodies[n]):
            raise RuntimeError(f"client {n} used all its pre-signed vouchers: raise MAX_RATE")
        headers = {"X-API-Key": self.stage.platforms[n].api_key, "Content-Type": "application/json"}
        async with http.post("/v1/access", data=self.bodies[n][i], headers=headers) as r:
            payload = await r.read()
            if r.status == 201:
                self.accepted[n] += 1
                return True
            code = json.loads(payload).get("error", {}).get("code", str(r.status))
            self.errors[code] = self.errors.get(code, 0) + 1
            if code == "replay":  # the service took it but the answer was lost
                self.accepted[n] += 1
            return False

    def settle_meters(self) -> None:
        """Winds each client's meter back to its last accepted voucher."""
        for p, states, n in zip(self.stage.platforms, self.states, self.accepted, strict=True):
            m = p.meter
            m.seq, m.cumulative, m.usage, size = states[n]
            del m.records[size:]


def _check_charges(stage: _Stage) -> dict[str, Any]:
    """The database against the clients: one play row per accepted voucher, and each channel
    charged exactly its client's cumulative amount."""
    with stage.services.db() as db:
        plays = db.scalar(select(func.count()).select_from(PlayRow)) or 0
        charged = {m.channel_id: m.charged for m in db.scalars(select(ChannelMeter))}
    expected = {str(p.channel_id): p.meter.cumulative for p in stage.platforms}
    sent = sum(p.meter.seq for p in stage.platforms)
    return {
        "plays_in_database": plays,
        "vouchers_accepted_by_clients": sent,
        "charges_match": plays == sent and charged == expected,
    }


def _pid(node: AnvilNode) -> int:
    process = node._process  # the benchmark's own node
    return process.pid if process is not None else 0


def bench_http(clients: int, duration: float, workers: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "clients": clients,
        "duration_s": duration,
        "note": (
            "2-core machine shared by the servers, PostgreSQL, anvil and the load generator "
            "(and other work on the machine); loopback HTTP/1.1 keep-alive; vouchers pre-signed"
        ),
        "runs": {},
    }
    database_url = fresh_database()
    with (
        tempfile.TemporaryDirectory(prefix="timbre-bench-access-") as tmp,
        AnvilNode(accounts=FIRST_PLATFORM + clients) as node,
    ):
        work = Path(tmp)
        redis = RedisServer(work / "redis").start() if max(workers) > 1 else None
        try:
            stage = _stage(node, work, database_url, clients)
            per_client = math.ceil(MAX_RATE * (duration + 1) / clients)
            for n in workers:
                server = _api_server(stage, n, redis.url(1) if redis and n > 1 else None)
                try:
                    pids: dict[str, Callable[[], list[int]]] = {
                        "api": functools.partial(list, [server.proc.pid]),
                        "anvil": lambda: [_pid(node)],
                        "postgres": functools.partial(_backend_pids, database_url),
                    }
                    baseline = asyncio.run(
                        _load(server.base, clients, duration, get_ok("/healthz"), pids)
                    )
                    plays = _Plays(stage, per_client)
                    try:
                        access = asyncio.run(
                            _load(server.base, clients, duration, plays.request, pids)
                        )
                    finally:
                        plays.settle_meters()
                    access["refusals"] = plays.errors
                finally:
                    server.stop()
                out["runs"][f"{n}_process" + ("es" if n > 1 else "")] = {
                    "baseline GET /healthz": baseline,
                    "POST /v1/access": access,
                    "rate_limit_counters": "redis" if n > 1 else "memory",
                }
            out["check"] = _check_charges(stage)
            stage.services.close()
        finally:
            if redis is not None:
                redis.stop()
            drop_database(database_url)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plays", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0, help="s per HTTP run")
    parser.add_argument("--workers", default="1,2", help="API process counts to run, e.g. 1,2")
    parser.add_argument("--only", default="vouchers,http,epoch", help="sections to run")
    args = parser.parse_args()
    only = set(args.only.split(","))
    workers = [int(w) for w in args.workers.split(",") if w]
    figures: dict[str, Any] = {}
    if "vouchers" in only:
        figures["vouchers"] = bench_vouchers()
    if "http" in only:
        figures["http"] = bench_http(args.clients, args.duration, workers)
    if "epoch" in only:
        figures["epoch"] = bench_epoch(args.plays)
    print(json.dumps(figures, indent=2))
    parts = []
    if "vouchers" in figures:
        v = figures["vouchers"]
        parts.append(
            f"vouchers: {v['accept_per_s']}/s accepted in process (eth-account baseline "
            f"{v['baseline_eth_account_recover_per_s']}/s)"
        )
    if "http" in figures:
        h = figures["http"]
        for name, run in h["runs"].items():
            a, b = run["POST /v1/access"], run["baseline GET /healthz"]
            parts.append(
                f"HTTP {name}: {a['per_s']} accesses/s with {h['clients']} clients "
                f"(p50 {a['p50_ms']} ms, p99 {a['p99_ms']} ms; /healthz baseline {b['per_s']}/s)"
            )
        parts.append(f"charges match: {h['check']['charges_match']}")
    if "epoch" in figures:
        e = figures["epoch"]
        parts.append(
            f"epoch of {e['plays']} plays -> {e['payees']} payees in {e['epoch_build_s']} s "
            f"(naive per-play split {e['baseline_naive_per_play_split_s']} s, dust "
            f"{e['baseline_naive_dust_base_units']} vs {e['dust_pending_base_units']} base units)"
        )
    print("; ".join(parts))


if __name__ == "__main__":
    main()
