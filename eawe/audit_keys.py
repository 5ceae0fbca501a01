"""Ed25519 keys that sign the audit log's tree heads, and the signed message itself.

The private keys live outside the database, like the credential keys: the setting
``EAWE_AUDIT_SIGNING_KEYS`` holds ``version:base64seed`` pairs (32-byte Ed25519 seeds); the
highest version signs new heads, older ones stay listed so their public keys are still
published. A key is named by its id, the first 16 bytes of SHA-256 of the raw public key in
hex, so a verifier can name any public key it is given without trusting a label.

The signed message is ``b"eawe.audit.tree_head.v1\\n"`` followed by the canonical JSON (sorted
keys, no spaces) of ``tenant_id``, ``tree_size``, ``root_hash`` (hex), ``timestamp`` (epoch
milliseconds) and ``key_id``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

__all__ = [
    "AuditSigner",
    "PublicKeySet",
    "TreeHead",
    "key_id_of",
    "load_public_keys",
    "parse_signing_keys",
    "tree_head_message",
]

_DOMAIN = b"eawe.audit.tree_head.v1\n"


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


@dataclass(frozen=True)
class TreeHead:
    """A signed tree head (STH): what the log commits to for one tenant at one size."""

    tenant_id: str
    tree_size: int
    root_hash: str
    timestamp: int
    key_id: str
    signature: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "timestamp": self.timestamp,
            "key_id": self.key_id,
            "signature": self.signature,
            "algorithm": "Ed25519",
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TreeHead:
        """Parse a head as :meth:`as_dict` writes it; a missing or mistyped field is a ValueError."""
        try:
            return cls(
                tenant_id=str(data["tenant_id"]),
                tree_size=int(data["tree_size"]),
                root_hash=str(data["root_hash"]),
                timestamp=int(data["timestamp"]),
                key_id=str(data["key_id"]),
                signature=str(data["signature"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"tree head: missing or invalid field ({exc})") from None


def tree_head_message(tenant_id: str, tree_size: int, root_hash: str, timestamp: int, key_id: str) -> bytes:
    body = {
        "tenant_id": tenant_id,
        "tree_size": tree_size,
        "root_hash": root_hash,
        "timestamp": timestamp,
        "key_id": key_id,
    }
    return _DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class PublicKeySet:
    """Public keys by key id: checks tree head signatures."""

    keys: dict[str, Ed25519PublicKey]

    def verify(self, head: TreeHead) -> str | None:
        """None when the signature is valid, else the reason."""
        public = self.keys.get(head.key_id)
        if public is None:
            return f"tree head of size {head.tree_size} is signed by unknown key {head.key_id}"
        message = tree_head_message(
            head.tenant_id, head.tree_size, head.root_hash, head.timestamp, head.key_id
        )
        try:
            public.verify(base64.b64decode(head.signature, validate=True), message)
        except (InvalidSignature, ValueError):
            return f"tree head of size {head.tree_size}: signature does not verify"
        return None

    def describe(self, active: str | None = None) -> list[dict[str, Any]]:
        """The public keys as the API and ``--public-key`` files carry them."""
        return [
            {
                "key_id": key_id,
                "algorithm": "Ed25519",
                "public_key": base64.b64encode(
                    key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
                ).decode(),
                "public_key_pem": key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ).decode(),
                "active": key_id == active,
            }
            for key_id, key in self.keys.items()
        ]


@dataclass(frozen=True)
class AuditSigner:
    """Signs tree heads with the newest key; knows the public half of every configured key."""

    keys: dict[int, Ed25519PrivateKey]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("audit_signing_keys: at least one key is required")

    @property
    def active_key_id(self) -> str:
        return key_id_of(self.keys[max(self.keys)].public_key())

    def public_keys(self) -> PublicKeySet:
        return PublicKeySet({key_id_of(k.public_key()): k.public_key() for _, k in sorted(self.keys.items())})

    def sign(self, tenant_id: str, tree_size: int, root_hash: str, timestamp: int) -> TreeHead:
        key = self.keys[max(self.keys)]
        key_id = key_id_of(key.public_key())
        signature = key.sign(tree_head_message(tenant_id, tree_size, root_hash, timestamp, key_id))
        return TreeHead(
            tenant_id, tree_size, root_hash, timestamp, key_id, base64.b64encode(signature).decode()
        )


def parse_signing_keys(raw: str) -> dict[int, Ed25519PrivateKey]:
    """``version:base64seed,...`` → private keys by version; errors name the entry, never the key."""
    keys: dict[int, Ed25519PrivateKey] = {}
    for index, part in enumerate(p for p in raw.split(",") if p.strip()):
        version_text, sep, seed_text = part.strip().partition(":")
        if not sep or not version_text.isdigit():
            raise ValueError(f"audit_signing_keys entry {index}: expected 'version:base64seed'")
        try:
            seed = base64.b64decode(seed_text, validate=True)
        except ValueError as exc:
            raise ValueError(f"audit_signing_keys entry {index}: seed is not valid base64") from exc
        if len(seed) != 32:
            raise ValueError(f"audit_signing_keys entry {index}: an Ed25519 seed is 32 bytes")
        keys[int(version_text)] = Ed25519PrivateKey.from_private_bytes(seed)
    return keys


def load_public_keys(texts: Iterable[str]) -> PublicKeySet:
    """Public keys from PEM text (one or more keys) or the JSON the public-keys endpoint returns."""
    keys: dict[str, Ed25519PublicKey] = {}
    for text in texts:
        stripped = text.strip()
        if stripped.startswith(("{", "[")):
            data = json.loads(stripped)
            entries = data.get("keys", []) if isinstance(data, dict) else data
            for entry in entries:
                raw = base64.b64decode(entry["public_key"], validate=True)
                public = Ed25519PublicKey.from_public_bytes(raw)
                keys[key_id_of(public)] = public
            continue
        blocks = [b for b in stripped.split("-----END PUBLIC KEY-----") if b.strip()]
        for block in blocks:
            loaded = serialization.load_pem_public_key(
                (block.strip() + "\n-----END PUBLIC KEY-----\n").encode()
            )
            if not isinstance(loaded, Ed25519PublicKey):
                raise ValueError("public key: not an Ed25519 key")
            keys[key_id_of(loaded)] = loaded
    return PublicKeySet(keys)
