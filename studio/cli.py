"""The ``timbre`` command line: run the service, check backends, migrate the database."""

from __future__ import annotations

import os
import sys

import typer
from fastapi import FastAPI

from studio.errors import ConfigurationError
from studio.settings import Settings, get_settings

app = typer.Typer(
    help="Timbre: creator-controlled generative royalty platform.", no_args_is_help=True
)


def _settings_or_exit() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        typer.secho(f"configuration error: {exc.message}", fg="red", err=True)
        raise typer.Exit(2) from exc


@app.command()
def doctor() -> None:
    """Print each configured backend and whether it is reachable (exit 1 if any is not)."""
    from studio.services import build_services, check_backends

    settings = _settings_or_exit()
    services = build_services(settings)
    try:
        statuses = check_backends(services)
    finally:
        services.close()
    for s in statuses:
        mark = typer.style("ok  ", fg="green") if s.ok else typer.style("FAIL", fg="red")
        line = f"{mark} {s.name:<13} {s.target}  ({s.setting})"
        if s.problem:
            line += f"\n       {s.problem}"
        typer.echo(line)
    if not all(s.ok for s in statuses):
        raise typer.Exit(1)


@app.command()
def migrate(revision: str = typer.Argument("head")) -> None:
    """Upgrade the database schema to ``revision`` (default: the newest)."""
    from studio.db.migrate import upgrade

    settings = _settings_or_exit()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


@app.command()
def worker(concurrency: int = typer.Option(1, help="Jobs run at once by this process")) -> None:
    """Run a Celery job worker (TIMBRE_JOB_BROKER=celery) until stopped."""
    from studio.jobs.celery_app import worker_main
    from studio.logs import configure_logging

    settings = _settings_or_exit()
    if settings.job_broker != "celery":
        typer.secho("timbre worker needs TIMBRE_JOB_BROKER=celery", fg="red", err=True)
        raise typer.Exit(2)
    configure_logging(settings.log_level)
    worker_main(settings, concurrency)


@app.command()
def settle(
    watch: float = typer.Option(
        0.0, help="Keep settling every this many seconds (0: one pass, then exit)"
    ),
) -> None:
    """Close the oldest closable epoch: claim vouchers, split, publish the report, propose the
    root; resumable after a crash. Exit 1 when the ledger and the chain disagree."""
    from studio.logs import configure_logging
    from studio.services import build_services
    from studio.settlement.schedule import settle_pass

    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    services = build_services(settings)
    try:
        ok = settle_pass(services, echo=typer.echo, watch_s=watch)
    finally:
        services.close()
    if not ok:
        raise typer.Exit(1)


@app.command()
def verify(epoch: int = typer.Option(..., "--epoch", help="The epoch to recompute")) -> None:
    """Recompute an epoch from its published report and the chain: match, or the first
    difference (exit 1)."""
    from contracts.deploy import connect
    from royalties.verify import verify_epoch
    from studio.services import build_services

    settings = _settings_or_exit()
    services = build_services(settings)
    try:
        if services.chain is None or services.deployment is None:
            typer.secho("verify needs TIMBRE_CHAIN_RPC_URL and TIMBRE_DEPLOYMENT_FILE", fg="red")
            raise typer.Exit(2)
        contracts = connect(services.chain, services.deployment)
        result = verify_epoch(
            contracts, services.store, epoch, from_block=services.deployment.block_number
        )
    finally:
        services.close()
    if result.ok:
        root = "0x" + result.root.hex() if result.root else "?"
        typer.secho(f"epoch {epoch}: match (root {root})", fg="green")
        return
    diff = result.difference
    assert diff is not None
    typer.secho(f"epoch {epoch}: MISMATCH at {diff.where}", fg="red")
    typer.echo(f"  recomputed: {diff.expected}\n  reported:   {diff.reported}")
    raise typer.Exit(1)


def worker_app() -> FastAPI:
    """The app of each API process of ``timbre run --workers N`` (uvicorn's factory): settings
    from the environment, which ``run`` completed before starting the processes."""
    from studio.app import create_app
    from studio.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.log_level)
    return create_app(settings)


