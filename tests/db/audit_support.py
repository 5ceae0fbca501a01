"""Shared pieces of the audit log tests: a sealer runner, waits, a superuser connection, and an
RFC 9162 verifier written from the RFC's text independently of ``eawe.merkle``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import psycopg

from eawe.audit_keys import AuditSigner, parse_signing_keys
from eawe.audit_sealer import AuditSealer
from eawe.db.database import Database


def signer(raw: str) -> AuditSigner:
    return AuditSigner(parse_signing_keys(raw))


@asynccontextmanager
async def sealer_running(database: Database, raw_keys: str, **kwargs: float) -> AsyncIterator[AuditSealer]:
    sealer = AuditSealer(
        database.sqlalchemy_url,
        signer(raw_keys),
        interval=kwargs.get("interval", 0.05),
        retry=kwargs.get("retry", 0.1),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sealer.run(stop))
    try:
        yield sealer
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


async def eventually(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Wait (liveness, not speed) until ``check()`` holds; fail naming ``what``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def unsealed(conninfo: str, tenant_id: str | None = None) -> int:
    with psycopg.connect(conninfo) as conn:
        sql = 'SELECT count(*) FROM "AuditLog" WHERE "leafIndex" IS NULL'
        params: tuple = ()
        if tenant_id:
            sql += ' AND "tenantId" = %s'
            params = (tenant_id,)
        row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0


async def wait_sealed(conninfo: str, tenant_id: str | None = None) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while await asyncio.to_thread(unsealed, conninfo, tenant_id):
        if loop.time() > deadline:
            raise AssertionError("timed out waiting for the sealer")
        await asyncio.sleep(0.05)


def superuser(conninfo: str, *statements: tuple[str, tuple]) -> None:
    """Run statements past the triggers, as a database superuser could."""
    with psycopg.connect(conninfo) as conn:
        conn.execute("SET session_replication_role = replica")
        for sql, params in statements:
            conn.execute(sql, params)


# --- an independent RFC 9162 verifier (§2.1.1, §2.1.3.2, §2.1.4.2), by the letter ----------


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def reference_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH by the definition: split at the largest power of two smaller than n."""
    if not leaf_hashes:
        return _h(b"")
    if len(leaf_hashes) == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < len(leaf_hashes):
        k *= 2
    return _h(b"\x01" + reference_root(leaf_hashes[:k]) + reference_root(leaf_hashes[k:]))


def reference_verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, path: list[bytes], root: bytes
) -> bool:
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            r = _h(b"\x01" + r + p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def reference_verify_consistency(
    first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]
) -> bool:
    if not path:
        return False
    path = list(path)
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn //= 2
                sn //= 2
        else:
            sr = _h(b"\x01" + sr + c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0
