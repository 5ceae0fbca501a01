"""Bodies of ``/v1/mcp-servers``."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from server.schemas.common import ApiModel, UtcDatetime

__all__ = ["McpServerCreate", "McpServerOut"]

ToolName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,128}$")]


class McpServerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,100}$", description="Referenced by mcp_tool nodes")
    url: str = Field(max_length=2000, description="http(s) URL of the server's MCP endpoint")
    transport: Literal["streamable_http", "sse"] = "streamable_http"
    credential_id: str | None = Field(
        default=None, description="A stored credential, sent as 'Authorization: Bearer <secret>'"
    )
    allowed_tools: list[ToolName] = Field(
        min_length=1, max_length=200, description="The only tools of this server workflows may call"
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http:// or https:// URL")
        if parts.username or parts.password:
            raise ValueError("must not carry user info; store the secret as a credential")
        return url


class McpServerOut(ApiModel):
    id: str
    name: str
    url: str
    transport: str
    credential_id: str | None
    allowed_tools: list[str]
    created_at: UtcDatetime
    updated_at: UtcDatetime
