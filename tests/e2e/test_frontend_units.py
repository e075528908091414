"""The web app's own unit and component tests (vitest: shares, money, EIP-712/EIP-4361 text,
progress bar, sliders, uploader), run as part of the Python suite so `make test` covers them."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"


def test_vitest_suite_passes() -> None:
    npm = shutil.which("npm")
    if npm is None or not (FRONTEND / "node_modules" / ".bin" / "vitest").exists():
        pytest.fail("frontend/node_modules is missing: run `make setup` (npm ci in frontend/)")
    run = subprocess.run(
        [npm, "test", "--silent"],
        cwd=FRONTEND,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CI": "1", "NO_COLOR": "1"},
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
