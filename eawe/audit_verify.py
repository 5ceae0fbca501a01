"""Check a tenant's audit log against its signed tree heads: one algorithm, online and offline.

:func:`check_log` takes entries as :func:`eawe.audit.entry_record` writes them and tree heads,
and needs nothing else — ``GET /v1/audit-logs/verify`` feeds it from the database, ``eawe audit
verify FILE`` from an export. It recomputes every leaf hash from the entry's content, the root
at every head's size, and checks, in order:

1. the entries hold leaf indexes 0, 1, 2, ... (none removed or reordered);
2. each entry's stored ``hash``/``prev_hash`` match its content (its leaf hash and the root
   before it; or, for rows chained before the Merkle log, the old chain rule);
3. each head is signed by a known key and its root is the recomputed one;
4. the latest head covers every sealed entry;
5. each trusted head (one the verifier kept from earlier) is signed, and its root is the root of
   the first ``tree_size`` entries here — with an RFC 9162 consistency proof from it to the
   latest head. A superuser who rewrites a row and has the whole log re-sealed and re-signed
   passes 1-4 but not this one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from eawe.audit import GENESIS_HASH, entry_leaf_hash, legacy_chain_hash
from eawe.audit_keys import PublicKeySet, TreeHead
from eawe.merkle import MerkleFrontier, consistency_proof, verify_consistency

__all__ = ["LogCheck", "check_log"]


@dataclass(frozen=True)
class LogCheck:
    """Outcome of a check. ``ok`` is False with the first problem found in ``reason``."""

    tenant_id: str
    checked: int
    ok: bool
    tree_size: int = 0
    root_hash: str | None = None
    first_broken_id: str | None = None
    first_broken_seq: int | None = None
    reason: str | None = None
    heads_checked: int = 0
    trusted_checked: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "checked": self.checked,
            "ok": self.ok,
            "tree_size": self.tree_size,
            "root_hash": self.root_hash,
            "first_broken_id": self.first_broken_id,
            "first_broken_seq": self.first_broken_seq,
            "reason": self.reason,
            "heads_checked": self.heads_checked,
            "trusted_checked": self.trusted_checked,
        }


def check_log(
    tenant_id: str,
    entries: Sequence[dict[str, Any]],
    heads: Sequence[TreeHead],
    keys: PublicKeySet,
    *,
    trusted: Sequence[TreeHead] = (),
) -> LogCheck:
    """Check ``entries`` (sealed, any order) against ``heads`` and any ``trusted`` heads."""
    ordered = sorted(entries, key=lambda e: int(e["leaf_index"]))
    heads = sorted(heads, key=lambda h: h.tree_size)

    def broken(checked: int, reason: str, entry: dict[str, Any] | None = None) -> LogCheck:
        return LogCheck(
            tenant_id,
            checked,
            False,
            first_broken_id=entry["id"] if entry else None,
            first_broken_seq=int(entry["seq"]) if entry else None,
            reason=reason,
        )

    wanted = {h.tree_size for h in heads} | {h.tree_size for h in trusted}
    roots: dict[int, bytes] = {}
    leaves: list[bytes] = []
    frontier = MerkleFrontier()
    previous_stored: str | None = None
    for position, entry in enumerate(ordered):
        if entry["tenant_id"] != tenant_id:
            return broken(position, f"entry belongs to tenant {entry['tenant_id']}", entry)
        if int(entry["leaf_index"]) != position:
            return broken(
                position, f"leaf index gap: expected {position} (entries removed or reordered)", entry
            )
        leaf = entry_leaf_hash(entry)
        before = frontier.root().hex()
        sealed_form = entry["hash"] == leaf.hex() and entry["prev_hash"] == before
        legacy_form = (
            entry["prev_hash"] is not None
            and entry["prev_hash"] == (previous_stored if position else GENESIS_HASH)
            and entry["hash"] == legacy_chain_hash(entry["prev_hash"], entry)
        )
        if not (sealed_form or legacy_form):
            return broken(position, "row content does not match its hash (row modified)", entry)
        previous_stored = entry["hash"]
        leaves.append(leaf)
        frontier.append(leaf)
        if frontier.size in wanted:
            roots[frontier.size] = frontier.root()
    size = len(ordered)

    for head in heads:
        problem = _head_problem(tenant_id, head, keys, roots, size, trusted=False)
        if problem:
            return broken(size, problem)
    latest = heads[-1] if heads else None
    if size and (latest is None or latest.tree_size < size):
        covered = latest.tree_size if latest else 0
        return broken(size, f"{size - covered} sealed entries are not covered by a signed tree head")

    for head in trusted:
        problem = _head_problem(tenant_id, head, keys, roots, size, trusted=True)
        if problem:
            return broken(size, problem)
        if latest is not None and head.tree_size > 0:
            proof = consistency_proof(head.tree_size, leaves[: latest.tree_size])
            if not verify_consistency(
                head.tree_size,
                latest.tree_size,
                bytes.fromhex(head.root_hash),
                roots[latest.tree_size],
                proof,
            ):
                return broken(
                    size, f"trusted tree head of size {head.tree_size} is not consistent with the log"
                )
    return LogCheck(
        tenant_id,
        size,
        True,
        tree_size=latest.tree_size if latest else 0,
        root_hash=latest.root_hash if latest else None,
        heads_checked=len(heads),
        trusted_checked=len(trusted),
    )


def _head_problem(
    tenant_id: str, head: TreeHead, keys: PublicKeySet, roots: dict[int, bytes], size: int, *, trusted: bool
) -> str | None:
    label = f"{'trusted ' if trusted else ''}tree head of size {head.tree_size}"
    if head.tenant_id != tenant_id:
        return f"{label} belongs to tenant {head.tenant_id}"
    bad_signature = keys.verify(head)
    if bad_signature:
        return ("trusted " if trusted else "") + bad_signature
    if head.tree_size > size:
        return f"{label} covers {head.tree_size} entries but the log holds {size} (entries removed)"
    if head.tree_size and roots[head.tree_size].hex() != head.root_hash:
        return f"{label}: its root does not match the entries (history rewritten)"
    return None
