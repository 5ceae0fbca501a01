"""``eawe audit ...``: export a tenant's verifiable log, check one offline, check the database.

    eawe audit export --tenant T FILE          the sealed log and its signed tree heads (JSON lines)
    eawe audit verify FILE --public-key K      offline: signatures, recomputed roots, and
                       [--trusted-head H]      consistency with heads the verifier kept earlier
    eawe audit verify [--tenant T]             online: every tenant's log in the database
    eawe audit public-keys                     the tree-head keys (JSON, as GET /v1/audit-logs/public-keys)

Exit status: 0 verified, 1 verification failed, 2 bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from cli.operator_scope import run_as_operator
from eawe.settings import Settings

__all__ = ["audit_app"]

audit_app = typer.Typer(help="The verifiable audit log", no_args_is_help=True)
console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def _settings() -> Settings:
    from eawe.local_secrets import ensure_runtime_secrets

    return ensure_runtime_secrets(Settings())


def _bad_input(field: str, message: str) -> typer.Exit:
    err_console.print(f"[red]error[/red]: {field}: {message}")
    return typer.Exit(code=2)


async def _open_and_seal(settings: Settings) -> Any:
    """Open (and migrate) the database, then seal what is sealable if no sealer runs elsewhere."""
    from eawe.audit_sealer import AuditSealer
    from eawe.db.database import open_app_database

    database = await open_app_database(settings, migrate=True, check_role=False)
    await AuditSealer(database.sqlalchemy_url, settings.audit_signer()).seal_now()
    return database


async def _tenants(database: Any, tenant: str | None) -> list[Any]:
    from sqlalchemy import or_, select

    from eawe.db.models import Tenant

    async with database.session() as session:
        stmt = select(Tenant).order_by(Tenant.name)
        if tenant:
            stmt = stmt.where(or_(Tenant.id == tenant, Tenant.name == tenant))
        return list((await session.scalars(stmt)).all())


@audit_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Where to write the JSON lines", dir_okay=False)],
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")],
) -> None:
    """Write a tenant's sealed log and every signed tree head to FILE (JSON lines)."""
    from eawe.audit_proofs import export_lines

    async def go() -> int | None:
        database = await _open_and_seal(_settings())
        try:
            found = await _tenants(database, tenant)
            if not found:
                return None
            lines = await export_lines(database, found[0].id)
        finally:
            await database.dispose()
        with file.open("w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(json.dumps(line, sort_keys=True, ensure_ascii=False, default=str) + "\n")
        return int(lines[0]["entries"])

    written = run_as_operator(go())
    if written is None:
        raise _bad_input("--tenant", f"{tenant!r} not found")
    console.print(f"exported {written} entries to {file}")


def _read_lines(path: Path, field: str) -> list[dict[str, Any]]:
    lines = _read_json(path, field)
    if not all(isinstance(x, dict) for x in lines):
        raise _bad_input(field, f"{path}: every line must be a JSON object")
    return lines


def _read_json(path: Path, field: str) -> list[Any]:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise _bad_input(field, f"cannot read {path} ({exc.strerror})") from None
    try:  # one JSON document (a head, a list of heads), else JSON lines (an export)
        loaded = json.loads(text)
        return loaded if isinstance(loaded, list) else [loaded]
    except json.JSONDecodeError:
        pass
    try:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise _bad_input(field, f"{path} is not JSON or JSON lines (line {exc.lineno}: {exc.msg})") from None


def _heads(lines: list[dict[str, Any]], field: str) -> list[Any]:
    from eawe.audit_keys import TreeHead

    try:
        return [TreeHead.from_dict(x) for x in lines if x.get("type", "tree_head") == "tree_head"]
    except ValueError as exc:
        raise _bad_input(field, str(exc)) from None


@audit_app.command("verify")
def verify(
    file: Annotated[
        Path | None,
        typer.Argument(help="An export to check offline (omit to check the database)", dir_okay=False),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option("--public-key", help="PEM or public-keys JSON file; repeat for rotated keys"),
    ] = None,
    trusted_head: Annotated[
        list[Path] | None,
        typer.Option(
            "--trusted-head", help="Tree head(s) kept from earlier: a head's JSON, or an older export"
        ),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Online: tenant id or name")] = None,
) -> None:
    """Check an exported log offline, or (without FILE) every tenant's log in the database."""
    ok = _verify_file(file, public_key or [], trusted_head or []) if file else _verify_database(tenant)
    if not ok:
        raise typer.Exit(code=1)


def _verify_file(file: Path, public_keys: list[Path], trusted_files: list[Path]) -> bool:
    from eawe.audit_keys import load_public_keys
    from eawe.audit_proofs import EXPORT_FORMAT
    from eawe.audit_verify import check_log

    if not public_keys:
        raise _bad_input("--public-key", "at least one public key is required to check signatures")
    try:
        keys = load_public_keys(p.read_text(encoding="utf-8") for p in public_keys)
    except (OSError, ValueError, KeyError) as exc:
        raise _bad_input("--public-key", f"not an Ed25519 public key file ({exc})") from None
    lines = _read_lines(file, "FILE")
    header = lines[0] if lines else {}
    if header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise _bad_input("FILE", f"not an {EXPORT_FORMAT} export (no header line)")
    entries = [x for x in lines if x.get("type") == "entry"]
    trusted = [h for p in trusted_files for h in _heads(_read_lines(p, "--trusted-head"), "--trusted-head")]
    try:
        result = check_log(str(header["tenant_id"]), entries, _heads(lines, "FILE"), keys, trusted=trusted)
    except (KeyError, TypeError, ValueError) as exc:
        raise _bad_input("FILE", f"malformed entry ({exc!r})") from None
    if result.ok:
        console.print(
            f"ok: {result.checked} entries, {result.heads_checked} signed tree heads "
            f"(latest size {result.tree_size}, root {result.root_hash}), "
            f"{result.trusted_checked} trusted head(s) consistent"
        )
    else:
        where = (
            f" at seq {result.first_broken_seq} (entry {result.first_broken_id})"
            if result.first_broken_id
            else ""
        )
        console.print(f"[red]FAILED[/red]{where}: {result.reason}")
    return result.ok


def _verify_database(tenant: str | None) -> bool:
    from eawe.audit_proofs import verify_tenant_log

    async def go() -> bool:
        settings = _settings()
        database = await _open_and_seal(settings)
        keys = settings.audit_signer().public_keys()
        try:
            tenants = await _tenants(database, tenant)
            if tenant and not tenants:
                err_console.print(f"[red]error[/red]: tenant: {tenant!r} not found")
                return False
            all_ok = True
            for row in tenants:
                result, unsealed = await verify_tenant_log(database, row.id, keys)
                if result.ok:
                    console.print(
                        f"{row.name}: ok ({result.checked} entries, tree size {result.tree_size}, "
                        f"{unsealed} unsealed)"
                    )
                else:
                    all_ok = False
                    console.print(
                        f"[red]{row.name}: BROKEN[/red] at seq {result.first_broken_seq} "
                        f"(entry {result.first_broken_id}): {result.reason}"
                    )
            return all_ok
        finally:
            await database.dispose()

    return run_as_operator(go())


@audit_app.command("public-keys")
def public_keys() -> None:
    """Print the tree-head public keys as JSON (save it and pass it to ``verify --public-key``)."""
    signer = _settings().audit_signer()
    print(json.dumps({"keys": signer.public_keys().describe(signer.active_key_id)}, indent=2))
