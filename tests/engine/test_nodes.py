"""Each built-in node type inside a compiled graph (InMemorySaver; the durable path is tested elsewhere)."""

from __future__ import annotations

from typing import Any

import pytest
from langgraph.types import Command

from agents import ApprovalRejectedError, RunContext
from agents.builtins.retrieve import RetrieverUnavailableError
from agents.http_calls import ToolCallError
from tests.engine.conftest import linear
from tests.engine.stub_http import RecordedRequest, StubHTTPServer


async def test_llm_prompt_over_state_with_the_local_model(runner: Any) -> None:
    definition = linear(
        {"question": {}, "notes": {}, "answer": {}},
        [
            {
                "id": "draft",
                "type": "llm",
                "config": {"prompt": "{notes}\nQuestion: {question}", "output": "answer"},
            }
        ],
    )
    notes = "Invoices of 10,000 EUR or more need finance review. The cafeteria opens at eight."
    result = await runner(definition).run({"question": "Which invoices need finance review?", "notes": notes})
    assert result["answer"] == "[local model] Invoices of 10,000 EUR or more need finance review."


async def test_llm_structured_output(runner: Any) -> None:
    schema = {
        "type": "object",
        "properties": {
            "vendor_id": {"type": "string"},
            "amount": {"type": "number"},
            "category": {"type": "string", "enum": ["hardware", "travel", "other"]},
        },
        "required": ["vendor_id", "amount", "category"],
    }
    definition = linear(
        {"text": {}, "invoice": {"type": "object"}},
        [
            {
                "id": "x",
                "type": "llm",
                "config": {"prompt": "{text}", "output": "invoice", "output_schema": schema},
            }
        ],
    )
    text = "Vendor id: V-17\nAmount: 12,500.00 EUR\nThree laptops (hardware)"
    result = await runner(definition).run({"text": text})
    assert result["invoice"] == {"vendor_id": "V-17", "amount": 12500.0, "category": "hardware"}


async def test_llm_with_an_http_tool(runner: Any, http_stub: StubHTTPServer) -> None:
    http_stub.responder = lambda r: (200, {"vendor": r.path.rsplit("/", 1)[-1], "risk": "low"})
    tool = {
        "name": "lookup_vendor",
        "description": "Look a vendor up in the ERP",
        "parameters": {
            "type": "object",
            "properties": {"vendor_id": {"type": "string"}},
            "required": ["vendor_id"],
        },
        "request": {"url": f"{http_stub.base_url}/vendors/{{args.vendor_id}}", "credential": "erp-api"},
    }
    definition = linear(
        {"question": {}, "answer": {}},
        [
            {
                "id": "ask",
                "type": "llm",
                "config": {"prompt": "{question}", "output": "answer", "tools": [tool]},
            }
        ],
    )
    result = await runner(definition).run({"question": "What is the risk of this vendor?\nvendor_id: V 17/x"})
    assert http_stub.requests[0].path == "/vendors/V%2017%2Fx"  # arguments cannot add path segments
    assert http_stub.requests[0].headers["authorization"] == "Bearer s3cr3t-erp-token"
    assert result["answer"].startswith("[local model]") and '"risk": "low"' in result["answer"]


async def test_retrieve_uses_the_context_retriever(runner: Any) -> None:
    definition = linear(
        {"question": {}, "context": {"type": "array"}},
        [{"id": "find", "type": "retrieve", "config": {"query": "{question}", "k": 2, "output": "context"}}],
    )
    result = await runner(definition).run({"question": "travel expense per trip"})
    assert result["context"][0] == {
        "content": "Employees may expense travel up to 500 EUR per trip.",
        "source": "travel.md",
        "metadata": {"file_name": "travel.md"},
    }


async def test_retrieve_without_a_retriever_fails_clearly(registry: Any, run_context: RunContext) -> None:
    from tests.engine.conftest import GraphRunner

    run_context.retriever = None
    definition = linear(
        {"question": {}, "context": {}},
        [{"id": "find", "type": "retrieve", "config": {"query": "{question}", "output": "context"}}],
    )
    with pytest.raises(RetrieverUnavailableError, match="no document retriever"):
        await GraphRunner(definition, registry, run_context).run({"question": "x"})


ROUTED = {
    "state": {"amount": {"type": "number"}, "path": {}},
    "nodes": [
        {
            "id": "route",
            "type": "router",
            "config": {"routes": [{"when": "amount >= 10000", "to": "big"}], "default": "small"},
        },
        {"id": "big", "type": "transform", "config": {"set": {"path": "big:{amount}"}}},
        {"id": "small", "type": "transform", "config": {"set": {"path": "small"}}},
    ],
    "edges": [
        {"source": "START", "target": "route"},
        {"source": "big", "target": "END"},
        {"source": "small", "target": "END"},
    ],
}


