"""Stand in for another worker process in tests: hold its liveness lock while it "claims", then die.

A claim needs the claimer's liveness lock (``checkpoints.leases``), and a run is reclaimed at once
when its owner's lock is gone; ``with worker_alive(conninfo, "w"):`` holds the lock of worker
``w`` on a connection of its own and drops it on exit, as a killed process's connection would.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from checkpoints.leases import LIVENESS_LOCK_SQL


@contextmanager
def worker_alive(conninfo: str, worker_id: str) -> Iterator[None]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(LIVENESS_LOCK_SQL, (worker_id,))
        yield
