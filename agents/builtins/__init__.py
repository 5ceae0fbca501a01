"""The built-in node types."""

from agents.builtins.approval import approval_node
from agents.builtins.fanout import fan_out_node, join_node
from agents.builtins.llm import llm_node
from agents.builtins.mcp_tool import mcp_tool_node
from agents.builtins.retrieve import retrieve_node
from agents.builtins.router import router_node
from agents.builtins.subworkflow import subworkflow_node
from agents.builtins.tool import tool_node
from agents.builtins.transform import transform_node

__all__ = ["BUILTIN_NODE_TYPES"]

BUILTIN_NODE_TYPES = (
    llm_node,
    retrieve_node,
    approval_node,
    router_node,
    tool_node,
    transform_node,
    subworkflow_node,
    fan_out_node,
    join_node,
    mcp_tool_node,
)
