"""``eawe tenant list`` and ``eawe user create``: registered on the CLI by ``cli.main``.

``user create`` reads the password from standard input with ``--password-stdin`` (``printf %s
"$PW" | eawe user create ...``, as ``docker login`` does) and from a hidden prompt otherwise —
never from the command line, where shell history and ``ps`` would keep it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.operator_scope import run_as_operator
from eawe.db.models import Role

__all__ = ["tenant_list", "user_app"]

user_app = typer.Typer(help="Users of a tenant", no_args_is_help=True)
console = Console()


def tenant_list() -> None:
    """List the tenants: id, name, number of users, created (UTC)."""
    from cli.main import _open, _settings
    from eawe.db.repositories.tenants import TenantSummary, list_tenants

    async def go() -> list[TenantSummary]:
        db = await _open(_settings())
        try:
            async with db.session() as session:
                return await list_tenants(session)
        finally:
            await db.dispose()

    table = Table("id", "name", "users", "created")
    for summary in run_as_operator(go()):
        tenant = summary.tenant
        table.add_row(tenant.id, tenant.name, str(summary.users), f"{tenant.created_at:%Y-%m-%d %H:%M:%S}")
    console.print(table)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.read().rstrip("\r\n")
    return str(typer.prompt("password", hide_input=True, confirmation_prompt=True))


@user_app.command("create")
def user_create(
    email: Annotated[str, typer.Argument(help="The user's email (their sign-in name)")],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")] = "local",
    role: Annotated[Role, typer.Option("--role", help="System role", case_sensitive=False)] = Role.OPERATOR,
    groups: Annotated[
        str, typer.Option("--groups", help="Comma-separated business groups (document access)")
    ] = "",
    name: Annotated[str | None, typer.Option("--name", help="Display name")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input")
    ] = False,
) -> None:
    """Create a user in a tenant (the local one by default); the password comes from a prompt or stdin."""
    from cli.main import _fail, _open, _settings
    from eawe.db.repositories.tenants import find_or_create_local_tenant
    from eawe.db.repositories.users import create_user
    from eawe.errors import EAWEError

    password = _read_password(password_stdin)
    group_list = [g.strip() for g in groups.split(",") if g.strip()]

    async def go() -> tuple[str, str, str]:
        db = await _open(_settings())
        try:
            async with db.transaction() as session:
                tenant_row = await find_or_create_local_tenant(session, tenant)
                user = await create_user(
                    session,
                    tenant_id=tenant_row.id,
                    email=email,
                    password=password,
                    role=role,
                    name=name,
                    groups=group_list,
                )
                return tenant_row.name, user.email, user.id
        finally:
            await db.dispose()

    try:
        tenant_name, clean_email, user_id = run_as_operator(go())
    except EAWEError as exc:
        raise _fail(exc) from None
    console.print(
        f"user {clean_email} ({role.value}) created in tenant {tenant_name!r}: id={user_id}", soft_wrap=True
    )
