"""Chat model factories: OpenAI-compatible in production, the local deterministic model by default."""

from __future__ import annotations

import logging
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from agents.models.local import LOCAL_MODEL_NAME, LocalChatModel

if TYPE_CHECKING:
    from eawe.settings import Settings

__all__ = [
    "CredentialChatModelFactory",
    "LocalChatModelFactory",
    "OpenAIChatModelFactory",
    "chat_model_factory_from_settings",
]

logger = logging.getLogger(__name__)


class LocalChatModelFactory:
    """Always returns the deterministic local model (the ``model`` argument is ignored)."""

    is_local = True
    default_model_name = LOCAL_MODEL_NAME

    def __init__(self) -> None:
        self._model = LocalChatModel()

    def __call__(self, *, model: str | None = None, temperature: float | None = None) -> BaseChatModel:
        return self._model

    def __repr__(self) -> str:
        return "LocalChatModelFactory(model='eawe-local-extractive')"


class OpenAIChatModelFactory:
    """``langchain_openai.ChatOpenAI`` against any OpenAI-compatible ``base_url``.

    Models are cached per (model, temperature) so their HTTP connection pools are reused.
    """

    is_local = False

    def __init__(
        self,
        *,
        api_key: SecretStr | str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self._api_key = api_key if isinstance(api_key, SecretStr) else SecretStr(api_key)
        self.default_model_name = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._cache: dict[tuple[str, float | None], BaseChatModel] = {}
        self._lock = threading.Lock()

    def __call__(self, *, model: str | None = None, temperature: float | None = None) -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        key = (model or self.default_model_name, temperature)
        with self._lock:
            cached = self._cache.get(key)
            if cached is None:
                options: dict[str, Any] = {
                    "model": key[0],
                    "api_key": self._api_key,
                    "base_url": self.base_url,
                    "timeout": self.timeout_s,
                    "max_retries": self.max_retries,
                }
                if temperature is not None:
                    options["temperature"] = temperature
                cached = self._cache[key] = ChatOpenAI(**options)
            return cached

    def __repr__(self) -> str:  # never shows the key
        return f"OpenAIChatModelFactory(model={self.default_model_name!r}, base_url={self.base_url!r})"


def chat_model_factory_from_settings(settings: Settings) -> LocalChatModelFactory | OpenAIChatModelFactory:
    """ChatOpenAI when an API key is configured, else the labelled local model (logged once)."""
    if settings.openai_api_key is not None and settings.openai_api_key.get_secret_value():
        return OpenAIChatModelFactory(
            api_key=settings.openai_api_key, model=settings.chat_model, base_url=settings.openai_base_url
        )
    logger.warning(
        "No OPENAI_API_KEY configured: LLM nodes use the deterministic local model %r, which answers "
        "extractively from the prompt's context and labels its answers %r. It is not a language model.",
        LOCAL_MODEL_NAME,
        "[local model]",
    )
    return LocalChatModelFactory()


class CredentialChatModelFactory:
    """``ChatOpenAI`` for one tenant: its endpoint, its model, and an API key read from its own
    credential store on every request (``read_key`` is awaited by the OpenAI client per call, so
    the secret is decrypted only when a request is sent and is never held by the factory).
    """

    is_local = False

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        read_key: Callable[[], Awaitable[str]],
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        self.default_model_name = model
        self.base_url = base_url
        self._read_key = read_key
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self._cache: dict[tuple[str, float | None], BaseChatModel] = {}

    def __call__(self, *, model: str | None = None, temperature: float | None = None) -> BaseChatModel:
        from langchain_openai import ChatOpenAI

        key = (model or self.default_model_name, temperature)
        cached = self._cache.get(key)
        if cached is None:
            options: dict[str, Any] = {
                "model": key[0],
                "api_key": self._read_key,
                "base_url": self.base_url,
                "timeout": self.timeout_s,
                "max_retries": self.max_retries,
            }
            if temperature is not None:
                options["temperature"] = temperature
            cached = self._cache[key] = ChatOpenAI(**options)
        return cached

    def __repr__(self) -> str:
        return f"CredentialChatModelFactory(model={self.default_model_name!r}, base_url={self.base_url!r})"
