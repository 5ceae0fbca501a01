"""EAWE's MCP server: every published workflow the caller may run is a tool at ``/mcp``."""

from server.mcp_server.endpoint import McpEndpoint

__all__ = ["McpEndpoint"]
