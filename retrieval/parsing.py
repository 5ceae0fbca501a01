"""Turning uploaded bytes into text blocks with page/section metadata, or a clear refusal.

Supported: PDF (pypdf; one block per page), DOCX (python-docx; one block per heading section,
tables included), Markdown (one block per heading section), HTML (same, from h1–h6) and plain
text. Every refusal is a :class:`~retrieval.errors.DocumentRejectedError` whose ``reason`` is
stored on the Document row: empty, oversized, encrypted, corrupt, unsupported or textless files,
and files whose work is out of bounds (:class:`ParseLimits`): a ZIP container (DOCX) that inflates
too far (checked from its directory before anything is decompressed), a PDF with too many pages,
or more extracted text than the cap. Time and memory are bounded by the process that runs this
(:mod:`retrieval.parse_pool`).
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import PurePath
from typing import Any

from retrieval.errors import DocumentRejectedError

__all__ = [
    "SUPPORTED_FILE_TYPES",
    "ParseLimits",
    "ParsedDocument",
    "TextBlock",
    "detect_file_type",
    "parse_document",
]

SUPPORTED_FILE_TYPES = {
    ".pdf": "PDF",
    ".docx": "DOCX",
    ".txt": "TXT",
    ".text": "TXT",
    ".md": "MARKDOWN",
    ".markdown": "MARKDOWN",
    ".html": "HTML",
    ".htm": "HTML",
}


@dataclass(frozen=True)
class TextBlock:
    """A run of text from one page or one section."""

    text: str
    page: int | None = None
    section: str | None = None


@dataclass(frozen=True)
class ParsedDocument:
    """The text of a document and what its format says about it."""

    file_type: str
    blocks: list[TextBlock]
    author: str | None = None
    created_at_source: datetime | None = None
    page_count: int | None = None


@dataclass(frozen=True)
class ParseLimits:
    """How much work one file may cause (see the ``max_document_*`` settings).

    Attributes:
        max_unzipped_bytes: Total declared uncompressed size of a ZIP container's members.
        max_compression_ratio: Uncompressed / compressed size allowed for a container that
            inflates past ``ratio_floor_bytes`` (a text DOCX is ~10:1, a zip bomb ~1000:1).
        ratio_floor_bytes: Containers inflating to less than this are not ratio-checked.
        max_zip_members: Entries in a ZIP container.
        max_pages: Pages of a PDF.
        max_chars: Characters of extracted text, all blocks together.
    """

    max_unzipped_bytes: int = 64 * 1024 * 1024
    max_compression_ratio: int = 100
    ratio_floor_bytes: int = 8 * 1024 * 1024
    max_zip_members: int = 5000
    max_pages: int = 2000
    max_chars: int = 2_000_000


class _TextBudget:
    """Counts extracted characters and refuses the file as soon as the cap is passed."""

    def __init__(self, max_chars: int) -> None:
        self.max_chars = max_chars
        self.used = 0

    def take(self, text: str) -> str:
        self.used += len(text)
        if self.used > self.max_chars:
            raise DocumentRejectedError(
                f"more than {self.max_chars} characters of text (max_extracted_chars); split the document"
            )
        return text


def detect_file_type(file_name: str) -> str:
    """``PDF``, ``DOCX``, ``TXT``, ``MARKDOWN`` or ``HTML`` from the file name, or a refusal."""
    suffix = PurePath(file_name).suffix.lower()
    if suffix not in SUPPORTED_FILE_TYPES:
        valid = ", ".join(sorted(SUPPORTED_FILE_TYPES))
        shown = suffix or "(no extension)"
        raise DocumentRejectedError(f"unsupported file type {shown}; supported: {valid}", field="file_type")
    return SUPPORTED_FILE_TYPES[suffix]


def parse_document(
    data: bytes, file_name: str, *, max_bytes: int, limits: ParseLimits | None = None
) -> ParsedDocument:
    """Parse ``data`` (the content of ``file_name``).

    Raises:
        DocumentRejectedError: The file is empty, larger than ``max_bytes``, encrypted, corrupt,
            of an unsupported type, has no extractable text, or exceeds ``limits``.
    """
    limits = limits or ParseLimits()
    file_type = detect_file_type(file_name)
    if not data:
        raise DocumentRejectedError("file is empty")
    if len(data) > max_bytes:
        raise DocumentRejectedError(
            f"file is {len(data)} bytes; the limit is {max_bytes} bytes (max_document_bytes)", field="file"
        )
    budget = _TextBudget(limits.max_chars)
    if file_type == "PDF":
        parsed = _parse_pdf(data, limits, budget)
    elif file_type == "DOCX":
        parsed = _parse_docx(data, limits, budget)
    else:
        parser = {"TXT": _parse_text, "MARKDOWN": _parse_markdown}.get(file_type, _parse_html)
        parsed = parser(data)
        budget.take("".join(b.text for b in parsed.blocks))
    blocks = [b for b in parsed.blocks if b.text.strip()]
    if not blocks:
        hint = " (a scanned PDF needs OCR first)" if file_type == "PDF" else ""
        raise DocumentRejectedError(f"no extractable text in the {file_type} file{hint}")
    return ParsedDocument(file_type, blocks, parsed.author, parsed.created_at_source, parsed.page_count)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


# ---- PDF ---------------------------------------------------------------------------------------


def _parse_pdf(data: bytes, limits: ParseLimits, budget: _TextBudget) -> ParsedDocument:
    from pypdf import PdfReader

    if b"%PDF-" not in data[:1024]:
        raise DocumentRejectedError("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            try:
                opened = bool(reader.decrypt(""))  # owner-password-only PDFs open with an empty password
            except Exception:
                opened = False
            if not opened:
                raise DocumentRejectedError(
                    "PDF is encrypted (password protected); upload an unprotected copy"
                )
        # The page tree's declared /Count first (O(1)); then the real count, which walks the tree.
        count = max(_declared_page_count(reader), 0)
        if count <= limits.max_pages:
            count = len(reader.pages)
        if count > limits.max_pages:
            raise DocumentRejectedError(
                f"PDF has {count} pages; the limit is {limits.max_pages} (max_document_pages)"
            )
        pages = [
            TextBlock(budget.take(page.extract_text() or ""), page=number)
            for number, page in enumerate(reader.pages, 1)
        ]
    except DocumentRejectedError:
        raise
    except Exception as exc:
        raise DocumentRejectedError(f"corrupt PDF: {_short(exc)}") from None
    author, created = _pdf_metadata(reader)
    return ParsedDocument("PDF", pages, author, created, page_count=len(pages))


def _declared_page_count(reader: Any) -> int:
    try:
        return int(reader.trailer["/Root"]["/Pages"]["/Count"])
    except Exception:  # missing or malformed: the real count decides
        return -1


def _pdf_metadata(reader: Any) -> tuple[str | None, datetime | None]:
    try:
        info = reader.metadata
        if info is None:
            return None, None
        author = str(info.author).strip() if info.author else None
        try:
            created = info.creation_date
        except Exception:  # malformed date strings are common; the date is optional
            created = None
        return author or None, created
    except Exception:
        return None, None


# ---- DOCX --------------------------------------------------------------------------------------

_HEADING = re.compile(r"^(?:heading\s*(\d)|title)$", re.IGNORECASE)


@dataclass
class _Sections:
    """Collects text under the current heading path."""

    budget: _TextBudget | None = None
    blocks: list[TextBlock] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def heading(self, level: int, title: str) -> None:
        self.flush()
        if self.budget is not None:
            self.budget.take(title)
        self.headings = [(lvl, t) for lvl, t in self.headings if lvl < level] + [(level, title.strip())]

    def text(self, line: str) -> None:
        if self.budget is not None:
            self.budget.take(line)
        self.lines.append(line)

    def flush(self) -> None:
        text = "\n".join(self.lines).strip()
        if text:
            section = " > ".join(t for _, t in self.headings if t) or None
            self.blocks.append(TextBlock(text, section=section))
        self.lines = []


def _check_zip(data: bytes, limits: ParseLimits) -> None:
    """Refuse a ZIP container that would inflate too far, from its central directory alone.

    ``zipfile`` never yields more than a member's declared size, so a header that lies about it
    gives a corrupt member, not a bigger one.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, EOFError) as exc:
        raise DocumentRejectedError(f"corrupt DOCX: {_short(exc)}") from None
    if len(members) > limits.max_zip_members:
        raise DocumentRejectedError(f"DOCX has {len(members)} parts; the limit is {limits.max_zip_members}")
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_unzipped_bytes:
        raise DocumentRejectedError(
            f"DOCX inflates to {inflated} bytes; the limit is {limits.max_unzipped_bytes} bytes "
            "(max_document_unzipped_bytes)"
        )
    ratio = inflated / max(1, len(data))
    if inflated > limits.ratio_floor_bytes and ratio > limits.max_compression_ratio:
        raise DocumentRejectedError(
            f"DOCX inflates {ratio:.0f}:1 ({len(data)} → {inflated} bytes); the limit is "
            f"{limits.max_compression_ratio}:1 (max_document_compression_ratio): a zip bomb?"
        )


