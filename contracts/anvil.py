"""A local anvil node for development and tests: start, snapshot/revert, mine, stop.

The binary comes from the npm package ``@foundry-rs/anvil`` installed under
``contracts/node_modules`` (``make setup`` / ``scripts/bootstrap.sh`` run ``npm ci`` there).
Accounts are the deterministic dev accounts of :data:`DEV_MNEMONIC`, unlocked on the node.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from eth_account import Account
from eth_account.signers.local import LocalAccount

#: The well-known development mnemonic (anvil's and hardhat's default). Never use it for value.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_BINARY = (
    Path(__file__).resolve().parent
    / "node_modules"
    / "@foundry-rs"
    / "anvil-linux-amd64"
    / "bin"
    / "anvil"
)


class AnvilError(RuntimeError):
    """anvil is missing, failed to start, or answered an RPC call with an error."""


def dev_accounts(count: int, mnemonic: str = DEV_MNEMONIC) -> list[LocalAccount]:
    """The first ``count`` accounts of ``mnemonic`` on the standard path m/44'/60'/0'/0/i."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Account.from_mnemonic(mnemonic, account_path=f"m/44'/60'/0'/0/{i}") for i in range(count)
    ]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AnvilNode:
    """An anvil process on a free 127.0.0.1 port; a context manager.

    ``state_file`` persists the chain (saved every second, so it survives a SIGKILL).
    ``auto_mine=False`` starts with ``--no-mining``: transactions wait for :meth:`mine`.
    """

    def __init__(
        self,
        *,
        chain_id: int = 31337,
        accounts: int = 10,
        balance_eth: int = 10_000,
        state_file: Path | None = None,
        auto_mine: bool = True,
        gas_limit: int | None = None,
        code_size_limit: int | None = None,
        extra_args: Sequence[str] = (),
        binary: Path | None = None,
        start_timeout_s: float = 15.0,
    ) -> None:
        self.chain_id = chain_id
        self.state_file = state_file
        self._binary = binary or Path(os.environ.get("TIMBRE_ANVIL", ANVIL_BINARY))
        self._accounts = accounts
        self._balance_eth = balance_eth
        self._auto_mine = auto_mine
        self._gas_limit = gas_limit
        self._code_size_limit = code_size_limit
        self._extra_args = tuple(extra_args)
        self._start_timeout_s = start_timeout_s
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None
        self._port = 0
        self._request_id = 0
        self.dev_accounts = dev_accounts(accounts)

    # ------------------------------------------------------------------ lifecycle

    @property
    def rpc_url(self) -> str:
        """The node's HTTP JSON-RPC endpoint."""
        if self._process is None:
            raise AnvilError("anvil is not running")
        return f"http://127.0.0.1:{self._port}"

    @property
    def accounts(self) -> list[str]:
        """Checksummed addresses of the unlocked dev accounts."""
        return [a.address for a in self.dev_accounts]

    def start(self) -> Self:
        """Starts anvil and waits until it answers RPC; retries on a port race."""
        if not self._binary.is_file():
            raise AnvilError(
                f"anvil binary not found at {self._binary}: run `make setup` "
                "(npm ci in contracts/) or set TIMBRE_ANVIL to an anvil executable"
            )
        last_error = ""
        for _ in range(3):
            self._port = _free_port()
            self._log = tempfile.TemporaryFile()
            args = [
                str(self._binary),
                "--host",
                "127.0.0.1",
                "--port",
                str(self._port),
                "--chain-id",
                str(self.chain_id),
                "--accounts",
                str(self._accounts),
                "--balance",
                str(self._balance_eth),
                "--mnemonic",
                DEV_MNEMONIC,
            ]
            if self.state_file is not None:
                args += ["--state", str(self.state_file), "--state-interval", "1"]
            if not self._auto_mine:
                args.append("--no-mining")
            if self._gas_limit is not None:
                args += ["--gas-limit", str(self._gas_limit)]
            if self._code_size_limit is not None:
                args += ["--code-size-limit", str(self._code_size_limit)]
            args += self._extra_args
            self._process = subprocess.Popen(  # noqa: S603 - fixed binary, no shell
                args, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
            deadline = time.monotonic() + self._start_timeout_s
            while time.monotonic() < deadline:
                if self._process.poll() is not None:
                    break
                try:
                    if int(self.rpc("eth_chainId"), 16) == self.chain_id:
                        return self
                except (OSError, AnvilError):
                    time.sleep(0.05)
            last_error = self._read_log()
            self._kill()
        raise AnvilError(f"anvil did not start: {last_error[-2000:]}")

    def stop(self) -> None:
        """Stops the process (SIGTERM, then SIGKILL) and closes its log."""
        self._kill()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.terminate()
                try:
                    self._process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait(timeout=5)
            self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def _read_log(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return bytes(self._log.read()).decode(errors="replace")

    # ------------------------------------------------------------------ RPC

    def rpc(self, method: str, params: Sequence[Any] = ()) -> Any:
        """Calls one JSON-RPC method and returns its result (raises AnvilError on error)."""
        self._request_id += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._request_id, "method": method, "params": list(params)}
        ).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self._port}",
            data=body,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            reply = json.loads(response.read())
        if "error" in reply:
            raise AnvilError(f"{method}: {reply['error']}")
        return reply["result"]

    def snapshot(self) -> str:
        """Takes an EVM snapshot; returns its id for :meth:`revert`."""
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        """Reverts to a snapshot (which is consumed: take a new one to revert again)."""
        if not self.rpc("evm_revert", [snapshot_id]):
            raise AnvilError(f"evm_revert({snapshot_id}) failed")

    def mine(self, blocks: int = 1, *, timestamp: int | None = None) -> None:
        """Mines ``blocks`` blocks (the first at ``timestamp`` when given)."""
        if timestamp is not None:
            self.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.rpc("anvil_mine", [hex(blocks)])

    def increase_time(self, seconds: int) -> None:
        """Moves the clock forward; the next mined block carries the new time."""
        self.rpc("evm_increaseTime", [seconds])

    def set_automine(self, enabled: bool) -> None:
        """Switches automatic mining on or off."""
        self.rpc("evm_setAutomine", [enabled])

    def latest_timestamp(self) -> int:
        """Timestamp of the latest block, unix seconds."""
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)
