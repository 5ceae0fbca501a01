"""Where a stored credential may be sent: its allowed hosts and HTTP methods.

An administrator binds each credential to hosts when storing it; a workflow (drawn by a designer)
can only name the credential, so a ``tool`` node pointed at any other host gets no secret. Entries
are ``host``, ``host:port`` or ``*.domain`` (any subdomain of ``domain``, not ``domain`` itself).
A credential with no allowed host is usable nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from eawe.errors import EAWEError, Problem, ValidationError

__all__ = ["CredentialScopeError", "check_credential_target", "clean_allowed_hosts", "clean_allowed_methods"]

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_HOST_ENTRY = re.compile(rf"^(\*\.)?{_LABEL}(\.{_LABEL})*(:[0-9]{{1,5}})?$")
_IPV6_ENTRY = re.compile(r"^\[[0-9a-f:.]+\](:[0-9]{1,5})?$")
MAX_ENTRIES = 50


class CredentialScopeError(EAWEError):
    """A credential was requested for a host or method it is not bound to."""

    status_code = 403
    title = "Credential not allowed for this target"


def clean_allowed_hosts(hosts: Sequence[str], field: str = "allowed_hosts") -> list[str]:
    """Lower-cased, de-duplicated host entries; raise naming the bad entry."""
    out: list[str] = []
    problems = []
    if len(hosts) > MAX_ENTRIES:
        problems.append(Problem(field, f"at most {MAX_ENTRIES} hosts"))
    for index, raw in enumerate(hosts):
        entry = raw.strip().lower() if isinstance(raw, str) else ""
        if not (_HOST_ENTRY.match(entry) or _IPV6_ENTRY.match(entry)):
            problems.append(
                Problem(f"{field}[{index}]", "expected 'host', 'host:port' or '*.domain' (no scheme or path)")
            )
        elif entry not in out:
            out.append(entry)
    if problems:
        raise ValidationError(problems)
    return out


def clean_allowed_methods(methods: Sequence[str] | None, field: str = "allowed_methods") -> list[str]:
    out: list[str] = []
    for index, raw in enumerate(methods or ()):
        method = raw.strip().upper() if isinstance(raw, str) else ""
        if method not in HTTP_METHODS:
            raise ValidationError(Problem(f"{field}[{index}]", f"expected one of {', '.join(HTTP_METHODS)}"))
        if method not in out:
            out.append(method)
    return out


def _split_entry(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry.partition("]")
        return host + "]", int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = entry.partition(":")
    return host, int(port) if sep else None


def _host_matches(entry: str, host: str, port: int | None) -> bool:
    entry_host, entry_port = _split_entry(entry)
    if entry_port is not None and entry_port != port:
        return False
    if entry_host.startswith("*."):
        return host.endswith(entry_host[1:])  # "*.example.com" matches "api.example.com" only
    return host == entry_host


def check_credential_target(
    name: str, allowed_hosts: Sequence[str] | None, allowed_methods: Sequence[str] | None,
    url: str | None, method: str | None,
) -> None:  # fmt: skip
    """Raise :class:`CredentialScopeError` unless ``method url`` is within the credential's scope."""
    if url is None:
        raise CredentialScopeError(f"credential {name!r} is only revealed for a request to one of its hosts")
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    hosts = list(allowed_hosts or ())
    if not hosts:
        raise CredentialScopeError(
            f"credential {name!r} has no allowed hosts; an administrator must set allowed_hosts"
        )
    shown = host if port is None else f"{host}:{port}"
    if not any(_host_matches(entry, host, port) for entry in hosts):
        raise CredentialScopeError(
            f"credential {name!r} may not be sent to {shown!r} (allowed: {', '.join(hosts)})"
        )
    methods = list(allowed_methods or ())
    if methods and (method or "GET").upper() not in methods:
        raise CredentialScopeError(
            f"credential {name!r} may not be sent with {method} (allowed: {', '.join(methods)})"
        )