def _parse_docx(data: bytes, limits: ParseLimits, budget: _TextBudget) -> ParsedDocument:
    import docx

    if data[:4] == b"\xd0\xcf\x11\xe0":
        raise DocumentRejectedError("DOCX is encrypted (password protected) or is a legacy .doc file")
    if data[:2] != b"PK":
        raise DocumentRejectedError("not a DOCX file (not a ZIP container)")
    _check_zip(data, limits)
    try:
        document = docx.Document(io.BytesIO(data))
        sections = _Sections(budget)
        for item in document.iter_inner_content():
            if hasattr(item, "rows"):  # a table: one line per row
                for row in item.rows:
                    cells = [c.text.strip() for c in row.cells]
                    if any(cells):
                        sections.text(" | ".join(cells))
                continue
            style = (item.style.name if item.style is not None else "") or ""
            match = _HEADING.match(style.strip())
            if match and item.text.strip():
                sections.heading(int(match.group(1) or 0), item.text)
            elif item.text.strip():
                sections.text(item.text)
        sections.flush()
        props = document.core_properties
        author = (props.author or "").strip() or None
        created = props.created
    except DocumentRejectedError:
        raise
    except Exception as exc:
        raise DocumentRejectedError(f"corrupt DOCX: {_short(exc)}") from None
    return ParsedDocument("DOCX", sections.blocks, author, created)


