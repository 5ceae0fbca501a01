"""Hostile-upload benchmark: how fast each hostile file is refused, and the event loop's lag meanwhile.

    python bench/hostile_uploads.py

For each file (built here, like the tests build them) it parses once through the parser
processes (``ParsePool``, the server's path) and once in a thread of this process (the path
before issue 13), and prints the wall time, the outcome, and the worst lag of a 10 ms ticker on
the event loop while parsing — what ``/health`` and every other request would wait.
Thread-path rows (after every parser-process row, so they cannot slow those down) are cut off
after ``--thread-cap`` seconds; the 1 GB bomb has no thread row (it would take gigabytes), and
the process exits at once at the end instead of waiting for abandoned thread parses.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rich.console import Console
from rich.table import Table

from eawe.settings import Settings
from retrieval.chunking import chunk_blocks
from retrieval.errors import DocumentRejectedError
from retrieval.parse_pool import ParsePool
from retrieval.parsing import ParseLimits, parse_document
from tests.security.hostile_files import many_page_pdf, slow_pdf, zip_bomb_docx


async def _measure(work: Callable[[], Awaitable[object]], cap: float) -> tuple[float, str, float]:
    lag = 0.0
    stop = asyncio.Event()

    async def ticker() -> None:
        nonlocal lag
        while not stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lag = max(lag, time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    started = time.perf_counter()
    try:
        await asyncio.wait_for(work(), cap)
        outcome = "accepted"
    except DocumentRejectedError as exc:
        outcome = "refused: " + exc.reason[:60]
    except TimeoutError:
        outcome = f"still parsing after {cap:.0f} s"
    elapsed = time.perf_counter() - started
    stop.set()
    await tick
    return elapsed, outcome, lag


async def main(thread_cap: float) -> None:
    settings = Settings(_env_file=None)
    pool = ParsePool.from_settings(settings)
    await pool.warm_up()
    files = [
        ("DOCX 50 MB inflated (~1000:1)", "bomb.docx", zip_bomb_docx(50 * 1024 * 1024)),
        ("DOCX 1 GB inflated", "bomb.docx", zip_bomb_docx(1024 * 1024 * 1024)),
        ("PDF 20,000 pages", "pages.pdf", many_page_pdf(20_000)),
        ("PDF 600k text operators", "slow.pdf", slow_pdf(600_000)),
    ]
    table = Table(title="hostile uploads: refusal time and event-loop lag")
    for column in ("file", "bytes", "path", "seconds", "outcome", "worst loop lag (ms)"):
        table.add_column(column)
    unlimited = ParseLimits(
        max_unzipped_bytes=2**40, max_compression_ratio=2**20, max_pages=10**9, max_chars=10**12
    )

    def in_thread(data: bytes, name: str) -> Callable[[], Awaitable[object]]:
        async def run() -> object:
            loop = asyncio.get_running_loop()
            done: asyncio.Future[object] = loop.create_future()

            def parse() -> None:
                try:
                    result: object = chunk_blocks(
                        parse_document(data, name, max_bytes=2**40, limits=unlimited).blocks
                    )
                    loop.call_soon_threadsafe(lambda: done.done() or done.set_result(result))
                except BaseException as exc:
                    error = exc
                    loop.call_soon_threadsafe(lambda: done.done() or done.set_exception(error))

            threading.Thread(target=parse, daemon=True).start()
            return await done

        return run

    for label, name, data in files:
        elapsed, outcome, lag = await _measure(lambda d=data, n=name: pool.parse(d, n), 120)
        table.add_row(
            label, f"{len(data):,}", "parser process", f"{elapsed:.2f}", outcome, f"{lag * 1000:.0f}"
        )
    pool.close()
    for label, name, data in files:
        if "1 GB" in label:
            continue  # the 1 GB bomb: gigabytes in this process
        elapsed, outcome, lag = await _measure(in_thread(data, name), thread_cap)
        table.add_row(
            label, f"{len(data):,}", "thread, no limits", f"{elapsed:.2f}", outcome, f"{lag * 1000:.0f}"
        )
    Console(width=160).print(table)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--thread-cap", type=float, default=30.0)
    asyncio.run(main(parser.parse_args().thread_cap))
    os._exit(0)  # abandoned thread parses would otherwise keep the process alive
