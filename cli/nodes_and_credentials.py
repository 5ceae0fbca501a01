"""``eawe nodes list`` and ``eawe credentials add``: registered on the CLI by ``cli.main``.

``credentials add`` reads the secret from standard input when it is piped (``... < file`` or
``printf %s "$TOKEN" | eawe credentials add ...``) and from a hidden prompt otherwise — never
from the command line, where shell history and ``ps`` would keep it.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from cli.operator_scope import run_as_operator

__all__ = ["credentials_add", "nodes_app"]

nodes_app = typer.Typer(help="Node types (built-in and installed plugins)", no_args_is_help=True)
console = Console()


@nodes_app.command("list")
def nodes_list() -> None:
    """List the node types every EAWE process loads (restart servers after installing a plugin)."""
    from agents.registry import create_registry

    registry = create_registry()
    builtin = set(create_registry(plugins=False).names())
    table = Table("type", "source", "description")
    for node_type in sorted(registry, key=lambda n: n.name):
        table.add_row(
            node_type.name, "built-in" if node_type.name in builtin else "plugin", node_type.description
        )
    console.print(table)


def _read_secret() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.read().rstrip("\r\n")
    return str(typer.prompt("secret", hide_input=True, confirmation_prompt=True))


def credentials_add(
    name: Annotated[str, typer.Argument(help="The name workflows use (e.g. in a tool node's credential)")],
    service: Annotated[str, typer.Option("--service", help="Service name, e.g. INVOICES_API")],
    type_: Annotated[str, typer.Option("--type", help="Credential type, e.g. API_KEY")] = "API_KEY",
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")] = "local",
) -> None:
    """Store a credential for a tenant (the local one by default); the secret comes from stdin or a prompt."""
    from cli.main import _fail, _open, _settings
    from eawe.credentials import CredentialCipher, create_credential
    from eawe.db.repositories.tenants import find_or_create_local_tenant
    from eawe.errors import EAWEError

    secret = _read_secret()

    async def go() -> tuple[str, str]:
        settings = _settings()
        db = await _open(settings)
        try:
            async with db.transaction() as session:
                tenant_row = await find_or_create_local_tenant(session, tenant)
                row = await create_credential(
                    session,
                    CredentialCipher(settings.parsed_credential_keys()),
                    tenant_id=tenant_row.id,
                    name=name,
                    type=type_,
                    service_name=service,
                    secret=secret,
                )
                return tenant_row.name, row.id
        finally:
            await db.dispose()

    try:
        tenant_name, credential_id = run_as_operator(go())
    except EAWEError as exc:
        raise _fail(exc) from None
    console.print(f"credential {name!r} stored for tenant {tenant_name!r}: id={credential_id}")