@pytest.mark.parametrize(("amount", "path"), [(12000, "big:12000"), (50, "small"), (None, "small")])
async def test_router_routes_and_defaults(runner: Any, amount: Any, path: str) -> None:
    assert (await runner(ROUTED).run({"amount": amount}))["path"] == path


async def test_transform_set_and_rename(runner: Any) -> None:
    definition = linear(
        {"a": {}, "b": {}, "c": {"type": "object"}},
        [
            {
                "id": "t",
                "type": "transform",
                "config": {"set": {"c": {"x": "{a}", "n": 3}}, "rename": {"a": "b"}},
            }
        ],
    )
    result = await runner(definition).run({"a": [1, 2]})
    assert result == {"a": None, "b": [1, 2], "c": {"x": [1, 2], "n": 3}, "eawe_approvals": {}}


async def test_tool_node_calls_the_endpoint_with_the_credential(
    runner: Any, http_stub: StubHTTPServer
) -> None:
    definition = linear(
        {"invoice": {"type": "object"}, "result": {}},
        [
            {
                "id": "post",
                "type": "tool",
                "config": {
                    "request": {
                        "method": "POST",
                        "url": f"{http_stub.base_url}/payables/{{args.number}}",
                        "credential": "erp-api",
                        "auth": "header",
                        "auth_header": "X-Api-Key",
                        "query": {"dry_run": "true"},
                        "json_body": {"invoice": "{invoice}", "note": "amount {invoice.amount}"},
                    },
                    "args": {"number": "{invoice.number}"},
                    "output": "result",
                },
            }
        ],
    )
    result = await runner(definition).run({"invoice": {"number": "INV-1", "amount": 5}})
    sent = http_stub.requests[0]
    assert sent.method == "POST" and sent.path == "/payables/INV-1?dry_run=true"
    assert sent.headers["x-api-key"] == "s3cr3t-erp-token"
    assert sent.body == {"invoice": {"number": "INV-1", "amount": 5}, "note": "amount 5"}
    assert result["result"]["body"] == sent.body


async def test_tool_errors_never_contain_the_secret(runner: Any, http_stub: StubHTTPServer) -> None:
    def refuse(request: RecordedRequest) -> tuple[int, Any]:
        return 403, {"error": f"bad key {request.headers.get('authorization')}"}

    http_stub.responder = refuse
    definition = linear(
        {"out": {}},
        [
            {
                "id": "call",
                "type": "tool",
                "config": {
                    "request": {"url": f"{http_stub.base_url}/x", "credential": "erp-api"},
                    "output": "out",
                },
            }
        ],
    )
    with pytest.raises(ToolCallError) as caught:
        await runner(definition).run({})
    assert caught.value.status_code == 403 and "s3cr3t" not in str(caught.value)
    assert len(http_stub.requests) == 1  # a 4xx is not retried


def test_tool_url_host_cannot_be_templated() -> None:
    from pydantic import ValidationError

    from agents.builtins.tool import ToolConfig

    with pytest.raises(ValidationError, match="host must be literal"):
        ToolConfig.model_validate({"request": {"url": "https://{host}/x"}, "output": "o"})
    with pytest.raises(ValidationError, match="must come from a stored credential"):
        ToolConfig.model_validate(
            {"request": {"url": "https://a.b/x", "headers": {"Authorization": "x"}}, "output": "o"}
        )


APPROVAL = {
    "state": {"answer": {"type": "string"}, "status": {}},
    "nodes": [
        {
            "id": "review",
            "type": "approval",
            "config": {"assignee_role": "OPERATOR", "review": "answer", "instructions": "Check {answer}"},
        },
        {"id": "done", "type": "transform", "config": {"set": {"status": "released: {answer}"}}},
    ],
    "edges": [
        {"source": "START", "target": "review"},
        {"source": "review", "target": "done"},
        {"source": "done", "target": "END"},
    ],
}


async def paused(runner: Any, definition: dict[str, Any]) -> Any:
    run = runner(definition)
    result = await run.run({"answer": "draft"})
    (interrupt,) = result["__interrupt__"]
    assert interrupt.value["task_data"]["instructions"] == "Check draft"
    assert interrupt.value["original_output"] == "draft"
    return run, interrupt


async def test_approval_approve(runner: Any) -> None:
    run, interrupt = await paused(runner, APPROVAL)
    result = await run.run(Command(resume={interrupt.id: {"decision": "approve", "reviewer_id": "u9"}}))
    assert result["status"] == "released: draft"
    assert result["eawe_approvals"]["review"]["decision"] == "approve"


async def test_approval_edit_replaces_the_reviewed_field(runner: Any) -> None:
    run, interrupt = await paused(runner, APPROVAL)
    result = await run.run(Command(resume={interrupt.id: {"decision": "edit", "corrected_output": "fixed"}}))
    assert result["answer"] == "fixed" and result["status"] == "released: fixed"


