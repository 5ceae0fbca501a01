"""API benchmark: EAWE (durable) vs ``langgraph dev`` (in memory), the same graph through the SDK.

    python bench/api.py [--runs 16] [--rounds 3] [--langgraph-venv .bench-venv]

Writes a 5-node chain (each node appends "." to ``x``: the transform chain of ``bench/engine.py``
as plain LangGraph nodes) and its ``langgraph.json`` into a temp directory, then serves that one
compiled graph twice:

  * ``eawe serve --graphs langgraph.json`` on a temporary ``EAWE_DATA_DIR`` (its embedded
    PostgreSQL: durable checkpoints, queue, leases, audit), with a tenant, its administrator and
    an API key made for the benchmark (sent as ``x-api-key``);
  * ``langgraph dev --no-browser --no-reload`` from a copy of the directory (in-memory runtime),
    run from a separate venv that has ``langgraph-cli[inmem]`` (its pins conflict with EAWE's dev
    extra). Create it once, beside the repository:

        python3 -m venv .bench-venv && .bench-venv/bin/pip install 'langgraph-cli[inmem]'

Both on free ports of 127.0.0.1. The same client (``langgraph-sdk`` of EAWE's venv) calls
``client.runs.wait(None, "bench_chain", input={"x": ""})`` (a run on a new thread, waited for),
``--runs`` runs at 1 and at 8 concurrent (both servers execute up to 10 runs at once:
``EAWE_WORKER_CONCURRENCY=10`` is ``langgraph dev``'s ``--n-jobs-per-worker`` default), in
interleaved rounds (each round measures every (server, concurrency) cell, alternating the
order), after a warm-up. Per cell: ms per run (wall
time / runs) and the median latency of one call; then the ratio EAWE / langgraph dev. Medians of
the rounds. Prints tables, asserts nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from table import print_table

ROOT = Path(__file__).resolve().parents[1]
GRAPH_ID = "bench_chain"
STEPS = 5
ADMIN_EMAIL = "admin@peer.example.com"
ADMIN_PASSWORD = "peer-admin-password-1"  # a throwaway tenant in a temp data directory
VENV_HINT = "python3 -m venv .bench-venv && .bench-venv/bin/pip install 'langgraph-cli[inmem]'"

GRAPH_FILE = textwrap.dedent(
    f'''
    """{STEPS} nodes in a line, each appending "." to x (bench/api.py)."""

    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph


    class State(TypedDict, total=False):
        x: str


    async def step(state: State) -> State:
        return {{"x": state.get("x", "") + "."}}


    builder = StateGraph(State)
    for i in range({STEPS}):
        builder.add_node(f"s{{i}}", step)
    builder.add_edge(START, "s0")
    for i in range({STEPS - 1}):
        builder.add_edge(f"s{{i}}", f"s{{i + 1}}")
    builder.add_edge("s{STEPS - 1}", END)
    graph = builder.compile()
    '''
)


def graph_dir(parent: Path, name: str) -> Path:
    folder = parent / name
    folder.mkdir()
    (folder / "bench_graph.py").write_text(GRAPH_FILE)
    config = {"dependencies": ["."], "graphs": {GRAPH_ID: "./bench_graph.py:graph"}}
    (folder / "langgraph.json").write_text(json.dumps(config) + "\n")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Server:
    """A server process (its own process group, stopped with SIGTERM to that group)."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path, port: int) -> None:
        self.name, self.argv, self.env, self.cwd, self.port = name, argv, env, cwd, port
        self.url = f"http://127.0.0.1:{port}"
        self.log = cwd / f"{name}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as sink:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                env=self.env,
                cwd=self.cwd,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 240
        async with httpx.AsyncClient() as http:
            while True:
                if self.process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not start:\n{self.log.read_text(errors='replace')[-4000:]}"
                    )
                try:
                    if (await http.get(f"{self.url}/ok", timeout=2)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.3)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)  # the group this process leads (its children)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            os.killpg(self.process.pid, signal.SIGKILL)
            await self.process.wait()


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("EAWE_", "DATABASE_URL", "QDRANT_", "OPENAI_", "LANGSMITH_", "LANGCHAIN_"))
    }
    env.update(extra)
    return env


