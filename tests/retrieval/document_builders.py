"""Build real PDF and DOCX files at test time (no binary fixtures in the repository)."""

from __future__ import annotations

import io
from collections.abc import Sequence


def _pdf_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: Sequence[str], *, author: str | None = None, title: str | None = None) -> bytes:
    """A valid PDF with one text page per item (Helvetica, one line per text line)."""
    objects: list[bytes] = []
    n_pages = len(pages)
    font_id = 3 + 2 * n_pages
    info_id = font_id + 1
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n_pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {n_pages} >>".encode())
    for index, text in enumerate(pages):
        content_id = 4 + 2 * index
        lines = text.splitlines() or [""]
        ops = ["BT", "/F1 11 Tf", "14 TL", "72 760 Td"]
        for line in lines:
            ops.append(f"({_pdf_escape(line)}) Tj T*")
        ops.append("ET")
        stream = "\n".join(ops).encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {content_id} 0 R "
            f"/Resources << /Font << /F1 {font_id} 0 R >> >> >>".encode()
        )
        objects.append(
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream"
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    info = []
    if author:
        info.append(f"/Author ({_pdf_escape(author)})")
    if title:
        info.append(f"/Title ({_pdf_escape(title)})")
    info.append("/CreationDate (D:20250715100000Z)")
    objects.append(("<< " + " ".join(info) + " >>").encode("latin-1"))

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info {info_id} 0 R >>\n".encode())
    out.write(f"startxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def encrypt_pdf(data: bytes, user_password: str = "s3cret-pass") -> bytes:
    """``data`` encrypted with a user password (AES-128) by pypdf."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password=user_password + "-owner", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def make_docx(sections: Sequence[tuple[str, int, str]], *, author: str | None = None) -> bytes:
    """A DOCX with ``(heading, level, paragraph)`` sections, written by python-docx."""
    import docx

    document = docx.Document()
    if author:
        document.core_properties.author = author
    for heading, level, paragraph in sections:
        document.add_heading(heading, level)
        for text in paragraph.split("\n\n"):
            document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
