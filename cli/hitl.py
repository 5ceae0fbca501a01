"""``eawe hitl export``: the feedback dataset as JSON lines, as ``GET /v1/feedback/corrections`` gives it.

    eawe hitl export [--tenant T] [--workflow W] [--since D] [--until D] [--label L] [--output FILE]

The same records from the same function (:mod:`eawe.feedback_dataset`), for every decision of
the tenant (the command line holds the database itself, as an administrator would). ``--since``
and ``--until`` take ISO 8601 dates or times (UTC when no zone is given; since inclusive, until
exclusive). With ``--output`` the file appears complete or not at all.
"""

from __future__ import annotations

import contextlib
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, TextIO

import typer
from pydantic import TypeAdapter
from pydantic import ValidationError as PydanticValidationError
from rich.console import Console

from cli.operator_scope import run_as_operator
from eawe.db.repositories.feedback import CorrectionFilters, CorrectionLabel

__all__ = ["hitl_app"]

hitl_app = typer.Typer(help="Human-in-the-loop decisions", no_args_is_help=True)
err_console = Console(stderr=True, soft_wrap=True)

_MOMENT = TypeAdapter(datetime)  # the API's parsing of since/until


def parse_moment(option: str, text: str | None) -> datetime | None:
    """An ISO 8601 date or time as naive UTC (the database's times).

    Raises:
        ValueError: Naming ``option``, when ``text`` is not one.
    """
    if text is None:
        return None
    try:
        moment = _MOMENT.validate_python(text.strip())
    except PydanticValidationError:
        raise ValueError(f"{option}: not an ISO 8601 date or time: {text!r}") from None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


async def _export(tenant: str, workflow: str | None, filters: CorrectionFilters, sink: TextIO) -> int:
    from cli.main import _open, _settings
    from eawe.db.repositories.feedback import workflow_id_of
    from eawe.db.repositories.tenants import find_tenant
    from eawe.feedback_dataset import correction_lines

    db = await _open(_settings())
    try:
        async with db.session() as session:
            tenant_id = (await find_tenant(session, tenant)).id
            if workflow is not None:
                workflow_id = await workflow_id_of(session, tenant_id, workflow)
                if workflow_id is None:
                    raise ValueError(f"--workflow: no workflow {workflow!r} in tenant {tenant!r}")
                filters = CorrectionFilters(
                    workflow_id=workflow_id, since=filters.since, until=filters.until, label=filters.label
                )
        count = 0
        async for line in correction_lines(db, tenant_id, filters):
            sink.write(line)
            count += 1
        return count
    finally:
        await db.dispose()


@hitl_app.command("export")
def export(
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant id or name")] = "local",
    workflow: Annotated[str | None, typer.Option("--workflow", help="Workflow id or slug")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Decided at or after (ISO 8601)")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Decided before (ISO 8601)")] = None,
    label: Annotated[
        CorrectionLabel | None, typer.Option("--label", help="Only approved, edited or rejected decisions")
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE (default: standard output)")
    ] = None,
) -> None:
    """Export the feedback dataset: one JSON line per approval decision, oldest first."""
    from cli.main import _fail
    from eawe.errors import EAWEError

    try:
        start, end = parse_moment("--since", since), parse_moment("--until", until)
        if start is not None and end is not None and start >= end:
            raise ValueError("--since: must be before --until")
    except ValueError as exc:
        raise _fail(exc) from None
    filters = CorrectionFilters(since=start, until=end, label=label)
    partial = output.with_name(output.name + ".partial") if output is not None else None
    try:
        if output is None or partial is None:
            count = run_as_operator(_export(tenant, workflow, filters, sys.stdout))
        else:
            with partial.open("w", encoding="utf-8") as sink:
                count = run_as_operator(_export(tenant, workflow, filters, sink))
            os.replace(partial, output)
    except (EAWEError, ValueError, OSError) as exc:
        raise _fail(exc) from None
    finally:  # a failed or interrupted export leaves no file behind (after the rename there is none)
        if partial is not None:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
    err_console.print(f"exported {count} decision(s)" + (f" to {output}" if output is not None else ""))
