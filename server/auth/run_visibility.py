"""Who may read a run's *content*: its input, state values, payload, output and node updates.

A run retrieves documents as the user who started it, so its content can hold chunks of
documents other readers of the tenant's runs may not see. The one rule, used by every route
that shows a run:

* an ADMINISTRATOR sees the content of every run of the tenant;
* the run's starter (``WorkflowRun.started_by_id``) sees it;
* a reviewer sees it: the assignee of one of the run's HITL tasks, or a user holding the task's
  assigned role (reviewers must see what they approve).

Everyone else who may read runs sees run *metadata* only (:func:`metadata_error` for the error).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from eawe.db.models import AgentThread, HITLTask, Role, WorkflowRun
from server.auth.principal import Principal

__all__ = ["can_read_run_content", "can_read_thread_content", "metadata_error", "runs_with_readable_content"]


async def runs_with_readable_content(
    session: AsyncSession, principal: Principal, runs: Iterable[WorkflowRun]
) -> set[str]:
    """The ids of those ``runs`` whose content ``principal`` may read (one query for the lot).

    Args:
        session: An open session of the relational database.
        principal: The caller.
        runs: Runs of the caller's tenant (another tenant's run is never readable).

    Returns:
        The readable runs' ids.
    """
    mine = [run for run in runs if run.tenant_id == principal.tenant_id]
    if principal.role == Role.ADMINISTRATOR:
        return {run.id for run in mine}
    readable = {run.id for run in mine if run.started_by_id == principal.user_id}
    others = [run.id for run in mine if run.id not in readable]
    if others:
        reviewed = await session.scalars(
            select(HITLTask.workflow_run_id)
            .where(
                HITLTask.tenant_id == principal.tenant_id,
                HITLTask.workflow_run_id.in_(others),
                or_(HITLTask.assigned_to_id == principal.user_id, HITLTask.assigned_role == principal.role),
            )
            .distinct()
        )
        readable.update(reviewed.all())
    return readable


async def can_read_run_content(session: AsyncSession, principal: Principal, run: WorkflowRun) -> bool:
    """Whether ``principal`` may read the content of ``run`` (see the module docstring for the rule)."""
    return run.id in await runs_with_readable_content(session, principal, [run])


async def can_read_thread_content(session: AsyncSession, principal: Principal, thread: AgentThread) -> bool:
    """A thread's state holds its runs' content: readable by an administrator, the thread's creator,
    and whoever may read the content of one of its runs."""
    if thread.tenant_id != principal.tenant_id:
        return False
    if principal.role == Role.ADMINISTRATOR or thread.created_by_id == principal.user_id:
        return True
    runs = (
        await session.scalars(
            select(WorkflowRun).where(
                WorkflowRun.tenant_id == thread.tenant_id, WorkflowRun.thread_id == thread.id
            )
        )
    ).all()
    return bool(await runs_with_readable_content(session, principal, runs))


def metadata_error(error: Any) -> dict[str, Any] | None:
    """A run's error as metadata: its kind (and node), never its text."""
    if not isinstance(error, dict):
        return None
    kept = {key: error[key] for key in ("type", "node_id") if error.get(key) is not None}
    return kept or None
