"""Secret scan over the files git tracks (plus new files it does not ignore): exit 1 and print
``path:line: rule`` for anything that looks like a credential.

Rules: private-key PEM blocks, key files by name, Ethereum private keys (64 hex digits named
like a key), BIP-39 mnemonics, cloud/VCS token formats, and high-entropy string literals
assigned to secret-looking names. Allowed without comment: anvil's public development mnemonic
and the private keys derived from it (the well-known test accounts the tests and the demo use),
values that say what they are (``test``, ``example``, ``dummy``, ...), and any line carrying
``secret-scan: allow`` with a reason.

Stdlib only (plus eth_account, when importable, to derive the dev keys), so ``make check``
needs nothing new.

    .venv/bin/python scripts/secret_scan.py [paths ...]
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: anvil's and hardhat's default mnemonic: public, for local chains only.
DEV_MNEMONIC = "test test test test test test test test test test test junk"
ALLOW_MARK = "secret-scan: allow"
PLACEHOLDER = re.compile(
    r"test|example|dummy|fake|placeholder|changeme|sample|demo|bench|xxxx|0123456789", re.I
)
KEY_NAMES = (  # what a variable holding a credential tends to be called
    r"(?:secret|passw(?:or)?d|passphrase|private[_-]?key|priv[_-]?key|api[_-]?key|token"
    r"|mnemonic|seed|credential|relayer[_-]?key|access[_-]?key)"
)

RULES: list[tuple[str, re.Pattern[str]]] = [
    ("private key block", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}")),
    ("Stripe live key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("Google API key", re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b")),
    ("npm token", re.compile(r"\bnpm_[A-Za-z0-9]{36}\b")),
    ("PyPI token", re.compile(r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}")),
    (
        "Ethereum private key",
        re.compile(KEY_NAMES + r"[\"']?\s*[:=]\s*[\"']?(?:0x)?([0-9a-fA-F]{64})\b", re.I),
    ),
    (
        "mnemonic phrase",
        re.compile(r"[\"']((?:[a-z]{3,8} ){11}[a-z]{3,8}(?: (?:[a-z]{3,8} ){11}[a-z]{3,8})?)[\"']"),
    ),
    (
        "secret-looking literal",
        re.compile(KEY_NAMES + r"\w*[\"']?\s*[:=]\s*[\"']([^\"'\s]{16,})[\"']", re.I),
    ),
]
KEY_FILE_NAMES = re.compile(
    r"(^|/)(id_rsa|id_ed25519|id_ecdsa|\.env|.*\.pem|.*\.p12|.*\.pfx|.*\.key)$"
)
SKIP_SUFFIXES = {
    ".png",
    ".jpg",
    ".jpeg",
    ".gif",
    ".ico",
    ".wav",
    ".flac",
    ".mp3",
    ".ogg",
    ".woff",
    ".woff2",
    ".safetensors",
    ".pdf",
    ".lock",
}


def dev_keys() -> set[str]:
    """The dev mnemonic's first 20 private keys, lower-case hex without 0x."""
    try:
        from eth_account import Account
    except ImportError:  # pragma: no cover - then every dev key must be marked by hand
        return set()
    Account.enable_unaudited_hdwallet_features()
    return {
        bytes(Account.from_mnemonic(DEV_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key).hex()
        for i in range(20)
    }


def entropy(s: str) -> float:
    counts = Counter(s)
    return -sum(c / len(s) * math.log2(c / len(s)) for c in counts.values())


def tracked_files() -> list[str]:
    git = shutil.which("git") or "git"
    out = subprocess.run(  # noqa: S603 - fixed argv
        [git, "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def findings(path: str, text: str, allowed_keys: set[str]) -> Iterator[tuple[int, str]]:
    for lineno, line in enumerate(text.splitlines(), 1):
        if ALLOW_MARK in line:
            continue
        for rule, pattern in RULES:
            for m in pattern.finditer(line):
                value = m.group(1) if m.groups() else m.group(0)
                if rule == "Ethereum private key" and value.lower() in allowed_keys:
                    continue
                if rule == "mnemonic phrase" and (
                    value == DEV_MNEMONIC or len(set(value.split())) < 6
                ):
                    continue  # the dev mnemonic, or repeated filler words
                if rule == "mnemonic phrase" and not _looks_like_mnemonic(value):
                    continue
                if rule == "secret-looking literal" and (
                    PLACEHOLDER.search(value)
                    or entropy(value) < 3.5
                    or value.lower().removeprefix("0x") in allowed_keys
                    or not re.search(r"\d", value)
                    or "{" in value
                    or value.startswith(("$", "%", "<", "http"))
                ):
                    continue
                yield lineno, rule
                break
            else:
                continue
            break  # one finding per line is enough to look at it


def _looks_like_mnemonic(value: str) -> bool:
    """Twelve (or 24) distinct-ish lower-case words with no sentence punctuation: prose
    rarely is. Still a heuristic: mark false positives with ``secret-scan: allow``."""
    words = value.split()
    stop = {"the", "and", "for", "with", "that", "this", "from", "are", "not", "you", "our"}
    return sum(w in stop for w in words) <= 1


def scan(paths: Iterable[str]) -> list[str]:
    allowed = dev_keys()
    problems: list[str] = []
    for path in paths:
        if KEY_FILE_NAMES.search(path) and not path.endswith(".env.example"):
            problems.append(f"{path}: a key or environment file is committed")
            continue
        file = ROOT / path
        if file.suffix.lower() in SKIP_SUFFIXES or not file.is_file():
            continue
        if file.stat().st_size > 2_000_000:
            continue  # large artifacts (compiled contracts, lockfiles) hold no hand-written keys
        try:
            text = file.read_text()
        except UnicodeDecodeError:
            continue
        problems.extend(f"{path}:{n}: {rule}" for n, rule in findings(path, text, allowed))
    return problems


def _self_test() -> int:
    """Planted findings (built at run time, so this file holds none) must be found, and the
    allowed look-alikes must pass."""
    key = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    planted = {
        f'relayer_key = "0x{key}"': "Ethereum private key",
        "AWS = " + repr("AKIA" + "IOSFODNN7EXAMPLQ"): "AWS access key id",
        "t = " + repr("ghp_" + "abcdefghijklmnopqrstuvwxyz0123456789"): "GitHub token",
        "M = "
        + repr(
            " ".join(["legal", "winner", "thank", "year", "wave", "sausage"] * 2)
        ): "mnemonic phrase",
        "SECRET_KEY = " + repr("kT9#mQ2$vL8p" + "Z4xR7nW1cY5b"): "secret-looking literal",
        "-----BEGIN OPENSSH " + "PRIVATE KEY-----": "private key block",
    }
    allowed = [
        f"MNEMONIC = {DEV_MNEMONIC!r}",
        'secret_key = "test-secret-key-0123456789abcdef0123456789"',
        f'relayer = "{ALLOW_MARK}" + "0x{key}"',
    ]
    keys = dev_keys()
    if keys:
        allowed.append(f'private_key = "0x{sorted(keys)[0]}"')
    text = "\n".join([*planted, *allowed])
    got = [rule for _, rule in findings("self-test", text, keys)]
    if got != list(planted.values()):
        print(f"secret scan self-test FAILED: expected {list(planted.values())}, got {got}")
        return 1
    print(f"secret scan self-test: {len(planted)} planted found, {len(allowed)} allowed passed")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["--self-test"]:
        return _self_test()
    paths = argv or tracked_files()
    problems = scan(paths)
    for p in problems:
        print(p)
    if problems:
        print(
            f"secret scan: {len(problems)} finding(s). Remove the secret (and rotate it), or mark "
            f"a public/test value with '{ALLOW_MARK}: <why>' on its line.",
            file=sys.stderr,
        )
        return 1
    print(f"secret scan: {len(paths)} files, no secrets found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
