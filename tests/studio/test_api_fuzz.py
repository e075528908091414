"""Hostile input: schemathesis generates requests from our own OpenAPI schema against a running
server (signed in as a creator and fan). No request may cause a 5xx, and every response must
match the schema (documented status, content type, body shape)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from studio.services import Services
from tests.studio.live import live_server
from tests.studio.wallets import Wallet, sign_in

EXAMPLES = 15


@pytest.fixture(scope="module")
def fuzz_server(services: Services) -> Iterator[tuple[str, dict[str, str]]]:
    with live_server(services) as base:
        with httpx.Client(base_url=base) as http:
            headers = sign_in(http, Wallet.new(), roles=("creator", "fan"))  # type: ignore[arg-type]
        yield base, headers


def test_no_server_errors_and_schema_conformance(fuzz_server: tuple[str, dict[str, str]]) -> None:
    base, headers = fuzz_server
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                base_url=base,
                headers=headers,
                # Schema-valid is not always meaningful (a SIWE message must also be a valid
                # EIP-4361 text, an id must exist): such requests rightly get a 4xx.
                excluded_checks=[schemathesis.checks.positive_data_acceptance],
            )

        try:
            run()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collect them all
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}"[:1500])
    assert operations > 20
    assert failures == [], "\n\n".join(failures)