async def test_approval_reject_without_route_fails(runner: Any) -> None:
    run, interrupt = await paused(runner, APPROVAL)
    with pytest.raises(ApprovalRejectedError, match="rejected: wrong figures"):
        await run.run(Command(resume={interrupt.id: {"decision": "reject", "reason": "wrong figures"}}))


async def test_approval_reject_follows_the_reject_route(runner: Any) -> None:
    definition = {
        **APPROVAL,
        "nodes": [
            {**APPROVAL["nodes"][0], "config": {**APPROVAL["nodes"][0]["config"], "on_reject": "rework"}},
            APPROVAL["nodes"][1],
            {
                "id": "rework",
                "type": "transform",
                "config": {"set": {"status": "rework: {eawe_approvals.review.reason}"}},
            },
        ],
        "edges": [*APPROVAL["edges"], {"source": "rework", "target": "END"}],
    }
    run, interrupt = await paused(runner, definition)
    result = await run.run(Command(resume={interrupt.id: {"decision": "reject", "reason": "too vague"}}))
    assert result["status"] == "rework: too vague"


async def test_fan_out_and_join(runner: Any) -> None:
    definition = {
        "state": {
            "topics": {"type": "array"},
            "topic": {},
            "notes": {"type": "array", "reducer": "append"},
            "all": {},
        },
        "nodes": [
            {
                "id": "fan",
                "type": "fan_out",
                "config": {"items": "topics", "target": "work", "item_field": "topic"},
            },
            {"id": "work", "type": "transform", "config": {"set": {"notes": "note on {topic}"}}},
            {
                "id": "join",
                "type": "join",
                "config": {"input": "notes", "output": "all", "mode": "text", "separator": " | "},
            },
        ],
        "edges": [
            {"source": "START", "target": "fan"},
            {"source": "work", "target": "join"},
            {"source": "join", "target": "END"},
        ],
    }
    result = await runner(definition).run({"topics": ["a", "b", "c"]})
    assert result["notes"] == ["note on a", "note on b", "note on c"]
    assert result["all"] == "note on a | note on b | note on c"
    empty = await runner(definition).run({"topics": []})
    assert "all" not in empty  # on_empty defaults to END


async def test_join_waits_for_all_branches(runner: Any) -> None:
    definition = {
        "state": {"log": {"type": "array", "reducer": "append"}, "seen": {}},
        "nodes": [
            {"id": "short", "type": "transform", "config": {"set": {"log": "short"}}},
            {"id": "long1", "type": "transform", "config": {"set": {"log": "long1"}}},
            {"id": "long2", "type": "transform", "config": {"set": {"log": "long2"}}},
            {"id": "join", "type": "join", "config": {"input": "log", "output": "seen"}},
        ],
        "edges": [
            {"source": "START", "target": "short"},
            {"source": "START", "target": "long1"},
            {"source": "long1", "target": "long2"},
            {"source": "short", "target": "join"},
            {"source": "long2", "target": "join"},
            {"source": "join", "target": "END"},
        ],
    }
    result = await runner(definition).run({})
    assert sorted(result["seen"]) == ["long1", "long2", "short"]  # one join, after both branches


SUB = {
    "state": {"x": {"type": "string"}, "y": {}},
    "nodes": [
        {"id": "check", "type": "approval", "config": {"assignee_role": "OPERATOR", "review": "x"}},
        {"id": "upper", "type": "transform", "config": {"set": {"y": "sub:{x}"}}},
    ],
    "edges": [
        {"source": "START", "target": "check"},
        {"source": "check", "target": "upper"},
        {"source": "upper", "target": "END"},
    ],
}


def parent(config: dict[str, Any]) -> dict[str, Any]:
    return linear(
        {"a": {}, "b": {}},
        [
            {
                "id": "child",
                "type": "subworkflow",
                "config": {**config, "input": {"x": "{a}"}, "output": {"b": "y"}},
            }
        ],
    )


async def test_subworkflow_inline_with_an_approval_inside(runner: Any) -> None:
    run = runner(parent({"definition": SUB}))
    result = await run.run({"a": "hello"})
    (interrupt,) = result["__interrupt__"]
    assert interrupt.value["node_id"] == "check"
    result = await run.run(Command(resume={interrupt.id: {"decision": "edit", "corrected_output": "HELLO"}}))
    assert result["b"] == "sub:HELLO"


async def test_subworkflow_by_id(runner: Any) -> None:
    from graphs.compiler import ResolvedWorkflow

    plain = {
        **SUB,
        "nodes": [SUB["nodes"][1]],
        "edges": [{"source": "START", "target": "upper"}, SUB["edges"][2]],
    }
    resolved = {"wf-child": ResolvedWorkflow("wf-child", 3, plain)}
    run = runner(parent({"workflow_id": "wf-child"}), subworkflows=lambda wid, v: resolved.get(wid))
    assert (await run.run({"a": "hi"}))["b"] == "sub:hi"
