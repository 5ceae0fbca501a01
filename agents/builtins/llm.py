"""``llm``: a prompt template over state, optional HTTP and MCP tools, optional structured output."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import Field, model_validator

from agents.builtins.mcp_tool import call_mcp_tool, list_mcp_tools
from agents.config_types import NodeConfig, StateKey, Template
from agents.context import NodeContext
from agents.http_calls import HttpRequest, ToolCallError, perform_http_request
from agents.registry import node_type
from agents.templates import render_template

__all__ = ["LlmConfig", "LlmMcpTools", "LlmTool", "llm_node"]

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


class LlmMcpTools(NodeConfig):
    """Tools of one of the tenant's MCP servers (``/v1/mcp-servers``) offered to the model."""

    server: str = Field(min_length=1, description="Name or id of one of the tenant's MCP servers")
    tools: list[str] = Field(
        default_factory=list, description="Tools to offer; empty: every tool the configuration allows"
    )
    timeout_s: float = Field(default=30.0, gt=0, le=300)


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
    mcp_tools: list[LlmMcpTools] = Field(
        default_factory=list, description="MCP tools the model may call (tool-calling loop)"
    )
    max_tool_rounds: int = Field(default=3, ge=1, le=10, description="Bound on model/tool round trips")

    @model_validator(mode="after")
    def _check(self) -> LlmConfig:
        if self.output_schema is not None:
            if self.output_schema.get("type") != "object" or not isinstance(
                self.output_schema.get("properties"), dict
            ):
                raise ValueError("output_schema must be a JSON Schema with type 'object' and 'properties'")
            if self.tools or self.mcp_tools:
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


ToolCall = Callable[[dict[str, Any]], Awaitable[Any]]


def _http_tool(tool: LlmTool, state: Mapping[str, Any], ctx: NodeContext) -> ToolCall:
    async def call(args: dict[str, Any]) -> Any:
        return (await perform_http_request(tool.request, {**state, "args": args}, ctx))["body"]

    return call


def _mcp_tool(spec: Any, name: str, timeout_s: float, ctx: NodeContext) -> ToolCall:
    async def call(args: dict[str, Any]) -> Any:
        return await call_mcp_tool(spec, name, args, ctx, timeout_s=timeout_s)

    return call


async def _toolbox(
    config: LlmConfig, state: Mapping[str, Any], ctx: NodeContext
) -> tuple[list[dict[str, Any]], dict[str, ToolCall]]:
    """The function specs offered to the model and, by name, what calling each one does."""
    specs: list[dict[str, Any]] = []
    calls: dict[str, ToolCall] = {}

    def offer(name: str, description: str, parameters: dict[str, Any], call: ToolCall) -> None:
        if name in calls:
            raise ValueError(f"node {ctx.node_id!r}: two tools are named {name!r}")
        specs.append(
            {
                "type": "function",
                "function": {"name": name, "description": description, "parameters": parameters},
            }
        )
        calls[name] = call

    for tool in config.tools:
        offer(tool.name, tool.description, tool.parameters, _http_tool(tool, state, ctx))
    for toolset in config.mcp_tools:
        if ctx.run.mcp_servers is None:
            raise LookupError(f"node {ctx.node_id!r}: this run has no MCP server configuration")
        server = await ctx.run.mcp_servers.get(toolset.server)
        for listed in await list_mcp_tools(server, toolset.tools, ctx, timeout_s=toolset.timeout_s):
            description = listed.description or listed.title or listed.name
            offer(
                listed.name,
                description,
                dict(listed.inputSchema),
                _mcp_tool(server, listed.name, toolset.timeout_s, ctx),
            )
    return specs, calls


async def _run_tools(
    model: Any, config: LlmConfig, state: Mapping[str, Any], messages: list[BaseMessage], ctx: NodeContext
) -> AIMessage:
    specs, calls = await _toolbox(config, state, ctx)
    bound = model.bind_tools(specs)
    for _ in range(config.max_tool_rounds):
        reply: AIMessage = await bound.ainvoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return reply
        for request in reply.tool_calls:
            call = calls.get(request["name"])
            if call is None:
                content = json.dumps({"error": f"unknown tool {request['name']!r}"})
            else:
                try:
                    result = await call(request.get("args") or {})
                    content = json.dumps(result, ensure_ascii=False, default=str)
                except ToolCallError as exc:
                    if exc.retryable:
                        raise
                    content = json.dumps({"error": ctx.run.scrubber.scrub(str(exc))})
            messages.append(ToolMessage(content=content, tool_call_id=request["id"], name=request["name"]))
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
        if config.tools or config.mcp_tools
        else await model.ainvoke(messages)
    )
    content = reply.content if isinstance(reply.content, str) else json.dumps(reply.content)
    return {config.output: content}
