"""Translating between A2A and EAWE: a message becomes run input, a run becomes an A2A task.

An A2A task is a WorkflowRun (task id = run id). Its state follows the run's status; a run paused
for approval is ``input-required``, its status message naming the HITL task(s) to decide. The
finished run's state values are the task's one artifact (a data part).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from a2a.helpers import (
    get_data_parts,
    get_text_parts,
    new_data_artifact,
    new_data_part,
    new_message,
    new_text_part,
)
from a2a.types.a2a_pb2 import Artifact, Message, Task, TaskState, TaskStatus, TaskStatusUpdateEvent
from a2a.utils.errors import InvalidParamsError

from eawe.db.models import RunStatus, WorkflowRun
from server.run_outcome import RunOutcome

__all__ = [
    "OUTPUT_ARTIFACT",
    "decision_of",
    "message_input",
    "output_artifact",
    "run_context_id",
    "status_update",
    "task_of",
    "task_state",
    "task_status",
]

OUTPUT_ARTIFACT = "output"

_STATES = {
    RunStatus.PENDING: TaskState.TASK_STATE_SUBMITTED,
    RunStatus.RUNNING: TaskState.TASK_STATE_WORKING,
    RunStatus.PAUSED_FOR_APPROVAL: TaskState.TASK_STATE_INPUT_REQUIRED,
    # Failed as far as the caller can tell; an operator may still retry it (POST /v1/runs/{id}/retry).
    RunStatus.PAUSED_WITH_ERROR: TaskState.TASK_STATE_FAILED,
    RunStatus.COMPLETED: TaskState.TASK_STATE_COMPLETED,
    RunStatus.FAILED: TaskState.TASK_STATE_FAILED,
    RunStatus.CANCELLED: TaskState.TASK_STATE_CANCELED,
}


def task_state(status: RunStatus) -> TaskState:
    return _STATES[status]


def _status_text(outcome: RunOutcome) -> str | None:
    run = outcome.run
    if run.status == RunStatus.PAUSED_FOR_APPROVAL:
        tasks = ", ".join(outcome.pending_task_ids) or "(none open)"
        return (
            f"Waiting for approval (HITL task {tasks}). A reviewer decides with "
            "POST /v1/hitl-tasks/{id}/decision, or replies to this task with a data part "
            '{"decision": "approve"|"reject"|"edit", ...}; the run then resumes.'
        )
    if run.status in (RunStatus.FAILED, RunStatus.PAUSED_WITH_ERROR):
        kind = outcome.error_kind
        return f"The run ended {run.status.value}" + (f": {kind}" if kind else "")
    return None


def task_status(outcome: RunOutcome, context_id: str) -> TaskStatus:
    status = TaskStatus(state=task_state(outcome.run.status))
    status.timestamp.FromDatetime(outcome.run.updated_at)
    text = _status_text(outcome)
    if text is not None:
        parts = [new_text_part(text)]
        if outcome.run.status == RunStatus.PAUSED_FOR_APPROVAL:
            parts.append(new_data_part({"hitl_task_ids": outcome.pending_task_ids}))
        status.message.CopyFrom(new_message(parts, context_id=context_id, task_id=outcome.run.id))
    return status


def output_artifact(outcome: RunOutcome) -> Artifact:
    return new_data_artifact(OUTPUT_ARTIFACT, outcome.values or {}, description="The run's final state")


def task_of(outcome: RunOutcome, context_id: str, *, with_content: bool) -> Task:
    """The A2A task of a run; ``with_content`` adds the output artifact of a finished run."""
    task = Task(id=outcome.run.id, context_id=context_id, status=task_status(outcome, context_id))
    task.metadata.update(
        {"workflow_id": outcome.run.workflow_definition_id, "run_status": outcome.run.status.value}
    )
    if with_content and outcome.run.status == RunStatus.COMPLETED:
        task.artifacts.append(output_artifact(outcome))
    return task


def status_update(outcome: RunOutcome, context_id: str) -> TaskStatusUpdateEvent:
    return TaskStatusUpdateEvent(
        task_id=outcome.run.id, context_id=context_id, status=task_status(outcome, context_id)
    )


def _text_field(input_schema: Mapping[str, Any]) -> str | None:
    """Where a plain-text message goes: the only required field, else the only string field."""
    required = list(input_schema.get("required") or [])
    if len(required) == 1:
        return str(required[0])
    properties: Mapping[str, Any] = input_schema.get("properties") or {}
    strings = [name for name, prop in properties.items() if prop.get("type") == "string"]
    return strings[0] if len(strings) == 1 else None


def _integers(values: dict[str, Any], input_schema: Mapping[str, Any]) -> dict[str, Any]:
    # protobuf's Value holds every number as a double: give integer fields their integers back.
    properties: Mapping[str, Any] = input_schema.get("properties") or {}
    for name, value in values.items():
        if (
            properties.get(name, {}).get("type") == "integer"
            and isinstance(value, float)
            and value.is_integer()
        ):
            values[name] = int(value)
    return values


def message_input(message: Message, input_schema: Mapping[str, Any]) -> dict[str, Any]:
    """The run input carried by a message: its data parts (objects, merged) plus its text.

    Raises:
        InvalidParamsError: A text message for a workflow whose input has no single text field.
    """
    values: dict[str, Any] = {}
    for data in get_data_parts(list(message.parts)):
        if not isinstance(data, dict):
            raise InvalidParamsError("a data part must hold a JSON object of the workflow's input fields")
        values.update(data)
    text = "\n".join(get_text_parts(list(message.parts))).strip()
    if text:
        target = _text_field(input_schema)
        if target is None:
            fields = ", ".join(sorted((input_schema.get("properties") or {}).keys()))
            raise InvalidParamsError(
                f"this workflow's input has several fields ({fields}); send them as a data part"
            )
        values.setdefault(target, text)
    return _integers(values, input_schema)


def decision_of(message: Message) -> dict[str, Any] | None:
    """A reviewer's decision sent as a data part (``{"decision": ...}``), if the message holds one."""
    for data in get_data_parts(list(message.parts)):
        if isinstance(data, dict) and "decision" in data:
            return data
    return None


def run_context_id(run: WorkflowRun, recorded: str | None) -> str:
    """A run's A2A context: the recorded one, else (a run started elsewhere) its own id."""
    return recorded or run.id
