"""``llm``: a prompt template over state, optional HTTP tools, optional structured output."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import Field, model_validator

from agents.config_types import NodeConfig, StateKey, Template
from agents.context import NodeContext
from agents.http_calls import HttpRequest, ToolCallError, perform_http_request
from agents.registry import node_type
from agents.templates import render_template

__all__ = ["LlmConfig", "LlmTool", "llm_node"]

logger = logging.getLogger(__name__)


class LlmTool(NodeConfig):
    """A tool the model may call; calling it sends ``request`` with the model's arguments as ``args``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str = Field(min_length=1)
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="JSON Schema of the arguments",
    )
    request: HttpRequest


class LlmConfig(NodeConfig):
    """Config of an ``llm`` node."""

    prompt: Template
    system: Template | None = None
    output: StateKey
    model: str | None = Field(default=None, description="Model name; default from settings")
    temperature: float | None = Field(default=None, ge=0, le=2)
    output_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema (type object) for structured output; the result is a dict"
    )
    tools: list[LlmTool] = Field(default_factory=list)
    max_tool_rounds: int = Field(default=3, ge=1, le=10)

    @model_validator(mode="after")
    def _check(self) -> LlmConfig:
        if self.output_schema is not None:
            if self.output_schema.get("type") != "object" or not isinstance(
                self.output_schema.get("properties"), dict
            ):
                raise ValueError("output_schema must be a JSON Schema with type 'object' and 'properties'")
            if self.tools:
                raise ValueError("use either tools or output_schema, not both")
        names = [tool.name for tool in self.tools]
        if len(names) != len(set(names)):
            raise ValueError("tool names must be unique")
        return self


def _structured_schema(config: LlmConfig) -> dict[str, Any]:
    schema = dict(config.output_schema or {})
    schema.setdefault("title", "structured_output")
    schema.setdefault("description", "The requested fields")
    return schema


async def _run_tools(
    model: Any, config: LlmConfig, state: Mapping[str, Any], messages: list[BaseMessage], ctx: NodeContext
) -> AIMessage:
    by_name = {tool.name: tool for tool in config.tools}
    specs = [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in config.tools
    ]
    bound = model.bind_tools(specs)
    for _ in range(config.max_tool_rounds):
        reply: AIMessage = await bound.ainvoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return reply
        for call in reply.tool_calls:
            tool = by_name.get(call["name"])
            if tool is None:
                content = json.dumps({"error": f"unknown tool {call['name']!r}"})
            else:
                try:
                    result = await perform_http_request(
                        tool.request, {**state, "args": call.get("args") or {}}, ctx
                    )
                    content = json.dumps(result["body"], ensure_ascii=False, default=str)
                except ToolCallError as exc:
                    if exc.retryable:
                        raise
                    content = json.dumps({"error": ctx.run.scrubber.scrub(str(exc))})
            messages.append(ToolMessage(content=content, tool_call_id=call["id"], name=call["name"]))
    final: AIMessage = await model.ainvoke(messages)
    return final


@node_type(
    "llm",
    config=LlmConfig,
    description="Chat model call over a prompt template",
    default_max_attempts=3,
    title="LLM",
    category="AI",
)
async def llm_node(state: Mapping[str, Any], config: LlmConfig, ctx: NodeContext) -> dict[str, Any]:
    """Chat model call over a prompt template."""
    model = ctx.chat_model(model=config.model, temperature=config.temperature)
    if ctx.run.chat_models.is_local:
        logger.info("node %s: answered by the deterministic local model (not an LLM)", ctx.node_id)
    messages: list[BaseMessage] = []
    if config.system:
        messages.append(SystemMessage(render_template(config.system, state)))
    messages.append(HumanMessage(render_template(config.prompt, state)))
    if config.output_schema is not None:
        structured = model.with_structured_output(_structured_schema(config), method="function_calling")
        result = await structured.ainvoke(messages)
        return {config.output: dict(result) if isinstance(result, Mapping) else result}
    reply = (
        await _run_tools(model, config, state, messages, ctx)
        if config.tools
        else await model.ainvoke(messages)
    )
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    return {config.output: content}