# ---- text, Markdown, HTML ----------------------------------------------------------------------


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise DocumentRejectedError("binary content, not a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _parse_text(data: bytes) -> ParsedDocument:
    return ParsedDocument("TXT", [TextBlock(_decode(data))])


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")


def _parse_markdown(data: bytes) -> ParsedDocument:
    sections = _Sections()
    in_fence = False
    for line in _decode(data).splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
        heading = None if in_fence else _MD_HEADING.match(line)
        if heading:
            sections.heading(len(heading.group(1)), heading.group(2))
        else:
            sections.text(line)
    sections.flush()
    return ParsedDocument("MARKDOWN", sections.blocks)


class _HTMLText(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})
    _BLOCK = frozenset({"p", "div", "li", "br", "tr", "section", "article", "blockquote", "pre", "td", "th"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections = _Sections()
        self._skip = 0
        self._heading_level: int | None = None
        self._heading: list[str] = []
        self._line: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in self._SKIP:
            self._skip += 1
        elif re.fullmatch(r"h[1-6]", tag):
            self._end_line()
            self._heading_level, self._heading = int(tag[1]), []
        elif tag in self._BLOCK:
            self._end_line()

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(0, self._skip - 1)
        elif re.fullmatch(r"h[1-6]", tag) and self._heading_level is not None:
            self.sections.heading(self._heading_level, " ".join("".join(self._heading).split()))
            self._heading_level = None
        elif tag in self._BLOCK:
            self._end_line()

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        (self._heading if self._heading_level is not None else self._line).append(data)

    def _end_line(self) -> None:
        line = " ".join("".join(self._line).split())
        if line:
            self.sections.text(line)
        self._line = []

    def finish(self) -> list[TextBlock]:
        self.close()
        self._end_line()
        self.sections.flush()
        return self.sections.blocks


def _parse_html(data: bytes) -> ParsedDocument:
    parser = _HTMLText()
    parser.feed(_decode(data))
    return ParsedDocument("HTML", parser.finish())
