"""Code graphs the thread/run tests serve (``eawe serve --graphs`` loads this folder's langgraph.json).

* ``chat``: appends an AI echo of the last human message (a multi-turn conversation);
* ``slow``: sleeps ``config.configurable.delay`` seconds per step (busy threads for multitask);
* ``asker``: asks a human (``interrupt``) and then records the answer;
* ``made``: a factory taking (config, runtime) that echoes, proving the runtime's store is there.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt
from langgraph_sdk.runtime import ServerRuntime
from typing_extensions import TypedDict


class ChatState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: Annotated[int, operator.add]


def reply(state: ChatState) -> dict[str, Any]:
    last = state["messages"][-1]
    return {"messages": [AIMessage(content=f"echo: {last.content}")], "turns": 1}


_chat = StateGraph(ChatState)
_chat.add_node("reply", reply)
_chat.set_entry_point("reply")
_chat.set_finish_point("reply")
graph = _chat.compile()


class SlowState(TypedDict, total=False):
    steps: Annotated[list[str], operator.add]


async def slow_step(state: SlowState, config: RunnableConfig) -> dict[str, Any]:
    await asyncio.sleep(float((config.get("configurable") or {}).get("delay", 0)))
    return {"steps": [str((config.get("configurable") or {}).get("label", "step"))]}


_slow = StateGraph(SlowState)
_slow.add_node("first", slow_step)
_slow.add_node("second", slow_step)
_slow.set_entry_point("first")
_slow.add_edge("first", "second")
_slow.set_finish_point("second")
slow_graph = _slow.compile()


class AskState(TypedDict, total=False):
    question: str
    answer: str


def ask(state: AskState) -> dict[str, Any]:
    return {"answer": str(interrupt({"question": state.get("question", "?")}))}


_ask = StateGraph(AskState)
_ask.add_node("ask", ask)
_ask.set_entry_point("ask")
_ask.set_finish_point("ask")
asker_graph = _ask.compile()


class EchoState(TypedDict, total=False):
    text: str
    has_store: bool


def make_graph(config: RunnableConfig, runtime: ServerRuntime) -> Any:
    has_store = runtime.store is not None

    def echo(state: EchoState) -> dict[str, Any]:
        return {"text": f"{state.get('text', '')} echoed", "has_store": has_store}

    builder = StateGraph(EchoState)
    builder.add_node("echo", echo)
    builder.set_entry_point("echo")
    builder.set_finish_point("echo")
    return builder.compile()
