"""The deterministic local chat model: the default when no OpenAI-compatible endpoint is configured.

It is not a language model. It answers *extractively*: it picks the sentences of the prompt's
context (retrieved passages, tool results) that share the most words with the question, and
labels every free-text answer with ``[local model]`` so nobody mistakes it for an LLM. It supports
``bind_tools`` (it calls a tool when the conversation states every required argument as
``name: value``) and ``with_structured_output`` (it fills the schema from ``name: value`` pairs and
the extractive answer). Same input, same output — which is what demos, Studio and tests need.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool

__all__ = ["LOCAL_MODEL_LABEL", "LOCAL_MODEL_NAME", "LocalChatModel"]

LOCAL_MODEL_NAME = "eawe-local-extractive"
LOCAL_MODEL_LABEL = "[local model]"
NO_ANSWER = "I could not find an answer in the provided context."

_STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being this that these "
    "those it its into about what which who whom whose when where why how do does did can could should would "
    "will shall may might must not no yes you your we our they their he she his her them i me my answer "
    "question context please using use based only following given provide passage passages say says tell "
    "document documents text".split()
)
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'-]*")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+|\n+")
_PASSAGE = re.compile(r"^\[(\d+)\]\s*\(([^)]*)\)\s*")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def _tokens(text: str) -> set[str]:
    words = (w.lower().strip("'-") for w in _WORD.findall(text))
    return {
        w[:-1] if len(w) > 4 and w.endswith("s") else w for w in words if len(w) > 2 and w not in _STOPWORDS
    }


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return " ".join(part.get("text", "") if isinstance(part, Mapping) else str(part) for part in content)


def _split_question(prompt: str) -> tuple[str, str]:
    lines = [line for line in prompt.splitlines() if line.strip()]
    for index in range(len(lines) - 1, -1, -1):
        if "?" in lines[index]:
            return lines[index].strip(), "\n".join(lines[:index] + lines[index + 1 :])
    if not lines:
        return "", ""
    return lines[-1].strip(), "\n".join(lines[:-1])


def extractive_answer(question: str, context: str, *, max_sentences: int = 2) -> str | None:
    """The context sentences sharing the most words with the question, in their original order."""
    wanted = _tokens(question)
    candidates: list[tuple[int, int, str, str]] = []
    source = ""
    for position, raw in enumerate(s.strip() for s in _SENTENCE_SPLIT.split(context)):
        if not raw:
            continue
        marker = _PASSAGE.match(raw)
        if marker:
            source, raw = marker.group(2).strip(), raw[marker.end() :].strip()
        if raw.endswith(":") or len(raw.split()) < 3:  # headings and labels are not answers
            continue
        score = len(_tokens(raw) & wanted)
        if score:
            candidates.append((score, position, raw, source))
    if not candidates:
        return None
    best = sorted(candidates, key=lambda c: (-c[0], c[1]))[:max_sentences]
    best.sort(key=lambda c: c[1])
    sentences = " ".join(c[2] for c in best)
    sources = sorted({c[3] for c in best if c[3] and c[3] != "unknown"})
    return f"{sentences} (sources: {', '.join(sources)})" if sources else sentences


def _stated_value(name: str, text: str) -> str | None:
    spelled = re.escape(name).replace("_", "[ _]")
    match = re.search(rf"(?im)^[\s\-*]*{spelled}\s*[:=]\s*(.+?)\s*$", text)
    if match is None:
        match = re.search(rf"(?i)\b{spelled}\s*[:=]\s*([^,;\n]+)", text)
    return match.group(1).strip().strip("\"'").rstrip(".") if match else None


def _coerce(raw: str | None, schema: Mapping[str, Any], text: str, answer: str) -> Any:
    kind = schema.get("type")
    if "enum" in schema:
        options = list(schema["enum"])
        for haystack in (raw or "", text):
            for option in options:
                if re.search(rf"(?i)\b{re.escape(str(option))}\b", haystack):
                    return option
        return options[0] if options else None
    if kind in ("number", "integer"):
        match = _NUMBER.search(raw or "")
        if match is None:
            return 0
        number = float(match.group(0).replace(",", ""))
        return int(number) if kind == "integer" else number
    if kind == "boolean":
        return (raw or "").strip().lower() in ("true", "yes", "y", "1")
    if kind == "array":
        return [part.strip() for part in raw.split(",") if part.strip()] if raw else []
    if kind == "object":
        return {}
    return raw if raw is not None else answer


def fill_arguments(parameters: Mapping[str, Any], text: str, answer: str) -> tuple[dict[str, Any], bool]:
    """Arguments for a JSON-Schema object from ``name: value`` pairs; second item: all required found."""
    properties: Mapping[str, Any] = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    arguments: dict[str, Any] = {}
    complete = True
    for name, schema in properties.items():
        raw = _stated_value(name, text)
        if raw is None and name in required:
            complete = False
        if raw is not None or name in required:
            arguments[name] = _coerce(raw, schema, text, answer)
    return arguments, complete


def _tool_name(tool_choice: Any) -> str | None:
    if isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "any", "required"):
        return tool_choice
    if isinstance(tool_choice, Mapping):
        return (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
    return None


def _word_usage(messages: list[BaseMessage], reply: str) -> UsageMetadata:
    """Token usage counted as whitespace-separated words: the local model has no tokenizer, and
    usage accounting (per node, per run, per tenant) should work the same with it."""
    prompt = sum(len(_text(m).split()) for m in messages)
    completion = len(reply.split())
    return {"input_tokens": prompt, "output_tokens": completion, "total_tokens": prompt + completion}


class LocalChatModel(BaseChatModel):
    """Deterministic, extractive stand-in for a chat model (see the module docstring)."""

    model_name: str = LOCAL_MODEL_NAME
    max_sentences: int = 2

    @property
    def _llm_type(self) -> str:
        return "eawe-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name}

    def bind_tools(self, tools: Sequence[Any], *, tool_choice: Any = None, **kwargs: Any) -> Any:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice, **kwargs)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._respond(messages, **kwargs))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def _respond(self, messages: list[BaseMessage], **kwargs: Any) -> AIMessage:
        tools: list[dict[str, Any]] = kwargs.get("tools") or []
        tool_choice = kwargs.get("tool_choice")
        last_human = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=-1)
        prompt = _text(messages[last_human]) if last_human >= 0 else ""
        question, prompt_context = _split_question(prompt)
        others = [
            _text(m) for i, m in enumerate(messages) if i != last_human and not isinstance(m, AIMessage)
        ]
        context = "\n".join([prompt_context, *others])
        answer = extractive_answer(question, context, max_sentences=self.max_sentences) or NO_ANSWER
        after_tools = any(isinstance(m, ToolMessage) for m in messages[last_human + 1 :])
        conversation = "\n".join(_text(m) for m in messages)

        forced = _tool_name(tool_choice)
        if tools and (forced or tool_choice in ("any", "required")):
            tool = next((t for t in tools if t["function"]["name"] == forced), tools[0])
            arguments, _ = fill_arguments(tool["function"].get("parameters") or {}, conversation, answer)
            return self._tool_calls([(tool["function"]["name"], arguments)], messages)
        if tools and not after_tools and tool_choice != "none":
            calls = []
            for tool in tools:
                arguments, complete = fill_arguments(tool["function"].get("parameters") or {}, prompt, answer)
                if complete:
                    calls.append((tool["function"]["name"], arguments))
            if calls:
                return self._tool_calls(calls, messages)
        return AIMessage(
            content=f"{LOCAL_MODEL_LABEL} {answer}",
            usage_metadata=_word_usage(messages, f"{LOCAL_MODEL_LABEL} {answer}"),
            response_metadata={
                "model_name": self.model_name,
                "eawe_local_model": True,
                "finish_reason": "stop",
            },
        )

    def _tool_calls(self, calls: list[tuple[str, dict[str, Any]]], messages: list[BaseMessage]) -> AIMessage:
        round_index = sum(isinstance(m, AIMessage) for m in messages)
        tool_calls = []
        for index, (name, arguments) in enumerate(calls):
            digest = hashlib.sha256(
                f"{round_index}:{index}:{name}:{json.dumps(arguments, sort_keys=True)}".encode()
            )
            tool_calls.append({"name": name, "args": arguments, "id": f"call_{digest.hexdigest()[:16]}"})
        return AIMessage(
            content="",
            tool_calls=tool_calls,
            usage_metadata=_word_usage(messages, json.dumps(tool_calls)),
            response_metadata={
                "model_name": self.model_name,
                "eawe_local_model": True,
                "finish_reason": "tool_calls",
            },
        )
