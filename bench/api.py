"""API benchmark: requests/s and p50/p99 latency of /healthz and an authenticated read (GET
/v1/me) under 32 concurrent clients, Timbre vs a bare FastAPI app with the same routes in the
same run; then upload throughput (MB/s) to each storage backend with the server's peak memory
as the file grows (10 MB -> 500 MB by default).

Prints one JSON document and a one-line summary. Servers run as separate processes on
loopback; the load generator shares the machine's cores with them (stated in the output).

    .venv/bin/python bench/api.py [--duration 8] [--clients 32] [--sizes 10,100,500]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import siwe
import soundfile as sf
from eth_account import Account
from eth_account.messages import encode_defunct

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bare_app import BENCH_TOKEN  # noqa: E402
from bench.http_load import closed_loop, get_ok  # noqa: E402
from storage.seaweed_server import SeaweedServer  # noqa: E402

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{base} did not become healthy")


class Server:
    def __init__(self, argv: list[str], env: dict[str, str], port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            argv, env={**os.environ, **env}, stdout=self.log, stderr=subprocess.STDOUT
        )
        wait_healthy(self.base, self.proc)

    def peak_rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def timbre_server(var: Path, extra: dict[str, str] | None = None) -> Server:
    port = free_port()
    env = {
        "TIMBRE_VAR_DIR": str(var),
        "TIMBRE_PORT": str(port),
        "TIMBRE_ENVIRONMENT": "development",
        # the API alone: no local chain, no demo seeding (training) competing for the cores
        "TIMBRE_EMBEDDED_CHAIN": "false",
        **(extra or {}),
    }
    return Server([str(BIN / "timbre"), "run"], env, port)


def bare_server() -> Server:
    port = free_port()
    argv = [str(BIN / "uvicorn"), "bench.bare_app:app", "--port", str(port), "--no-access-log"]
    return Server([*argv, "--log-level", "warning"], {"PYTHONPATH": str(ROOT)}, port)


def sign_in(base: str) -> str:
    wallet = Account.create()
    with httpx.Client(base_url=base) as http:
        nonce = http.get("/v1/auth/nonce").json()["nonce"]
        domain = base.removeprefix("http://")
        message = siwe.SiweMessage(
            domain=domain,
            address=wallet.address,
            uri=base,
            version="1",
            chain_id=31337,
            nonce=nonce,
            issued_at=datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        ).prepare_message()
        sig = wallet.sign_message(encode_defunct(text=message)).signature.to_0x_hex()
        r = http.post("/v1/auth/siwe", json={"message": message, "signature": sig})
        r.raise_for_status()
        token = str(r.json()["token"])
        http.post(
            "/v1/me/roles", json={"role": "fan"}, headers={"Authorization": f"Bearer {token}"}
        ).raise_for_status()
    return token


async def load(
    base: str, path: str, headers: dict[str, str], clients: int, duration: float
) -> dict[str, Any]:
    """GET ``path`` from ``clients`` closed-loop clients (bench.http_load), expecting 200."""
    run = await closed_loop(base, clients, duration, get_ok(path), headers=headers)
    return {
        "requests": len(run.latencies_ms),
        "errors": run.failed,
        "rps": run.per_s,
        "p50_ms": run.percentile_ms(0.5),
        "p99_ms": run.percentile_ms(0.99),
    }


def make_wav(path: Path, megabytes: int) -> None:
    """A stereo 48 kHz PCM-16 noise file of about ``megabytes`` MB, written in blocks."""
    sr, channels = 48000, 2
    frames = megabytes * 1024 * 1024 // (2 * channels)
    rng = np.random.default_rng(0)
    block = (rng.standard_normal((sr * 10, channels)) * 0.1).astype(np.float32)
    with sf.SoundFile(path, "w", sr, channels, subtype="PCM_16") as f:
        written = 0
        while written < frames:
            n = min(len(block), frames - written)
            f.write(block[:n])
            written += n


def upload_once(server: Server, token: str, path: Path) -> dict[str, Any]:
    size = path.stat().st_size
    before = server.rss_mb()

    def body() -> Iterator[bytes]:
        head = (
            b'--bench\r\nContent-Disposition: form-data; name="file"; filename="big.wav"\r\n'
            b"Content-Type: audio/wav\r\n\r\n"
        )
        yield head
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                yield chunk
        yield b"\r\n--bench--\r\n"

    t0 = time.perf_counter()
    r = httpx.post(
        f"{server.base}/v1/uploads",
        content=body(),
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "multipart/form-data; boundary=bench",
        },
        timeout=600,
    )
    elapsed = time.perf_counter() - t0
    if r.status_code != 201:
        raise RuntimeError(f"upload failed: {r.status_code} {r.text[:300]}")
    return {
        "size_mb": round(size / 1e6, 1),
        "seconds": round(elapsed, 2),
        "mb_per_s": round(size / 1e6 / elapsed, 1),
        "server_rss_before_mb": round(before, 1),
        "server_peak_rss_mb": round(server.peak_rss_mb(), 1),
    }


def bench_uploads(sizes: list[int], work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    limits = {
        "TIMBRE_MAX_UPLOAD_BYTES": str((max(sizes) + 10) * 1024 * 1024),
        "TIMBRE_MAX_UPLOAD_DURATION_S": "100000",
    }
    with SeaweedServer.start(work / "weed") as weed:
        backends = {
            "local": {},
            "s3": {
                "TIMBRE_OBJECT_STORE": "s3",
                "TIMBRE_S3_ENDPOINT": weed.endpoint,
                "TIMBRE_S3_ACCESS_KEY": weed.access_key,
                "TIMBRE_S3_SECRET_KEY": weed.secret_key,
                "TIMBRE_S3_BUCKET": "bench",
            },
        }
        for name, env in backends.items():
            rows = []
            for mb in sizes:
                wav = work / f"in-{mb}.wav"
                if not wav.exists():
                    make_wav(wav, mb)
                # a fresh server per size, so each peak belongs to one upload
                server = timbre_server(work / f"var-{name}-{mb}", {**limits, **env})
                try:
                    rows.append(upload_once(server, sign_in(server.base), wav))
                finally:
                    server.stop()
            results[name] = rows
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--sizes", default="10,100,500", help="upload sizes in MB")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    out: dict[str, Any] = {
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "note": "server and load generator share the same cores; loopback HTTP/1.1",
        "clients": args.clients,
        "duration_s": args.duration,
    }
    with tempfile.TemporaryDirectory(prefix="timbre-bench-") as tmp:
        work = Path(tmp)
        routes: dict[str, dict[str, Any]] = {}
        timbre = timbre_server(work / "var-api")
        try:
            token = sign_in(timbre.base)
            auth = {"Authorization": f"Bearer {token}"}
            routes["timbre /healthz"] = asyncio.run(
                load(timbre.base, "/healthz", {}, args.clients, args.duration)
            )
            routes["timbre /v1/me"] = asyncio.run(
                load(timbre.base, "/v1/me", auth, args.clients, args.duration)
            )
        finally:
            timbre.stop()
        bare = bare_server()
        try:
            bare_auth = {"Authorization": f"Bearer {BENCH_TOKEN}"}
            routes["bare /healthz"] = asyncio.run(
                load(bare.base, "/healthz", {}, args.clients, args.duration)
            )
            routes["bare /v1/me"] = asyncio.run(
                load(bare.base, "/v1/me", bare_auth, args.clients, args.duration)
            )
        finally:
            bare.stop()
        out["routes"] = routes
        out["timbre_vs_bare_rps"] = {
            route: round(
                routes[f"bare {route}"]["rps"] / max(routes[f"timbre {route}"]["rps"], 1e-9), 2
            )
            for route in ("/healthz", "/v1/me")
        }
        out["uploads"] = bench_uploads(sizes, work)

    peaks = {
        name: (rows[0]["server_peak_rss_mb"], rows[-1]["server_peak_rss_mb"])
        for name, rows in out["uploads"].items()
    }
    out["upload_memory_growth"] = {
        name: round(last / first, 2) for name, (first, last) in peaks.items()
    }
    print(json.dumps(out, indent=2))
    ratios = out["timbre_vs_bare_rps"]
    print(
        "summary: bare/timbre throughput ratio "
        + ", ".join(f"{k} {v}x" for k, v in ratios.items())
        + " (target <= 2x); upload peak RSS "
        + ", ".join(
            f"{name} {a:.0f}->{b:.0f} MB for {sizes[0]}->{sizes[-1]} MB files"
            for name, (a, b) in peaks.items()
        )
        + " (target: flat)"
    )


if __name__ == "__main__":
    main()
