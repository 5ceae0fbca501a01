"""Scale-out benchmark: runs/s with one ``eawe worker`` process vs two on one database.

    python bench/workers.py [--runs 48] [--steps 10] [--concurrency 4] [--rounds 3] [--database-url ...]

Each measurement starts the worker processes (``eawe worker --no-retrieval`` with
``EAWE_WORKER_CONCURRENCY``), waits until every one has logged that it started, then queues
``--runs`` runs of a ``--steps``-step chain of one tenant from this process and times until all
of them settled (queueing included: the workers start on the first run while the rest are still
being queued). Rows: 1 worker, 2 workers, and 1 worker with twice the concurrency (the same
number of runs in flight as 2 workers, in one process). Interleaved rounds (each round measures
every row, alternating the order), medians. Prints a table, asserts nothing.

Every worker runs the audit sealer as well (one of them holds its lock). Without
``--database-url`` (or ``DATABASE_URL``) a throwaway embedded PostgreSQL is started.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import (  # bench/engine.py: the throwaway server and the engine API
    bench_engine,
    chain_definition,
    fresh_database,
    publish_chain,
    queue_run,
    run_statuses,
    start_postgres,
)
from table import print_table

ROOT = Path(__file__).resolve().parents[1]
SETTLED = ("COMPLETED", "FAILED", "CANCELLED", "PAUSED_WITH_ERROR", "PAUSED_FOR_APPROVAL")


def worker_env(conninfo: str, data_dir: Path, concurrency: int) -> dict[str, str]:
    """A worker's environment: this database, throwaway keys, nothing of the caller's EAWE_*."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_"))
    }
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    seed = base64.b64encode(secrets.token_bytes(32)).decode()
    env.update(
        DATABASE_URL=conninfo,
        EAWE_ENVIRONMENT="test",
        EAWE_DATA_DIR=str(data_dir),
        EAWE_CREDENTIAL_KEYS=f"1:{key}",
        EAWE_JWT_SECRET=secrets.token_urlsafe(32),
        EAWE_AUDIT_SIGNING_KEYS=f"1:{seed}",
        EAWE_WORKER_CONCURRENCY=str(concurrency),
        PYTHONPATH=str(ROOT),
    )
    return env


class Workers:
    """``count`` ``eawe worker`` processes, started and ready on entry, stopped (SIGTERM) on exit."""

    def __init__(self, count: int, env: dict[str, str], log_dir: Path) -> None:
        self.count, self.env, self.log_dir = count, env, log_dir
        self.processes: list[tuple[asyncio.subprocess.Process, Path]] = []

    async def __aenter__(self) -> Workers:
        for n in range(self.count):
            log = self.log_dir / f"worker-{n}-{secrets.token_hex(2)}.log"
            with log.open("wb") as sink:
                process = await asyncio.create_subprocess_exec(
                    *(sys.executable, "-m", "cli", "worker", "--no-retrieval"),
                    env=self.env,
                    cwd=self.log_dir,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            self.processes.append((process, log))
        deadline = time.monotonic() + 180
        for process, log in self.processes:
            while "started (concurrency" not in log.read_text(errors="replace"):
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"a worker did not start:\n{log.read_text(errors='replace')}")
                await asyncio.sleep(0.1)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for process, _ in self.processes:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
        for process, _ in self.processes:
            try:
                await asyncio.wait_for(process.wait(), 60)
            except TimeoutError:
                process.kill()
                await process.wait()


async def drain(engine: object, target: tuple[str, str], runs: int) -> tuple[float, float]:
    """Queue ``runs`` runs and wait until the running workers settled all of them.

    Returns the seconds until the last run was queued and until the last one settled.
    """
    started = time.perf_counter()
    run_ids = [await queue_run(engine, target) for _ in range(runs)]
    queued = time.perf_counter() - started
    while True:
        statuses = await run_statuses(engine, run_ids)
        if sum(statuses.get(s, 0) for s in SETTLED) == runs:
            elapsed = time.perf_counter() - started
            break
        await asyncio.sleep(0.05)
    if statuses.get("COMPLETED", 0) != runs:
        raise RuntimeError(f"not every run completed: {statuses}")
    return queued, elapsed


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=48, help="runs queued per measurement")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=4, help="EAWE_WORKER_CONCURRENCY of each worker")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()

    c = args.concurrency
    rows = [(1, c), (2, c), (1, 2 * c)]  # (worker processes, concurrency of each)
    seconds: dict[tuple[int, int], list[float]] = {row: [] for row in rows}
    queueing: dict[tuple[int, int], list[float]] = {row: [] for row in rows}
    work_dir = Path(tempfile.mkdtemp(prefix="eawe-bench-workers-"))
    admin, stop_server = start_postgres(args.database_url)
    conninfo, drop = fresh_database(admin)
    try:
        async with bench_engine(conninfo) as engine:
            (target,) = await publish_chain(engine, chain_definition(args.steps))
            envs = {row: worker_env(conninfo, work_dir, row[1]) for row in rows}
            for round_no in range(args.rounds):
                for row in rows if round_no % 2 == 0 else rows[::-1]:
                    async with Workers(row[0], envs[row], work_dir):
                        queued, settled = await drain(engine, target, args.runs)
                    queueing[row].append(queued)
                    seconds[row].append(settled)
    finally:
        drop()
        stop_server()
        shutil.rmtree(work_dir, ignore_errors=True)

    base = statistics.median(seconds[rows[0]])
    table = []
    for processes, concurrency in rows:
        median = statistics.median(seconds[(processes, concurrency)])
        table.append(
            (
                str(processes),
                str(concurrency),
                str(processes * concurrency),
                f"{statistics.median(queueing[(processes, concurrency)]):.2f}",
                f"{median:.2f}",
                f"{args.runs / median:.1f}",
                f"{args.runs * args.steps / median:,.0f}",
                f"{base / median:.2f}",
            )
        )
    print_table(
        f"Workers on one database: {args.runs} queued runs of {args.steps} steps, one tenant, medians of "
        f"{args.rounds} interleaved rounds (time from the first run queued to the last settled)",
        (
            "worker processes",
            "concurrency each",
            "runs in flight",
            "all queued after (s)",
            "all settled after (s)",
            "runs/s",
            "steps/s",
            "vs 1 worker",
        ),
        table,
    )


if __name__ == "__main__":
    asyncio.run(main())
