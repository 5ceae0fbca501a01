"""EAWE node SDK: the node registry, config building blocks, run context and built-in node types.

Add a node type with one decorator on a registry instance (see ``agents/README.md``)::

    from agents import NodeConfig, NodeContext, StateKey, create_registry

    registry = create_registry()

    class ShoutConfig(NodeConfig):
        field: StateKey

    @registry.node("shout", config=ShoutConfig)
    async def shout(state, config: ShoutConfig, ctx: NodeContext) -> dict:
        return {config.field: str(state.get(config.field, "")).upper()}
"""

from agents.builtins.approval import APPROVALS_FIELD, ApprovalDecision, ApprovalRejectedError
from agents.config_types import Condition, NodeConfig, NodeRef, StateKey, Template, TemplateValue
from agents.context import (
    AuditSink,
    ChatModelFactory,
    CredentialReader,
    DocumentRetriever,
    McpServerDirectory,
    McpServerSpec,
    NodeContext,
    Principal,
    RunContext,
    SecretScrubber,
)
from agents.expressions import ConditionError, evaluate_condition
from agents.keyword_retriever import KeywordRetriever
from agents.models import (
    LocalChatModel,
    LocalChatModelFactory,
    OpenAIChatModelFactory,
    chat_model_factory_from_settings,
)
from agents.registry import (
    ENTRY_POINT_GROUP,
    BuildContext,
    DefiniteNodeError,
    DuplicateNodeTypeError,
    NodeRegistry,
    NodeType,
    PluginLoadError,
    RouteInfo,
    UnknownNodeTypeError,
    create_registry,
    node_type,
)
from agents.templates import TemplateError, render_template, render_value

__all__ = [
    "APPROVALS_FIELD",
    "ENTRY_POINT_GROUP",
    "ApprovalDecision",
    "ApprovalRejectedError",
    "AuditSink",
    "BuildContext",
    "ChatModelFactory",
    "Condition",
    "ConditionError",
    "CredentialReader",
    "DefiniteNodeError",
    "DocumentRetriever",
    "DuplicateNodeTypeError",
    "KeywordRetriever",
    "LocalChatModel",
    "LocalChatModelFactory",
    "McpServerDirectory",
    "McpServerSpec",
    "NodeConfig",
    "NodeContext",
    "NodeRef",
    "NodeRegistry",
    "NodeType",
    "OpenAIChatModelFactory",
    "PluginLoadError",
    "Principal",
    "RouteInfo",
    "RunContext",
    "SecretScrubber",
    "StateKey",
    "Template",
    "TemplateError",
    "TemplateValue",
    "UnknownNodeTypeError",
    "chat_model_factory_from_settings",
    "create_registry",
    "evaluate_condition",
    "node_type",
    "render_template",
    "render_value",
]
