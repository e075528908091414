"""Scale mode on loopback: the platform as it runs across machines, in one test run.

:class:`Cluster` starts a fresh PostgreSQL database (on the machine's server), a private
``redis-server`` (broker and shared rate-limit counters), SeaweedFS (``weed mini``, the S3
store), anvil with freshly deployed contracts, two API processes (``timbre run``) and two job
workers (``timbre worker``), every one of them on 127.0.0.1; :meth:`Cluster.stop` ends them all.

Choices a reader would otherwise have to reverse-engineer:

- **One origin, two processes.** Both API processes get the same ``TIMBRE_PUBLIC_URL`` (the
  first process's address stands for the load balancer a deployment would have). SIWE checks
  the message's domain against that setting, never the request's Host header, so a client signs
  once for the public origin and may talk to either process on its own port.
- **Private Redis.** The service has no key prefix for its rate-limit counters
  (``timbre:rl:...``) and they count callers by IP, which every test on this machine shares;
  a private ``redis-server`` keeps the counters (and the queue) ours alone, and lets the fault
  tests stop and restart it. It runs with an append-only file so a restart keeps its queue.
- **Chain clock behind the wall clock.** A voucher's timestamp must be within 300 s of the
  server's clock and an epoch settles only 300 s after it ends (on both clocks). anvil starts
  :data:`CHAIN_LAG_S` seconds in the past, so a platform can date its plays ~290 s back into a
  short epoch that began after the voice was registered; the epoch is then settleable ~20 s
  later once the chain is moved up to the wall clock (:meth:`Chain.catch_up`).
- **Settlement is a separate process.** The API processes run with
  ``TIMBRE_SETTLE_INTERVAL_S=0``; :meth:`Cluster.settle` runs ``timbre settle`` as an operator
  (or a cron job) would.

``python -m tests.scale.cluster`` runs the same cluster interactively (``make scale-demo``).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from eth_account.signers.local import LocalAccount
from web3 import Web3

from contracts.anvil import ANVIL_BINARY, DEV_MNEMONIC, dev_accounts
from contracts.deploy import Deployment, deploy_all
from storage.seaweed_server import SeaweedServer, _spawn

BIN = Path(sys.executable).parent
TIMBRE = BIN / "timbre"
PG_ADMIN_DSN = os.environ.get("TIMBRE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres")

#: anvil's clock starts this many seconds behind the wall clock (module docstring).
CHAIN_LAG_S = 400
EPOCH_S = 10
CHALLENGE_S = 5
#: Roles of the dev accounts (anvil's public test mnemonic: never hold value).
DEPLOYER, SETTLEMENT, GUARDIAN, TREASURY, DUST = range(5)
FIRST_PLATFORM = 5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """One child process with its output in ``log``; restartable with the same argv and env."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], log: Path) -> None:
        self.name, self.argv, self.env, self.log = name, list(argv), env, log
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Proc:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the cluster, which stops us in order
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: the crash a power cut or the OOM killer causes."""
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def stop(self, grace_s: float = 15.0) -> None:
        if self.alive():
            assert self.popen is not None
            self.popen.terminate()
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def wait_until(check: Any, what: str, timeout_s: float = 60.0, every_s: float = 0.1) -> Any:
    """Polls ``check()`` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            got = check()
        except Exception as exc:  # noqa: BLE001 - not up yet, whatever the reason
            last = exc
        else:
            if got:
                return got
            last = got
        time.sleep(every_s)
    raise TimeoutError(f"{what} not reached in {timeout_s:.0f} s (last: {last!r})")


# --- engines ---------------------------------------------------------------------------------


