"""Settings refuse unsafe or incomplete configurations; start-up names the setting of an
unreachable backend; `timbre doctor` reports each backend."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from studio.app import create_app
from studio.errors import ConfigurationError
from studio.settings import Settings


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_production_requires_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TIMBRE_SECRET_KEY is required in production"):
        Settings(environment="production", var_dir=tmp_path)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        Settings(environment="production", var_dir=tmp_path, secret_key="short")
    ok = Settings(environment="production", var_dir=tmp_path, secret_key="x" * 40)
    assert ok.secret_bytes() == b"x" * 40
    assert not (tmp_path / "secret_key").exists()


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    first = Settings(var_dir=tmp_path).secret_bytes()
    assert len(first) == 64
    assert Settings(var_dir=tmp_path).secret_bytes() == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_s3_and_celery_need_their_settings(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"TIMBRE_S3_ENDPOINT.*TIMBRE_S3_ACCESS_KEY"):
        Settings(var_dir=tmp_path, object_store="s3")
    with pytest.raises(ValidationError, match="TIMBRE_BROKER_URL"):
        Settings(var_dir=tmp_path, job_broker="celery")


def test_settings_come_from_timbre_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIMBRE_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("TIMBRE_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("TIMBRE_PUBLIC_URL", "https://timbre.example")
    s = Settings()
    assert s.max_upload_bytes == 1234
    assert s.siwe_domain == "timbre.example"
    assert s.resolved_database_url == f"sqlite:///{(tmp_path / 'timbre.db').resolve()}"


@pytest.mark.parametrize(
    ("overrides", "setting"),
    [
        (
            {"database_url": "postgresql+psycopg://postgres@127.0.0.1:{port}/nope"},
            "TIMBRE_DATABASE_URL",
        ),
        (
            {
                "object_store": "s3",
                "s3_endpoint": "127.0.0.1:{port}",
                "s3_access_key": "a",
                "s3_secret_key": "b",
            },
            "TIMBRE_OBJECT_STORE",
        ),
        ({"chain_rpc_url": "http://127.0.0.1:{port}"}, "TIMBRE_CHAIN_RPC_URL"),
        (
            {"job_broker": "celery", "broker_url": "redis://127.0.0.1:{port}/0"},
            "TIMBRE_BROKER_URL",
        ),
    ],
    ids=["database", "object-store", "chain", "broker"],
)
def test_unreachable_backend_fails_startup_naming_the_setting(
    tmp_path: Path, overrides: dict[str, str], setting: str
) -> None:
    port = _closed_port()
    values = {k: v.format(port=port) for k, v in overrides.items()}
    settings = Settings(var_dir=tmp_path, environment="test", **values)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError) as info, TestClient(create_app(settings)):
        pass
    assert info.value.setting == setting
    assert setting in str(info.value)


def _timbre(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "timbre"
    return subprocess.run(
        [str(exe), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )


def test_doctor_reports_each_backend(tmp_path: Path) -> None:
    ok = _timbre(["doctor"], {"TIMBRE_VAR_DIR": str(tmp_path)})
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "database" in ok.stdout and "object_store" in ok.stdout
    assert "FAIL" not in ok.stdout

    port = _closed_port()
    bad = _timbre(
        ["doctor"],
        {
            "TIMBRE_VAR_DIR": str(tmp_path),
            "TIMBRE_JOB_BROKER": "celery",
            "TIMBRE_BROKER_URL": f"redis://:hunter2@127.0.0.1:{port}/0",
        },
    )
    assert bad.returncode == 1
    assert "FAIL" in bad.stdout and "job_broker" in bad.stdout and "TIMBRE_BROKER_URL" in bad.stdout
    assert "hunter2" not in bad.stdout + bad.stderr  # credentials never printed


def test_invalid_environment_is_a_clear_cli_error(tmp_path: Path) -> None:
    r = _timbre(["doctor"], {"TIMBRE_VAR_DIR": str(tmp_path), "TIMBRE_OBJECT_STORE": "s3"})
    assert r.returncode == 2
    assert "TIMBRE_S3_ENDPOINT" in r.stderr
