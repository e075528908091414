"""Pinned versions: exit 1 and print each dependency that is not pinned by the rule.

The rule:

* Python (pyproject.toml: build-system requires, runtime dependencies and every extra; the
  packages scripts/bootstrap.sh installs by hand): an exact ``==`` version, or a bounded range
  with a lower bound (``>=`` / ``>``) and an exclusive upper bound (``<``), e.g. ``>=2.10,<3``
  (the range we tested and accept security releases in). Nothing open-ended, no bare names,
  no URLs.
* npm (frontend/, contracts/): package.json names exact versions; package-lock.json (v2+) is
  committed, agrees with package.json, and records a version and an integrity hash for every
  package it installs; bootstrap installs with ``npm ci`` (the lock, never a re-resolve).
* Debian: bootstrap installs only the packages its ``APT_PACKAGES`` list names.

Not covered (printed as a note): bootstrap upgrades pip itself, unpinned, when it creates the
virtualenv; pip is the installer, not a dependency of the code.

Stdlib only, so ``make check`` needs nothing new.

    .venv/bin/python scripts/check_pins.py [--self-test]
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NPM_DIRS = ("frontend", "contracts")
_REQ = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)(\[[A-Za-z0-9,._ -]+\])?\s*(.*?)\s*(;.*)?$")
_CLAUSE = re.compile(r"^(==|>=|>|<=|<|~=|!=)\s*([0-9][A-Za-z0-9.+!*-]*)$")
_EXACT_NPM = re.compile(r"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$")


def python_problem(requirement: str) -> str | None:
    """Why ``requirement`` (PEP 508) breaks the rule, or None."""
    m = _REQ.match(requirement)
    if not m or "@" in requirement:
        return "not a plain name + version specifier"
    spec = m.group(3).replace(" ", "")
    if not spec:
        return "no version at all"
    clauses = []
    for part in spec.split(","):
        c = _CLAUSE.match(part)
        if not c:
            return f"unreadable clause {part!r}"
        clauses.append((c.group(1), c.group(2)))
    ops = [op for op, _ in clauses]
    if ops == ["=="] and "*" not in clauses[0][1]:
        return None
    lower = [v for op, v in clauses if op in (">=", ">")]
    upper = [v for op, v in clauses if op == "<"]
    if "==" in ops or "~=" in ops:
        return "mix '==' alone, or use '>=A,<B'"
    if not lower:
        return "no lower bound"
    if not upper:
        return "no upper bound ('<')"
    return None


def bootstrap_text() -> str:
    return (ROOT / "scripts" / "bootstrap.sh").read_text(encoding="utf-8")


def check_python() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    groups: dict[str, list[str]] = {
        "build-system.requires": data["build-system"]["requires"],
        "project.dependencies": data["project"]["dependencies"],
    }
    for extra, reqs in data["project"].get("optional-dependencies", {}).items():
        groups[f"project.optional-dependencies.{extra}"] = reqs
    # Packages bootstrap installs by hand (quoted specs after `pip install`).
    by_hand = re.findall(r"pip install[^\n]*?((?:'[^']+'\s*)+)$", bootstrap_text(), re.M)
    groups["scripts/bootstrap.sh pip install"] = [
        spec
        for line in by_hand
        for spec in re.findall(r"'([^']+)'", line)
        if not spec.startswith(".")
    ]
    out = []
    for group, reqs in groups.items():
        for req in reqs:
            problem = python_problem(req)
            if problem:
                out.append(f"pyproject/{group}: {req!r}: {problem}")
    return out


def check_npm() -> list[str]:
    out = []
    text = bootstrap_text()
    if "npm ci" not in text or re.search(r"npm (install|i)\b", text):
        out.append("scripts/bootstrap.sh: install npm packages with `npm ci` only")
    for d in NPM_DIRS:
        pkg_path, lock_path = ROOT / d / "package.json", ROOT / d / "package-lock.json"
        if not pkg_path.is_file():
            continue
        if not lock_path.is_file():
            out.append(f"{d}/package-lock.json: missing")
            continue
        pkg = json.loads(pkg_path.read_text(encoding="utf-8"))
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        declared = {**pkg.get("dependencies", {}), **pkg.get("devDependencies", {})}
        for name, version in declared.items():
            if not _EXACT_NPM.match(version):
                out.append(f"{d}/package.json: {name} {version!r}: not an exact version")
        if lock.get("lockfileVersion", 1) < 2:
            out.append(f"{d}/package-lock.json: lockfileVersion < 2 (no integrity per package)")
            continue
        root = lock["packages"].get("", {})
        locked = {**root.get("dependencies", {}), **root.get("devDependencies", {})}
        if locked != declared:
            out.append(f"{d}/package-lock.json: out of date with package.json (run npm install)")
        for where, entry in lock["packages"].items():
            if not where or entry.get("link"):
                continue
            if not entry.get("version") or not entry.get("integrity"):
                out.append(f"{d}/package-lock.json: {where}: no version or integrity hash")
    return out


def check_apt() -> list[str]:
    text = bootstrap_text()
    m = re.search(r"APT_PACKAGES=\(([^)]*)\)", text)
    if not m or not m.group(1).split():
        return ["scripts/bootstrap.sh: no APT_PACKAGES list"]
    out = []
    for line in text.splitlines():
        if "apt-get install" in line and '"${missing[@]}"' not in line:
            out.append(
                f"scripts/bootstrap.sh: apt-get install outside APT_PACKAGES: {line.strip()}"
            )
    return out


def self_test() -> None:
    good = ["fastapi>=0.120,<0.170", "torchaudio==2.11.0", "uvicorn[standard]>=0.34,<0.60"]
    bad = ["fastapi", "fastapi>=0.120", "fastapi<1", "x==1.*", "x~=1.2", "x @ https://e/x.whl"]
    for req in good:
        assert python_problem(req) is None, req
    for req in bad:
        assert python_problem(req) is not None, req
    assert python_problem('tomli>=2,<3; python_version < "3.11"') is None


def main(argv: list[str]) -> int:
    if "--self-test" in argv:
        self_test()
        print("check_pins: self-test passed")
        return 0
    if re.search(r"pip\"? install -q --upgrade pip", bootstrap_text()):
        print("check_pins: note: bootstrap upgrades pip itself unpinned (the installer)")
    problems = check_python() + check_npm() + check_apt()
    for p in problems:
        print(p)
    if problems:
        print(f"check_pins: {len(problems)} unpinned dependencies (rule: scripts/check_pins.py)")
        return 1
    print("check_pins: every dependency is pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
