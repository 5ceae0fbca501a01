"""A small in-memory keyword retriever for LangGraph Studio and offline demos.

It has no tenant or group filter, so the engine never uses it for tenant data; it serves the
sample corpus that ships with the examples when a graph runs outside the engine (Studio).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from langchain_core.documents import Document

__all__ = ["KeywordRetriever"]

_WORD = re.compile(r"[a-z0-9]{3,}")


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class KeywordRetriever:
    """Ranks documents by the number of query words they contain (ties keep corpus order)."""

    def __init__(self, documents: Iterable[Document]) -> None:
        self._documents = list(documents)
        self._index = [_words(doc.page_content) for doc in self._documents]

    async def ainvoke(self, query: str, k: int = 4) -> Sequence[Document]:
        wanted = _words(query)
        scored = [(len(words & wanted), i) for i, words in enumerate(self._index)]
        ranked = sorted((s for s in scored if s[0] > 0), key=lambda s: (-s[0], s[1]))[:k]
        return [self._documents[i] for _, i in ranked]