async def eawe_api_key(url: str) -> str:
    """Log the benchmark tenant's administrator in and make an API key."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        token = await http.post("/v1/auth/token", data={"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
        token.raise_for_status()
        made = await http.post(
            "/v1/api-keys",
            json={"name": "bench"},
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
        )
        made.raise_for_status()
        return str(made.json()["key"])


async def one_cell(call: Callable[[], Awaitable[Any]], runs: int, concurrency: int) -> tuple[float, float]:
    """``runs`` calls, ``concurrency`` at a time: (ms per run, median ms of one call)."""
    semaphore = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def timed() -> None:
        async with semaphore:
            started = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(timed() for _ in range(runs)))
    return 1000 * (time.perf_counter() - started) / runs, 1000 * statistics.median(latencies)


def run_call(client: Any, name: str) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        result = await client.runs.wait(None, GRAPH_ID, input={"x": ""})
        if not isinstance(result, dict) or result.get("x") != "." * STEPS:
            raise RuntimeError(f"{name}: runs.wait returned {result!r}")

    return call


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=16, help="runs per cell and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--langgraph-venv", type=Path, default=ROOT / ".bench-venv", help="a venv with langgraph-cli[inmem]"
    )
    args = parser.parse_args()
    langgraph = args.langgraph_venv.resolve() / "bin" / "langgraph"  # the servers run elsewhere
    if not langgraph.exists():
        print(f"{langgraph} not found: create the venv with\n\n    {VENV_HINT}\n", file=sys.stderr)
        raise SystemExit(2)

    from langgraph_sdk import get_client

    work = Path(tempfile.mkdtemp(prefix="eawe-bench-api-"))
    eawe_dir, dev_dir = graph_dir(work, "eawe"), graph_dir(work, "langgraph-dev")
    eawe_env = clean_env(
        EAWE_DATA_DIR=str(work / "eawe-data"),
        EAWE_RUN_RATE_LIMIT_PER_MINUTE="1000000",  # the benchmark starts more runs than a tenant may
        EAWE_WORKER_CONCURRENCY="10",  # runs executed at once: langgraph dev's --n-jobs-per-worker default
        PYTHONPATH=str(ROOT),
    )
    eawe_cli = [sys.executable, "-m", "cli"]
    made = await asyncio.create_subprocess_exec(
        *eawe_cli,
        *("tenant", "create", "Peer", "--admin-email", ADMIN_EMAIL, "--admin-password", ADMIN_PASSWORD),
        env=eawe_env,
        cwd=eawe_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(made.communicate(), 300)
    if made.returncode != 0:
        raise RuntimeError(f"eawe tenant create failed:\n{output.decode(errors='replace')}")
    eawe_port, dev_port = free_port(), free_port()
    servers = {
        "EAWE": Server(
            "eawe-serve",
            [*eawe_cli, "serve", "--port", str(eawe_port), "--graphs", str(eawe_dir / "langgraph.json")],
            eawe_env,
            eawe_dir,
            eawe_port,
        ),
        "langgraph dev": Server(
            "langgraph-dev",
            [
                str(langgraph),
                "dev",
                "--no-browser",
                "--no-reload",
                "--host",
                "127.0.0.1",
                "--port",
                str(dev_port),
            ],
            clean_env(LANGGRAPH_CLI_NO_ANALYTICS="1", LANGSMITH_TRACING="false"),
            dev_dir,
            dev_port,
        ),
    }
    levels = (1, 8)
    cells: dict[tuple[str, int], list[tuple[float, float]]] = {}
    try:
        await asyncio.gather(*(server.start() for server in servers.values()))
        key = await eawe_api_key(servers["EAWE"].url)
        calls = {
            "EAWE": run_call(get_client(url=servers["EAWE"].url, api_key=key), "EAWE"),
            "langgraph dev": run_call(
                get_client(url=servers["langgraph dev"].url, api_key=None), "langgraph dev"
            ),
        }
        for call in calls.values():  # warm-up: imports, pools, caches
            await one_cell(call, 8, 8)
        names = list(calls)
        for round_no in range(args.rounds):
            order = [(n, c) for c in levels for n in names]
            for name, concurrency in order if round_no % 2 == 0 else order[::-1]:
                cells.setdefault((name, concurrency), []).append(
                    await one_cell(calls[name], args.runs, concurrency)
                )
    finally:
        for server in servers.values():
            await server.stop()
        shutil.rmtree(work, ignore_errors=True)

    def median(name: str, concurrency: int, part: int) -> float:
        return statistics.median(cell[part] for cell in cells[(name, concurrency)])

    rows = [
        (
            name,
            str(c),
            f"{median(name, c, 0):.1f}",
            f"{median(name, c, 1):.1f}",
            f"{1000 / median(name, c, 0):.1f}",
        )
        for c in levels
        for name in names
    ]
    print_table(
        f"runs.wait of a {STEPS}-node chain through langgraph-sdk, {args.runs} runs per cell, medians of "
        f"{args.rounds} interleaved rounds",
        ("server", "concurrent", "ms/run (wall / runs)", "median latency ms", "runs/s"),
        rows,
    )
    print_table(
        "EAWE (durable, Postgres) / langgraph dev (in memory), per run",
        ("concurrent", "ms/run ratio", "latency ratio"),
        [
            (
                str(c),
                f"{median('EAWE', c, 0) / median('langgraph dev', c, 0):.2f}",
                f"{median('EAWE', c, 1) / median('langgraph dev', c, 1):.2f}",
            )
            for c in levels
        ],
    )


if __name__ == "__main__":
    asyncio.run(main())
