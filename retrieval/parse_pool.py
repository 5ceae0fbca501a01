"""Parsing and chunking uploaded files in separate processes, each bounded in time, CPU and memory.

A hostile file (a zip bomb, a PDF of 20,000 pages, a pathological XML tree) costs the server at
most one parser process for ``parse_timeout_seconds``: the event loop, ``/health`` and every other
request stay responsive, and a parser that runs out of time, CPU or address space is killed and
its file refused with the reason. Each file gets a fresh process (forked from a forkserver that
has the parsers imported), so no limit or leaked memory carries over from one file to the next.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass

from pebble import ProcessExpired, ProcessPool

from eawe.settings import Settings
from retrieval.chunk_payload import ChunkInput
from retrieval.chunking import chunk_blocks
from retrieval.errors import DocumentRejectedError
from retrieval.parsing import ParsedDocument, ParseLimits, parse_document

__all__ = ["ParseJobLimits", "ParsePool", "ParsedChunks"]


@dataclass(frozen=True)
class ParseJobLimits:
    """The per-file limits: what the parser checks (``parse``) and what the process may use."""

    max_bytes: int
    parse: ParseLimits
    timeout_seconds: float
    memory_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> ParseJobLimits:
        return cls(
            max_bytes=settings.max_document_bytes,
            parse=ParseLimits(
                max_unzipped_bytes=settings.max_document_unzipped_bytes,
                max_compression_ratio=settings.max_document_compression_ratio,
                max_pages=settings.max_document_pages,
                max_chars=settings.max_extracted_chars,
            ),
            timeout_seconds=settings.parse_timeout_seconds,
            memory_bytes=settings.parse_memory_bytes,
        )


@dataclass(frozen=True)
class ParsedChunks:
    """A parsed file and its chunks, as returned by a parser process."""

    document: ParsedDocument
    chunks: list[ChunkInput]


def _limit_process(memory_bytes: int, cpu_seconds: int) -> None:
    # Runs first in every parser process: over the address-space limit allocations fail
    # (MemoryError), over the CPU limit the kernel kills the process.
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))


@dataclass(frozen=True)
class _Refusal:
    # Crosses the process boundary instead of the exception (whose constructor pickle cannot replay).
    reason: str
    field: str


def _parse_and_chunk(
    data: bytes, file_name: str, max_bytes: int, limits: ParseLimits
) -> ParsedChunks | _Refusal:
    try:
        parsed = parse_document(data, file_name, max_bytes=max_bytes, limits=limits)
        return ParsedChunks(parsed, chunk_blocks(parsed.blocks))
    except DocumentRejectedError as exc:
        return _Refusal(exc.reason, exc.problems[0].field if exc.problems else "file")
    except MemoryError:
        return _Refusal("parsing needed more memory than allowed (parse_memory_bytes)", "file")


class ParsePool:
    """A pool of parser processes; :meth:`parse` is awaited on the event loop without blocking it."""

    def __init__(self, limits: ParseJobLimits, *, workers: int = 1) -> None:
        self.limits = limits
        context = multiprocessing.get_context("forkserver")
        # The forkserver imports the parsers once; each parser process is a cheap fork of it.
        context.set_forkserver_preload(["retrieval.parse_pool"])
        self._pool = ProcessPool(
            max_workers=workers,
            max_tasks=1,
            initializer=_limit_process,
            initargs=(limits.memory_bytes, int(limits.timeout_seconds) + 1),
            context=context,
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> ParsePool:
        return cls(ParseJobLimits.from_settings(settings), workers=settings.parse_workers)

    async def parse(self, data: bytes, file_name: str) -> ParsedChunks:
        """Parse and chunk one file in a parser process.

        Raises:
            DocumentRejectedError: The file is refused (see :func:`~retrieval.parsing.parse_document`),
                or its parsing ran out of time, CPU or memory.
        """
        limits = self.limits
        # The first schedule starts the forkserver and waits for its imports: off the event loop.
        future = await asyncio.to_thread(
            self._pool.schedule,
            _parse_and_chunk,
            args=(data, file_name, limits.max_bytes, limits.parse),
            timeout=limits.timeout_seconds,
        )
        try:
            outcome = await asyncio.wrap_future(future)
        except FutureTimeoutError:
            raise DocumentRejectedError(
                f"parsing took longer than {limits.timeout_seconds:g} s (parse_timeout_seconds)"
            ) from None
        except ProcessExpired as exc:
            raise DocumentRejectedError(
                f"the parser process was stopped (exit code {exc.exitcode}): the file needs more "
                "CPU or memory than allowed (parse_timeout_seconds, parse_memory_bytes)"
            ) from None
        except asyncio.CancelledError:
            future.cancel()  # pebble kills the process working on a cancelled task
            raise
        if isinstance(outcome, _Refusal):
            raise DocumentRejectedError(outcome.reason, field=outcome.field)
        return outcome

    async def warm_up(self) -> None:
        """Start the parser processes now (the first start imports the parsers: a few seconds)."""
        await self.parse(b"warm-up", "warm-up.txt")

    def close(self) -> None:
        """Stop the parser processes (blocking; a running parse is killed)."""
        self._pool.stop()
        self._pool.join(timeout=10)
