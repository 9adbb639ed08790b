"""What every binary article format shares: limits on the work a file may cause, and a guess at
what a file really is when its suffix is wrong."""

from __future__ import annotations

# As much text as a .txt file may hold under the 5 MB upload limit; more is refused, not cut short.
# (A 5 MB PDF of Chinese text with a font that is not embedded holds 1,334 pages, 2.0 million characters.)
MAX_TEXT_CHARS = 5_000_000
# What the streams of a PDF, or the members of a .docx, may unpack to. Legitimate files under the
# 5 MB limit stay far below (that 1,334-page PDF: 12 MB); a zip or flate bomb does not.
MAX_UNPACKED_BYTES = 256_000_000


def looks_like(data: bytes) -> str:
    """What a file's first bytes say it is, for the message about a file whose suffix is wrong."""
    head = data[:512].lstrip().lower()
    signatures = [
        (b"%pdf-", "a PDF file"),
        (b"pk\x03\x04", "a ZIP archive"),
        (b"\xd0\xcf\x11\xe0", "an old Word .doc file or a password-protected .docx"),
        (b"{\\rtf", "an RTF file"),
        (b"\x89png", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
    ]
    for signature, kind in signatures:
        if head.startswith(signature):
            return kind
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "an HTML page"
    if not data.strip():
        return "an empty file"
    try:
        data[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "unknown binary data"
    return "plain text"