@app.command()
def run(
    host: str | None = typer.Option(None, help="Bind address (default TIMBRE_HOST)"),
    port: int | None = typer.Option(None, help="Port (default TIMBRE_PORT)"),
    workers: int = typer.Option(
        1,
        min=1,
        help="API processes sharing the port (Python runs one request's CPU work at a time "
        "per process: more processes use more cores). Needs TIMBRE_CHAIN_RPC_URL (no embedded "
        "chain) and a shared database (PostgreSQL); set TIMBRE_RATE_LIMIT_REDIS_URL so that "
        "the processes share one rate-limit budget per caller.",
    ),
) -> None:
    """Migrate the database, then serve the API (and web app) until Ctrl-C."""
    import uvicorn

    from studio.app import create_app
    from studio.db.migrate import upgrade
    from studio.logs import configure_logging

    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    settings.var_dir.mkdir(parents=True, exist_ok=True)
    try:
        upgrade(settings.resolved_database_url)
    except Exception as exc:
        typer.secho(f"TIMBRE_DATABASE_URL: cannot migrate the database: {exc}", fg="red", err=True)
        raise typer.Exit(2) from exc
    chain = None
    if workers > 1:
        problem = None
        if not settings.chain_rpc_url and settings.embedded_chain:
            problem = "needs TIMBRE_CHAIN_RPC_URL (the embedded chain is for one process)"
        elif settings.resolved_database_url.startswith("sqlite"):
            problem = "needs TIMBRE_DATABASE_URL on PostgreSQL (SQLite is for one process)"
        if problem:
            typer.secho(f"--workers {workers} {problem}", fg="red", err=True)
            raise typer.Exit(2)
        if not settings.rate_limit_redis_url:
            typer.secho(
                "warning: without TIMBRE_RATE_LIMIT_REDIS_URL each API process counts rate "
                f"limits on its own (a caller may get up to {workers}x each limit)",
                fg="yellow",
                err=True,
            )
        settings.secret_bytes()  # a development secret is made once, here, not per process
    if not settings.chain_rpc_url and settings.embedded_chain:
        if settings.environment == "production":
            typer.secho("TIMBRE_CHAIN_RPC_URL is required in production", fg="red", err=True)
            raise typer.Exit(2)
        from studio.local_chain import start_local_chain

        chain = start_local_chain(settings)
        settings = chain.settings_for(settings).model_copy(update={"demo_seed": True})
    bind_host, bind_port = host or settings.host, port or settings.port
    if (host or port) and not os.environ.get("TIMBRE_PUBLIC_URL"):
        settings = settings.model_copy(update={"public_url": f"http://{bind_host}:{bind_port}"})
        if workers > 1:  # the processes read their settings from the environment
            os.environ["TIMBRE_PUBLIC_URL"] = settings.public_url
    application = create_app(settings) if workers == 1 else None
    schedule = None
    if settings.settle_interval_s > 0 and settings.relayer_key and settings.deployment_file:
        from studio.settlement.schedule import start_schedule

        schedule = start_schedule(settings, settings.settle_interval_s)
    lines = [
        f"Timbre is starting on {settings.public_url}",
        f"  web app: {settings.public_url}/   API docs: {settings.public_url}/docs",
    ]
    if chain is not None:
        lines.append(
            f"  local chain: {chain.node.rpc_url} (chain id {chain.node.chain_id}); state in "
            f"{settings.var_dir / 'chain'}; demo wallets are offered on the sign-in page"
        )
    lines.append("  Ctrl-C stops everything it started.")
    typer.echo("\n".join(lines))
    try:
        if application is not None:
            uvicorn.run(application, host=bind_host, port=bind_port, log_config=None)
        else:
            uvicorn.run(
                "studio.cli:worker_app",
                factory=True,
                workers=workers,
                host=bind_host,
                port=bind_port,
                log_config=None,
            )
    except ConfigurationError as exc:
        typer.secho(f"start-up failed: {exc.message}", fg="red", err=True)
        sys.exit(2)
    finally:
        if schedule is not None:
            schedule[1].set()
        if chain is not None:
            chain.stop()
