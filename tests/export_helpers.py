"""Helpers shared by the export tests (command line and window): identity scans, PNG chunks,
the text and bytes of a reportlab PDF."""

from __future__ import annotations

import re
import struct
import zlib

# the identity the phantom DICOM carries (core.phantom.dicom.write_case)
IDENTITY = ("PHANTOM^DEMO", "AV-PHANTOM-001", "19500101", "ACC0001", "PHANTOM DEMO")


def assert_no_identity(data: bytes, where: str) -> None:
    for text in IDENTITY:
        assert text.encode() not in data, f"{text!r} found in {where}"


def png_chunks(data: bytes) -> list[str]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kinds.append(data[pos + 4 : pos + 8].decode("ascii"))
        pos += 12 + length
    return kinds


def _inflate(body: bytes) -> bytes | None:
    """A reportlab stream decoded: Flate, or ASCII85 then Flate; None when neither fits."""
    import base64

    for decode in (
        zlib.decompress,
        lambda b: zlib.decompress(base64.a85decode(b.strip(), adobe=b.strip().startswith(b"<~"))),
        lambda b: zlib.decompress(base64.a85decode(b.strip().removesuffix(b"~>"))),
    ):
        try:
            return decode(body)
        except Exception:  # try the next decoding
            continue
    return None


def pdf_text(data: bytes) -> str:
    """The text shown by a reportlab PDF: inflate every stream, collect ``(...) Tj`` strings."""
    chunks: list[bytes] = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        body = m.group(1)
        chunks.append(_inflate(body) or body)
    text: list[str] = []
    for body in chunks:
        if b"BT" not in body or len(body) > 300_000:  # page content only, not the pictures
            continue
        for s in re.findall(rb"\(((?:\\.|[^\\)])*)\)\s*Tj", body):
            s = re.sub(rb"\\([0-7]{3})", lambda g: bytes([int(g.group(1), 8)]), s)
            s = re.sub(rb"\\(.)", rb"\1", s)
            text.append(s.decode("latin-1"))
    return "\n".join(text)


def pdf_all_bytes(data: bytes) -> bytes:
    """The PDF with every stream inflated (to scan for identity anywhere)."""
    out = [data]
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", data, re.S):
        inflated = _inflate(m.group(1))
        if inflated is not None:
            out.append(inflated)
    return b"\n".join(out)
