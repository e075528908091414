"""Run in a subprocess by the storage tests: build a store from a JSON spec and put into it.

    python -m tests.storage.store_child SPEC put-generated SIZE   -> prints RSS before and peak
                                                                   during (bytes), CPU seconds
    python -m tests.storage.store_child SPEC put-hang SIZE        -> prints "ready", then blocks

A fresh process makes peak RSS (ru_maxrss) meaningful, and lets a test SIGKILL a put midway.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import time
from pathlib import Path

from storage import LocalObjectStore, ObjectStore, S3ObjectStore

BLOCK = bytes(range(256)) * 4096  # 1 MiB


class GeneratedStream:
    """``size`` bytes made on the fly; never more than one block in memory."""

    def __init__(self, size: int, *, hang: bool = False) -> None:
        self.remaining = size
        self.hang = hang
        self.offset = 0

    def read(self, n: int = -1) -> bytes:
        if self.remaining == 0:
            if self.hang:  # a client that stops sending but keeps the connection open
                print("ready", flush=True)
                time.sleep(3600)
            return b""
        n = min(len(BLOCK) if n < 0 else n, self.remaining, len(BLOCK))
        # rotate so consecutive blocks differ (no accidental periodic content)
        self.offset = (self.offset + 7) % len(BLOCK)
        piece = (BLOCK[self.offset :] + BLOCK[: self.offset])[:n]
        self.remaining -= n
        return piece


def build(spec: dict[str, object]) -> ObjectStore:
    if spec["kind"] == "local":
        return LocalObjectStore(
            spec["root"],
            url_secret=b"child-secret-0123456789",
            base_url="http://x",  # type: ignore[arg-type]
        )
    return S3ObjectStore(
        endpoint=str(spec["endpoint"]),
        access_key=str(spec["access_key"]),
        secret_key=str(spec["secret_key"]),
        bucket=str(spec["bucket"]),
        part_size=int(spec["part_size"]),  # type: ignore[call-overload]
    )


def memory_kib(field: str) -> int:
    """``VmRSS`` (now) or ``VmHWM`` (peak) of this process, in KiB (Linux /proc).

    Not ``ru_maxrss``: Linux carries that over from the parent across fork + exec, so a child
    of a big pytest process would report pytest's peak.
    """
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1))  # type: ignore[union-attr]


def reset_peak_rss() -> None:
    """Start ``VmHWM`` afresh from the current RSS (Linux >= 4.0), so the peak is the put's."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def main() -> None:
    spec, mode, size = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = build(spec)
    before = memory_kib("VmRSS") * 1024
    reset_peak_rss()
    started = time.process_time()
    stored = store.put(GeneratedStream(size, hang=mode == "put-hang"))  # type: ignore[arg-type]
    print(
        json.dumps(
            {
                "rss_before": before,
                "rss_peak": memory_kib("VmHWM") * 1024,
                "cpu_s": time.process_time() - started,
                "sha256": stored.sha256,
                "size": stored.size,
            }
        )
    )


if __name__ == "__main__":
    main()