class RedisServer(Proc):
    """A private ``redis-server`` on a free loopback port; restarts keep its data (AOF)."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        root.mkdir(parents=True, exist_ok=True)
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(root),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--protected-mode",
            "yes",
        ]
        super().__init__("redis", argv, dict(os.environ), root / "redis.log")

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> RedisServer:
        super().start()
        wait_until(self.ping, "redis answers", 15)
        return self

    def ping(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")


class Chain(Proc):
    """anvil on a fixed loopback port with its state saved every second (so a SIGKILL loses at
    most a second, and a restart on the same port resumes the same chain)."""

    def __init__(self, root: Path, *, lag_s: int = CHAIN_LAG_S, chain_id: int = 31337) -> None:
        self.port, self.chain_id = free_port(), chain_id
        self.state_file = root / "chain-state.json"
        root.mkdir(parents=True, exist_ok=True)
        binary = os.environ.get("TIMBRE_ANVIL", str(ANVIL_BINARY))
        argv = [binary, "--host", "127.0.0.1", "--port", str(self.port)]
        argv += ["--chain-id", str(chain_id), "--accounts", "10", "--balance", "10000"]
        argv += ["--mnemonic", DEV_MNEMONIC, "--state", str(self.state_file)]
        argv += ["--state-interval", "1"]
        self._first_args = ["--timestamp", str(int(time.time()) - lag_s)] if lag_s else []
        super().__init__("anvil", argv, dict(os.environ), root / "anvil.log")
        self.dev_accounts: list[LocalAccount] = dev_accounts(10)

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Chain:
        first = not self.state_file.exists()
        argv = self.argv
        if first:
            self.argv = [*argv, *self._first_args]
        try:
            super().start()
        finally:
            self.argv = argv
        wait_until(lambda: int(self.rpc("eth_chainId"), 16) == self.chain_id, "anvil", 15)
        return self

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
        reply = httpx.post(self.rpc_url, json=body, timeout=10).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def latest_timestamp(self) -> int:
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def mine(self, *, timestamp: int | None = None) -> None:
        if timestamp is not None:
            self.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.rpc("anvil_mine", ["0x1"])

    def catch_up(self, ahead_s: int = 0) -> None:
        """Moves the chain's clock to the wall clock (plus ``ahead_s``) and mines a block."""
        target = int(time.time()) + ahead_s
        if target > self.latest_timestamp():
            self.mine(timestamp=target)


