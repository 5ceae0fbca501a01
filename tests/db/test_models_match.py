"""The Python models and the database migrated from schema.prisma must agree."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import Enum as SAEnum
from sqlalchemy.dialects import postgresql

from eawe.db.models import Base

_TYPE_NAMES = {
    "TEXT": "text",
    "INTEGER": "integer",
    "BIGINT": "bigint",
    "BOOLEAN": "boolean",
    "JSONB": "jsonb",
    "TIMESTAMP(3) WITHOUT TIME ZONE": "timestamp(3) without time zone",
    "TEXT[]": "text[]",
}


def _model_type(column) -> str:
    if isinstance(column.type, SAEnum):
        return f'"{column.type.name}"'
    compiled = column.type.compile(dialect=postgresql.dialect()).upper()
    return _TYPE_NAMES.get(compiled, compiled.lower())


def _db_columns(conn: psycopg.Connection, table: str) -> dict[str, tuple[str, bool]]:
    rows = conn.execute(
        """
        SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
        """,
        (table,),
    ).fetchall()
    return {
        name: (
            typ
            if typ.startswith(("text", "integer", "bigint", "boolean", "jsonb", "timestamp"))
            else f'"{typ.strip(chr(34))}"',
            nullable,
        )
        for name, typ, nullable in rows
    }


def _db_indexes(conn: psycopg.Connection, table: str) -> dict[str, tuple[tuple[str, ...], bool]]:
    rows = conn.execute(
        """
        SELECT i.relname, ix.indisunique, ix.indisprimary,
               array(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
                     JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord)
        FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = 'public' AND t.relname = %s
        """,
        (table,),
    ).fetchall()
    return {name: (tuple(cols), unique) for name, unique, primary, cols in rows if not primary}


def _db_enums(conn: psycopg.Connection) -> dict[str, list[str]]:
    rows = conn.execute(
        """
        SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
        FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname
        """
    ).fetchall()
    return {name: list(labels) for name, labels in rows}


# LangGraph's own tables (its checkpointer's and store's setup(), run by the owner upgrade).
LANGGRAPH_TABLES = {
    "checkpoint_migrations",
    "checkpoints",
    "checkpoint_blobs",
    "checkpoint_writes",
    "store",
    "store_migrations",
}


def test_every_table_is_modelled(owner_conninfo: str) -> None:
    with psycopg.connect(owner_conninfo) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'"
            )
        }
    assert tables - LANGGRAPH_TABLES == set(Base.metadata.tables)
    assert tables & LANGGRAPH_TABLES == LANGGRAPH_TABLES  # set up by the owner upgrade


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_columns_types_nullability_match(owner_conninfo: str, table: str) -> None:
    model = Base.metadata.tables[table]
    with psycopg.connect(owner_conninfo) as conn:
        db = _db_columns(conn, table)
    modelled = {c.name: (_model_type(c), bool(c.nullable)) for c in model.columns}
    assert modelled == db


@pytest.mark.parametrize("table", sorted(Base.metadata.tables))
def test_indexes_match(owner_conninfo: str, table: str) -> None:
    model = Base.metadata.tables[table]
    with psycopg.connect(owner_conninfo) as conn:
        db = _db_indexes(conn, table)
    modelled = {ix.name: (tuple(c.name for c in ix.columns), bool(ix.unique)) for ix in model.indexes}
    assert modelled == db


def test_enums_match(owner_conninfo: str) -> None:
    modelled = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, SAEnum):
                modelled[column.type.name] = list(column.type.enums)
    with psycopg.connect(owner_conninfo) as conn:
        assert modelled == _db_enums(conn)


def test_foreign_keys_match(owner_conninfo: str) -> None:
    with psycopg.connect(owner_conninfo) as conn:
        rows = conn.execute(
            """
            SELECT tc.relname, a.attname, rc.relname
            FROM pg_constraint con
            JOIN pg_class tc ON tc.oid = con.conrelid JOIN pg_class rc ON rc.oid = con.confrelid
            JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = con.conkey[1]
            WHERE con.contype = 'f'
            """
        ).fetchall()
    db = {(t, c, r) for t, c, r in rows}
    modelled = {
        (table.name, fk.parent.name, fk.column.table.name)
        for table in Base.metadata.tables.values()
        for fk in table.foreign_keys
    }
    assert modelled == db
