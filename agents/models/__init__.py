"""Chat models: the OpenAI-compatible factory and the deterministic local model."""

from agents.models.factory import (
    LocalChatModelFactory,
    OpenAIChatModelFactory,
    chat_model_factory_from_settings,
)
from agents.models.local import LOCAL_MODEL_LABEL, LOCAL_MODEL_NAME, LocalChatModel

__all__ = [
    "LOCAL_MODEL_LABEL",
    "LOCAL_MODEL_NAME",
    "LocalChatModel",
    "LocalChatModelFactory",
    "OpenAIChatModelFactory",
    "chat_model_factory_from_settings",
]
