"""Hostile files built at test time, small on the wire and bounded so each test runs in seconds."""

from __future__ import annotations

import io
import zipfile

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

__all__ = ["many_page_pdf", "slow_pdf", "zip_bomb_docx"]

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def zip_bomb_docx(inflated_bytes: int) -> bytes:
    """A real DOCX (python-docx's template) whose ``word/document.xml`` holds 1 KB paragraphs
    inflating to about ``inflated_bytes`` (~500:1): without limits python-docx opens it and
    yields every paragraph, to be chunked and embedded."""
    import docx

    template = io.BytesIO()
    docx.Document().save(template)
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(template.getvalue())) as source,
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive,
    ):
        for item in source.infolist():
            if item.filename != "word/document.xml":
                archive.writestr(item.filename, source.read(item.filename))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f'<w:document xmlns:w="{_W}"><w:body>'.encode())
            paragraph = b"<w:p><w:r><w:t>" + b"All work and no play. " * 46 + b"</w:t></w:r></w:p>"
            block = paragraph * (1024 * 1024 // len(paragraph))
            for _ in range(max(1, inflated_bytes // len(block))):
                member.write(block)
            member.write(b"</w:body></w:document>")
    return buffer.getvalue()


def many_page_pdf(pages: int) -> bytes:
    """A PDF of ``pages`` blank pages (a few hundred bytes per page)."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def slow_pdf(operations: int) -> bytes:
    """A one-page PDF of a few KB whose compressed content stream holds ``operations`` text operators:
    pure-Python content parsing takes seconds per 100,000 of them."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    content = DecodedStreamObject()
    content.set_data(b"BT /F1 11 Tf 72 760 Td " + b"(x) Tj " * operations + b"ET")
    page[NameObject("/Contents")] = writer._add_object(content.flate_encode())
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
