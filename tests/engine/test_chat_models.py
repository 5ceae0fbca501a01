"""The deterministic local model and the ChatOpenAI factory (against a stub server on 127.0.0.1)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from pydantic import BaseModel

from agents import (
    LocalChatModel,
    LocalChatModelFactory,
    OpenAIChatModelFactory,
    chat_model_factory_from_settings,
)
from agents.models.local import LOCAL_MODEL_LABEL, NO_ANSWER
from eawe.settings import Settings
from tests.engine.conftest import GraphRunner, linear
from tests.engine.stub_http import RecordedRequest, StubHTTPServer, chat_completion

CONTEXT = (
    "[1] (travel.md) Employees may expense travel up to 500 EUR per trip. Meals are separate.\n"
    "[2] (security.md) Laptops must use full-disk encryption."
)


async def test_local_model_is_extractive_deterministic_and_labelled() -> None:
    model = LocalChatModel()
    prompt = f"{CONTEXT}\nQuestion: How much travel may employees expense per trip?"
    first, second = await model.ainvoke(prompt), await model.ainvoke(prompt)
    assert first.content == second.content
    assert (
        first.content
        == f"{LOCAL_MODEL_LABEL} Employees may expense travel up to 500 EUR per trip. (sources: travel.md)"
    )
    assert first.response_metadata["eawe_local_model"] is True
    assert (
        await model.ainvoke("Question: what is the capital of Peru?")
    ).content == f"{LOCAL_MODEL_LABEL} {NO_ANSWER}"


async def test_local_model_tools_and_structured_output() -> None:
    class Lookup(BaseModel):
        """Look up an order."""

        order_id: str

    model = LocalChatModel().bind_tools([Lookup])
    call = await model.ainvoke([HumanMessage("Where is my parcel?\norder_id: A-77")])
    assert call.tool_calls[0]["name"] == "Lookup" and call.tool_calls[0]["args"] == {"order_id": "A-77"}
    unanswered = await model.ainvoke([HumanMessage("Where is my parcel?")])  # no order id stated: no call
    assert not unanswered.tool_calls
    after = await model.ainvoke(
        [
            HumanMessage("Where is my parcel?\norder_id: A-77"),
            call,
            ToolMessage("The parcel is in the Berlin depot.", tool_call_id=call.tool_calls[0]["id"]),
        ]
    )
    assert after.content == f"{LOCAL_MODEL_LABEL} The parcel is in the Berlin depot."

    class Ticket(BaseModel):
        priority: int
        urgent: bool
        team: str

    ticket = (
        await LocalChatModel()
        .with_structured_output(Ticket)
        .ainvoke("priority: 2\nurgent: yes\nteam: payments")
    )
    assert ticket == Ticket(priority=2, urgent=True, team="payments")


def test_factory_from_settings_logs_the_local_model(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        factory = chat_model_factory_from_settings(Settings(_env_file=None, openai_api_key=None))
    assert isinstance(factory, LocalChatModelFactory) and factory.is_local
    assert "deterministic local model" in caplog.text and "It is not a language model" in caplog.text


@pytest.fixture
def openai_stub() -> Iterator[StubHTTPServer]:
    script: list[dict[str, Any]] = []

    def answer(request: RecordedRequest) -> tuple[int, Any]:
        if request.headers.get("authorization") != "Bearer sk-test-key-123":
            return 401, {"error": {"message": "invalid api key", "type": "invalid_request_error"}}
        return 200, script.pop(0)

    server = StubHTTPServer(answer).start()
    server.script = script  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()


def openai_settings(stub: StubHTTPServer, key: str = "sk-test-key-123") -> Settings:
    return Settings(
        _env_file=None, openai_api_key=key, openai_base_url=f"{stub.base_url}/v1", chat_model="stub-model"
    )


async def test_openai_factory_text_through_the_llm_node(
    openai_stub: StubHTTPServer, run_context: Any, registry: Any
) -> None:
    openai_stub.script.append(chat_completion("Up to 500 EUR per trip."))  # type: ignore[attr-defined]
    factory = chat_model_factory_from_settings(openai_settings(openai_stub))
    assert isinstance(factory, OpenAIChatModelFactory) and not factory.is_local
    assert "sk-test" not in repr(factory)
    run_context.chat_models = factory
    definition = linear(
        {"q": {}, "a": {}},
        [
            {
                "id": "ask",
                "type": "llm",
                "config": {"system": "Be brief.", "prompt": "Q: {q}", "output": "a", "temperature": 0},
            }
        ],
    )
    result = await GraphRunner(definition, registry, run_context).run({"q": "travel limit?"})
    assert result["a"] == "Up to 500 EUR per trip."
    sent = openai_stub.requests[0]
    assert sent.path == "/v1/chat/completions"
    assert sent.body["model"] == "stub-model" and sent.body["temperature"] == 0
    assert sent.body["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Q: travel limit?"},
    ]


async def test_openai_structured_output_and_tools(
    openai_stub: StubHTTPServer, http_stub: StubHTTPServer
) -> None:
    factory = chat_model_factory_from_settings(openai_settings(openai_stub))
    openai_stub.script.append(  # type: ignore[attr-defined]
        chat_completion(tool_calls=[{"id": "c1", "name": "structured_output", "args": {"amount": 12.5}}])
    )
    schema = {
        "title": "structured_output",
        "description": "d",
        "type": "object",
        "properties": {"amount": {"type": "number"}},
    }
    parsed = await factory().with_structured_output(schema, method="function_calling").ainvoke("amount?")
    assert parsed == {"amount": 12.5}
    request = openai_stub.requests[0].body
    assert request["tools"][0]["function"]["name"] == "structured_output"
    assert request["tool_choice"]["function"]["name"] == "structured_output"

    bound = factory().bind_tools(
        [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {}}}]
    )
    openai_stub.script.append(chat_completion(tool_calls=[{"id": "c2", "name": "f", "args": {"x": 1}}]))  # type: ignore[attr-defined]
    reply = await bound.ainvoke("call f")
    assert reply.tool_calls[0]["args"] == {"x": 1}


async def test_openai_errors_do_not_leak_the_key(openai_stub: StubHTTPServer) -> None:
    factory = chat_model_factory_from_settings(openai_settings(openai_stub, key="sk-wrong-secret-999"))
    with pytest.raises(Exception) as caught:
        await factory().ainvoke("hi")
    assert "401" in str(caught.value) or "invalid api key" in str(caught.value)
    assert "sk-wrong-secret-999" not in str(caught.value) and "sk-wrong-secret-999" not in repr(caught.value)
    assert json.dumps(openai_stub.requests[0].body).count("sk-wrong") == 0
