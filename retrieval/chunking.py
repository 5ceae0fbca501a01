"""Splitting parsed text into chunks that keep their page and section."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_text_splitters import RecursiveCharacterTextSplitter

from retrieval.chunk_payload import ChunkInput
from retrieval.parsing import TextBlock

__all__ = ["DEFAULT_CHUNK_OVERLAP", "DEFAULT_CHUNK_SIZE", "chunk_blocks"]

# ~800 characters of English is ~200 WordPiece tokens: under MiniLM's 256-token window, so the
# local model embeds every word of a chunk; OpenAI models have room to spare.
DEFAULT_CHUNK_SIZE = 800
DEFAULT_CHUNK_OVERLAP = 120


def chunk_blocks(
    blocks: Sequence[TextBlock],
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    chunk_overlap: int = DEFAULT_CHUNK_OVERLAP,
) -> list[ChunkInput]:
    """Split each block separately (a chunk never spans two pages or sections)."""
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=["\n\n", "\n", ". ", "; ", ", ", " ", ""],
        keep_separator="end",
    )
    chunks: list[ChunkInput] = []
    for block in blocks:
        for piece in splitter.split_text(block.text):
            text = piece.strip()
            if text:
                chunks.append(ChunkInput(text, page=block.page, section=block.section))
    return chunks