class PrivatePostgres(Proc):
    """A throw-away PostgreSQL server (``initdb`` + ``postgres`` on a free loopback port) for
    the database-restart fault: the machine's server is shared and must never be restarted.
    Runs as the ``postgres`` user when started by root (PostgreSQL refuses root)."""

    BIN = Path(os.environ.get("TIMBRE_PG_BIN", "/usr/lib/postgresql/15/bin"))

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self._user = "postgres" if os.geteuid() == 0 else None
        # as root, the data lives where the postgres user can reach it (test tmp dirs are 0700)
        self.home = Path(tempfile.mkdtemp(prefix="timbre-pg-")) if self._user else root
        if self._user:
            shutil.chown(self.home, self._user)
        self.port, self.data = free_port(), self.home / "pgdata"
        run = subprocess.run(
            [str(self.BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"],
            capture_output=True,
            text=True,
            user=self._user,
        )
        if run.returncode != 0:
            raise RuntimeError(f"initdb failed: {run.stderr[-2000:]}")
        argv = [str(self.BIN / "postgres"), "-D", str(self.data), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1", "-k", str(self.home), "-c", "fsync=off"]
        super().__init__("postgres", argv, dict(os.environ), root / "postgres.log")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> PrivatePostgres:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                user=self._user,
            )
        wait_until(self.accepts, "postgres accepts connections", 30)
        return self

    def stop(self, grace_s: float = 15.0) -> None:
        super().stop(grace_s)
        if self._user:
            shutil.rmtree(self.home, ignore_errors=True)

    def accepts(self) -> bool:
        dsn = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"
        with psycopg.connect(dsn) as conn:
            return conn.execute("select 1").fetchone() == (1,)


def fresh_database() -> str:
    """A new, empty database on the machine's PostgreSQL (drop it with :func:`drop_database`)."""
    name = f"timbre_scale_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_DSN + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # generated name, not input
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    return (
        f"postgresql+psycopg://{params.get('user', 'postgres')}@"
        f"{params.get('host', '127.0.0.1')}:{params.get('port', '5432')}/{name}"
    )


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_DSN + " dbname=postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def restart_seaweed(server: SeaweedServer, *, down_s: float = 0.0) -> None:
    """Stops ``weed mini`` and starts it again on the same ports and data (a server restart,
    not a fresh server); returns once an authenticated S3 write works again."""
    server.stop()
    time.sleep(down_s)
    data = Path(str(server.process.args[2]).removeprefix("-dir="))  # type: ignore[index]
    config = server.workdir / "s3.json"
    server.process = _spawn(data, config, server.ports, server.workdir)
    failure = server._wait_ready(60)
    if failure:
        raise RuntimeError(f"weed mini did not come back: {failure}")


# --- the cluster -----------------------------------------------------------------------------


@dataclass
class Cluster:
    root: Path
    database_url: str
    redis: RedisServer
    s3: SeaweedServer
    chain: Chain
    deployment: Deployment
    env: dict[str, str]
    apis: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    api_urls: list[str] = field(default_factory=list)

    @property
    def public_url(self) -> str:
        return self.env["TIMBRE_PUBLIC_URL"]

    @property
    def siwe_domain(self) -> str:
        return self.public_url.removeprefix("http://")

    @classmethod
    def start(
        cls,
        root: Path,
        *,
        apis: int = 2,
        workers: int = 2,
        env: dict[str, str] | None = None,
        database_url: str | None = None,
    ) -> Cluster:
        """Starts everything (module docstring); on any failure stops what it started."""
        root.mkdir(parents=True, exist_ok=True)
        stack = contextlib.ExitStack()
        with stack:
            if database_url is None:  # the default: a fresh database on the machine's server
                database_url = fresh_database()
                stack.callback(drop_database, database_url)
            redis = RedisServer(root / "redis").start()
            stack.callback(redis.stop)
            s3 = SeaweedServer.start(root / "seaweed")
            stack.callback(s3.stop)
            chain = Chain(root / "chain").start()
            stack.callback(chain.stop)
            deployment = _deploy(chain, root / "deployment.json")
            ports = [free_port() for _ in range(apis)]
            shared = {
                "TIMBRE_ENVIRONMENT": "production",
                "TIMBRE_SECRET_KEY": secrets.token_hex(32),
                "TIMBRE_PUBLIC_URL": f"http://127.0.0.1:{ports[0]}",
                "TIMBRE_LOG_LEVEL": "WARNING",
                "TIMBRE_DATABASE_URL": database_url,
                "TIMBRE_OBJECT_STORE": "s3",
                "TIMBRE_S3_ENDPOINT": s3.endpoint,
                "TIMBRE_S3_ACCESS_KEY": s3.access_key,
                "TIMBRE_S3_SECRET_KEY": s3.secret_key,
                "TIMBRE_S3_BUCKET": f"scale-{uuid.uuid4().hex[:10]}",
                "TIMBRE_CHAIN_RPC_URL": chain.rpc_url,
                "TIMBRE_CHAIN_ID": str(chain.chain_id),
                "TIMBRE_DEPLOYMENT_FILE": str(root / "deployment.json"),
                "TIMBRE_RELAYER_KEY": "0x" + bytes(chain.dev_accounts[SETTLEMENT].key).hex(),
                "TIMBRE_EMBEDDED_CHAIN": "false",
                "TIMBRE_SETTLE_INTERVAL_S": "0",
                "TIMBRE_JOB_BROKER": "celery",
                "TIMBRE_BROKER_URL": redis.url(0),
                "TIMBRE_CELERY_QUEUE": f"timbre-scale-{uuid.uuid4().hex[:8]}",
                "TIMBRE_CELERY_VISIBILITY_TIMEOUT_S": "20",
                "TIMBRE_JOB_HEARTBEAT_S": "1",
                "TIMBRE_JOB_STALE_AFTER_S": "6",
                "TIMBRE_RATE_LIMIT_REDIS_URL": redis.url(1),
                "TIMBRE_DEVICE": "cpu",
                **(env or {}),
            }
            base_env = {k: v for k, v in os.environ.items() if not k.startswith("TIMBRE_")}
            cluster = cls(root, database_url, redis, s3, chain, deployment, {**base_env, **shared})
            stack.callback(cluster._stop_processes)
            # one migration up front: both APIs then start on a schema at head
            migrate = subprocess.run(
                [str(TIMBRE), "migrate"], env=cluster.env, capture_output=True, text=True
            )
            if migrate.returncode != 0:
                raise RuntimeError(f"timbre migrate failed: {migrate.stderr[-2000:]}")
            for i, port in enumerate(ports):
                cluster._add_api(i, port)
            for i in range(workers):
                cluster.add_worker(f"worker-{i}")
            for api in cluster.apis:
                cluster.wait_ready(api)
            stack.pop_all()  # started: the caller stops it
        return cluster

    # --- processes ---------------------------------------------------------------------------
    def _add_api(self, index: int, port: int) -> Proc:
        var = self.root / f"api-{index}"
        env = {**self.env, "TIMBRE_PORT": str(port), "TIMBRE_VAR_DIR": str(var)}
        api = Proc(f"api-{index}", [str(TIMBRE), "run"], env, self.root / f"logs/api-{index}.log")
        self.apis.append(api.start())
        self.api_urls.append(f"http://127.0.0.1:{port}")
        return api

    def add_worker(self, name: str) -> Proc:
        env = {**self.env, "TIMBRE_VAR_DIR": str(self.root / name)}
        worker = Proc(name, [str(TIMBRE), "worker"], env, self.root / f"logs/{name}.log")
        self.workers.append(worker.start())
        return worker

    def url_of(self, api: Proc) -> str:
        return self.api_urls[self.apis.index(api)]

    def wait_ready(self, api: Proc, timeout_s: float = 120.0) -> None:
        url = self.url_of(api)

        def ready() -> bool:
            if not api.alive():
                raise RuntimeError(f"{api.name} exited:\n{api.tail()}")
            return httpx.get(f"{url}/readyz", timeout=5).status_code == 200

        try:
            wait_until(ready, f"{api.name} ready", timeout_s, every_s=0.3)
        except RuntimeError as exc:
            raise RuntimeError(str(exc)) from None

    def restart_api(self, api: Proc) -> None:
        api.start()
        self.wait_ready(api)

    def cli_env(self) -> dict[str, str]:
        return {**self.env, "TIMBRE_VAR_DIR": str(self.root / "cli")}

    def run_cli_argv(self, *args: str) -> list[str]:
        return [str(TIMBRE), *args]

    def run_cli(self, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess[str]:
        """``timbre <args>`` with the cluster's settings (a one-off operator command)."""
        return subprocess.run(
            self.run_cli_argv(*args),
            env=self.cli_env(),
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )

    def settle(self) -> subprocess.CompletedProcess[str]:
        return self.run_cli("settle")

    def dev(self, index: int) -> LocalAccount:
        return self.chain.dev_accounts[index]

    def w3(self) -> Web3:
        return Web3(Web3.HTTPProvider(self.chain.rpc_url))

    def _stop_processes(self) -> None:
        for proc in [*self.apis, *self.workers]:
            if proc.alive():
                assert proc.popen is not None
                proc.popen.terminate()
        for proc in [*self.apis, *self.workers]:
            proc.stop()

    def stop(self) -> None:
        """Stops every process and drops the database (idempotent)."""
        self._stop_processes()
        self.chain.stop()
        self.s3.stop()
        self.redis.stop()
        if "timbre_scale_" in self.database_url:  # ours, on the machine's server
            with contextlib.suppress(psycopg.Error):
                drop_database(self.database_url)

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.tail(2000)}" for p in [*self.apis, *self.workers])


def _deploy(chain: Chain, path: Path) -> Deployment:
    dev = chain.dev_accounts
    deployment = deploy_all(
        Web3(Web3.HTTPProvider(chain.rpc_url)),
        dev[DEPLOYER],
        settlement=dev[SETTLEMENT].address,
        guardian=dev[GUARDIAN].address,
        treasury=dev[TREASURY].address,
        dust=dev[DUST].address,
        epoch_length_s=EPOCH_S,
        challenge_window_s=CHALLENGE_S,
        withdrawal_delay_s=3600,
        dev_token=True,
    )
    deployment.save(path)
    # Leave epoch 0 behind at once: web3's gas estimate runs against the latest block, and a
    # registration estimated in epoch 0 (registeredEpoch = 0, a cheap zero store) but mined in
    # a later epoch runs out of gas (the relayer adds no margin to the estimate).
    chain.mine(timestamp=deployment.epoch_genesis + EPOCH_S)
    return deployment


@contextlib.contextmanager
def running_cluster(root: Path | None = None, **kwargs: Any) -> Iterator[Cluster]:
    with contextlib.ExitStack() as stack:
        if root is None:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="timbre-scale-")))
        cluster = Cluster.start(root, **kwargs)
        stack.callback(cluster.stop)
        yield cluster


def _interrupt(signum: int, frame: object) -> None:  # pragma: no cover - interactive
    raise KeyboardInterrupt


def main() -> None:  # pragma: no cover - interactive (make scale-demo)
    signal.signal(signal.SIGTERM, _interrupt)
    print("starting the scale-mode cluster on loopback (PostgreSQL, Redis, SeaweedFS, anvil,")
    print("2 API processes, 2 workers) ...", flush=True)
    with running_cluster() as c:
        print(f"public URL (SIWE domain): {c.public_url}")
        for api, url in zip(c.apis, c.api_urls, strict=True):
            print(f"  {api.name}: {url}   (docs {url}/docs, readiness {url}/readyz)")
        print(f"  workers: {', '.join(f'{w.name} (pid {w.pid})' for w in c.workers)}")
        print(f"  PostgreSQL: {c.database_url}")
        print(f"  Redis: {c.redis.url()}   S3: {c.s3.url}   chain RPC: {c.chain.rpc_url}")
        print(f"  deployment: {c.env['TIMBRE_DEPLOYMENT_FILE']}; logs under {c.root / 'logs'}")
        print("  settle an epoch: TIMBRE_* from the API env, then `timbre settle`")
        print("Ctrl-C stops everything.", flush=True)
        try:
            while all(p.alive() for p in [*c.apis, *c.workers]):
                time.sleep(1)
            print("a process exited:\n" + c.logs())
        except KeyboardInterrupt:
            print("\nstopping ...", flush=True)
    print("stopped.")


if __name__ == "__main__":  # pragma: no cover
    main()
