"""Fast header pass for plain uncompressed little-endian CT slices.

Most CT series are hundreds of single-frame files in explicit (or implicit) VR little endian.
For those, pydicom's general reader (one Python object per element, value conversion, file
meta validation) dominates the load. This module walks the top-level elements of such a file
itself, keeps the raw bytes of the few tags :func:`~annulusview.core.io.headers.read_frames`
needs and locates the Pixel Data value, all from one small read at the start of the file.

It is strictly an accelerator: it returns a :class:`FrameHeader` only when the file is simple
and every value parses cleanly, and ``None`` on anything unusual (no preamble, other transfer
syntax, VR mismatch, odd or undefined lengths outside sequences, elements out of order,
enhanced/multi-frame objects, BitsAllocated other than 16, pixel data shorter than the image or
past the end of the file, values that do not parse, first file of a series...). The caller then
reads the file with pydicom, which gives the same result or the skip reason. For files it
accepts, the result is identical to the pydicom path (tested on the same files).
"""

from __future__ import annotations

import math
import os
import re
import struct
from typing import Any

from annulusview.core.io.headers import FrameHeader, HeaderRejected, _check_orientation
from annulusview.core.io.sources import Source

EXPLICIT_LE = "1.2.840.10008.1.2.1"
IMPLICIT_LE = "1.2.840.10008.1.2"

#: First read; grown (doubling) up to :data:`MAX_HEADER_BYTES` when the pixels start later.
FIRST_READ = 16384
MAX_HEADER_BYTES = 4 * 1024**2
MAX_DEPTH = 24

_PIXEL_DATA = 0x7FE00010
_HHI = struct.Struct("<HHI")
_HH2sH = struct.Struct("<HH2sH")
_I = struct.Struct("<I")
_H = struct.Struct("<H")
_f = struct.Struct("<f")

_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        *(b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT"),
        *(b"PN", b"SH", b"SL", b"SS", b"ST", b"TM", b"UI", b"UL", b"US"),
    }
)
_ALL_VRS = _LONG_VRS | _SHORT_VRS

#: Tags read here (tag -> VR). Presence of an enhanced functional group sends the file to pydicom.
_WANTED: dict[int, bytes] = {
    0x00080008: b"CS",  # ImageType
    0x00080018: b"UI",  # SOPInstanceUID
    0x00080060: b"CS",  # Modality
    0x00180050: b"DS",  # SliceThickness
    0x00180088: b"DS",  # SpacingBetweenSlices
    0x00181060: b"DS",  # TriggerTime
    0x00181120: b"DS",  # GantryDetectorTilt
    0x0020000E: b"UI",  # SeriesInstanceUID
    0x00200013: b"IS",  # InstanceNumber
    0x00200032: b"DS",  # ImagePositionPatient
    0x00200037: b"DS",  # ImageOrientationPatient
    0x00200100: b"IS",  # TemporalPositionIdentifier
    0x00209241: b"FL",  # NominalPercentageOfCardiacPhase
    0x00280002: b"US",  # SamplesPerPixel
    0x00280004: b"CS",  # PhotometricInterpretation
    0x00280008: b"IS",  # NumberOfFrames
    0x00280010: b"US",  # Rows
    0x00280011: b"US",  # Columns
    0x00280030: b"DS",  # PixelSpacing
    0x00280100: b"US",  # BitsAllocated
    0x00280101: b"US",  # BitsStored
    0x00280103: b"US",  # PixelRepresentation
    0x00281052: b"DS",  # RescaleIntercept
    0x00281053: b"DS",  # RescaleSlope
    0x52009229: b"SQ",  # SharedFunctionalGroupsSequence
    0x52009230: b"SQ",  # PerFrameFunctionalGroupsSequence
}

_DS = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_IS = re.compile(r"[+-]?\d+")


class _Unusual(Exception):
    """Anything the fast path does not handle: read the file with pydicom instead."""


class _NeedMore(Exception):
    """The header runs past the bytes read so far."""


def _element(buf: bytes, pos: int, implicit: bool) -> tuple[int, bytes | None, int, int]:
    """(tag, VR or None when implicit, value offset, value length) of the element at ``pos``."""
    if pos + 8 > len(buf):
        raise _NeedMore
    if implicit:
        group, elem, length = _HHI.unpack_from(buf, pos)
        return (group << 16) | elem, None, pos + 8, length
    group, elem, vr, short = _HH2sH.unpack_from(buf, pos)
    tag = (group << 16) | elem
    if group == 0xFFFE:  # item and delimiter tags have no VR
        return tag, None, pos + 8, _I.unpack_from(buf, pos + 4)[0]
    if vr in _SHORT_VRS:
        return tag, vr, pos + 8, short
    if vr in _LONG_VRS:
        if pos + 12 > len(buf):
            raise _NeedMore
        return tag, vr, pos + 12, _I.unpack_from(buf, pos + 8)[0]
    raise _Unusual("unknown VR")


def _skip_sequence(buf: bytes, pos: int, implicit: bool, depth: int) -> int:
    """Position after an undefined-length sequence whose items start at ``pos``."""
    if depth > MAX_DEPTH:
        raise _Unusual("nested too deeply")
    while True:
        if pos + 8 > len(buf):
            raise _NeedMore
        group, elem, length = _HHI.unpack_from(buf, pos)
        pos += 8
        if group != 0xFFFE:
            raise _Unusual("not an item")
        if elem == 0xE0DD:
            return pos
        if elem != 0xE000:
            raise _Unusual("not an item")
        if length != 0xFFFFFFFF:
            pos += length
            continue
        while True:  # undefined-length item: elements up to the item delimiter
            tag, vr, start, length = _element(buf, pos, implicit)
            if tag == 0xFFFEE00D:
                pos = start
                break
            if length == 0xFFFFFFFF:
                if vr is None or vr == b"SQ":
                    pos = _skip_sequence(buf, start, implicit, depth + 1)
                elif vr == b"UN":
                    pos = _skip_sequence(buf, start, True, depth + 1)
                else:
                    raise _Unusual("undefined length")
            else:
                pos = start + length


def _scan(buf: bytes) -> tuple[dict[int, bytes], int, int, str]:
    """Wanted raw values, pixel value offset and length, transfer syntax; or raise."""
    if len(buf) < 144:
        raise _NeedMore
    if buf[128:132] != b"DICM":
        raise _Unusual("no preamble")
    pos = 132
    ts = None
    while True:  # file meta information: always explicit VR little endian
        if pos + 8 > len(buf):
            raise _NeedMore
        if _H.unpack_from(buf, pos)[0] != 0x0002:
            break
        tag, vr, start, length = _element(buf, pos, False)
        if vr is None or length == 0xFFFFFFFF:
            raise _Unusual("file meta")
        if tag == 0x00020010:
            if start + length > len(buf):
                raise _NeedMore
            ts = bytes(buf[start : start + length]).decode("ascii").strip(" \x00")
        pos = start + length
    if ts not in (EXPLICIT_LE, IMPLICIT_LE):
        raise _Unusual("transfer syntax")
    implicit = ts == IMPLICIT_LE
    if pos + 8 > len(buf):
        raise _NeedMore
    # pydicom switches encoding when the first element contradicts the transfer syntax.
    if (buf[pos + 4 : pos + 6] in _ALL_VRS) == implicit:
        raise _Unusual("encoding does not match transfer syntax")

    values: dict[int, bytes] = {}
    last = -1
    while True:
        tag, vr, start, length = _element(buf, pos, implicit)
        if tag <= last or (tag >> 16) == 0xFFFE:
            raise _Unusual("elements out of order")
        last = tag
        if tag == _PIXEL_DATA:
            if vr is not None and vr not in (b"OW", b"OB"):
                raise _Unusual("pixel data VR")
            return values, start, length, ts
        if tag > _PIXEL_DATA or (tag >> 16) == 0x7FE0:
            raise _Unusual("no plain pixel data")
        wanted = _WANTED.get(tag)
        if length == 0xFFFFFFFF:
            if wanted is not None:
                raise _Unusual("wanted tag with undefined length")
            if vr is None or vr == b"SQ":
                pos = _skip_sequence(buf, start, implicit, 0)
            elif vr == b"UN":
                pos = _skip_sequence(buf, start, True, 0)
            else:
                raise _Unusual("undefined length")
            continue
        if length & 1:
            raise _Unusual("odd length")
        end = start + length
        if wanted is not None:
            if vr is not None and vr != wanted:
                raise _Unusual("VR mismatch")
            if end > len(buf):
                raise _NeedMore
            values[tag] = buf[start:end]
        pos = end


def _text(raw: bytes | None) -> list[str] | None:
    if raw is None:
        return None
    text = raw.decode("ascii").strip(" \x00")  # UnicodeDecodeError is a ValueError
    if not text:
        return None
    return [p.strip() for p in text.split("\\")]


def _one_text(raw: bytes | None) -> str | None:
    parts = _text(raw)
    if parts is None:
        return None
    if len(parts) != 1 or "\x00" in parts[0]:
        raise _Unusual("multi-valued")
    return parts[0]


def _numbers(raw: bytes | None, n: int) -> tuple[float, ...] | None:
    parts = _text(raw)
    if parts is None:
        return None
    if len(parts) != n or not all(_DS.fullmatch(p) for p in parts):
        raise _Unusual("DS")
    out = tuple(float(p) for p in parts)
    if not all(math.isfinite(v) for v in out):
        raise _Unusual("DS")
    return out


def _number(raw: bytes | None) -> float | None:
    values = _numbers(raw, 1)
    return None if values is None else values[0]


def _integer(raw: bytes | None) -> int | None:
    text = _one_text(raw)
    if text is None:
        return None
    if not _IS.fullmatch(text):
        raise _Unusual("IS")
    return int(text)


def _us(raw: bytes | None) -> int | None:
    if raw is None or len(raw) == 0:
        return None
    if len(raw) != 2:
        raise _Unusual("US")
    return int(_H.unpack(raw)[0])


def _build(
    source: Source,
    scanned: tuple[dict[int, bytes], int, int, str],
    meta_cache: dict[str, Any],
) -> FrameHeader:
    values, offset, length, ts = scanned
    get = values.get
    if 0x52009229 in values or 0x52009230 in values:
        raise _Unusual("enhanced")
    rows, columns = _us(get(0x00280010)), _us(get(0x00280011))
    if not rows or not columns:
        raise _Unusual("size")
    if (_one_text(get(0x00080060)) or "").upper() != "CT":
        raise _Unusual("modality")
    if "LOCALIZER" in [p.upper() for p in (_text(get(0x00080008)) or [])]:
        raise _Unusual("localizer")
    spp = _us(get(0x00280002))
    photometric = (_one_text(get(0x00280004)) or "MONOCHROME2").upper()
    if spp not in (None, 1) or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise _Unusual("colour")
    if _us(get(0x00280100)) != 16:
        raise _Unusual("BitsAllocated")
    bits_stored = _us(get(0x00280101)) or 16
    if not 1 <= bits_stored <= 16:
        raise _Unusual("BitsStored")
    signed = _us(get(0x00280103)) == 1
    if _integer(get(0x00280008)) not in (None, 1):
        raise _Unusual("multi-frame")
    if length == 0xFFFFFFFF or length < rows * columns * 2 or offset + length > source.size:
        raise _Unusual("pixel data length")
    series_uid = _one_text(get(0x0020000E)) or ""
    meta = meta_cache.get(series_uid)  # the pydicom path never caches an empty UID
    if meta is None:
        raise _Unusual("first file of its series: pydicom reads the series metadata")
    try:
        orientation = _check_orientation(_numbers(get(0x00200037), 6))
    except HeaderRejected:
        raise _Unusual("orientation") from None
    position = _numbers(get(0x00200032), 3)
    spacing = _numbers(get(0x00280030), 2)
    if position is None or spacing is None or min(spacing) <= 0:
        raise _Unusual("geometry")
    nominal_raw = get(0x00209241)
    nominal: float | None = None
    if nominal_raw:
        if len(nominal_raw) != 4:
            raise _Unusual("FL")
        nominal = float(_f.unpack(nominal_raw)[0])
        if not math.isfinite(nominal):
            nominal = None
    return FrameHeader(
        source=source,
        frame=0,
        n_frames=1,
        series_uid=series_uid,
        sop_uid=_one_text(get(0x00080018)) or "",
        instance_number=_integer(get(0x00200013)),
        rows=rows,
        columns=columns,
        position=(position[0], position[1], position[2]),
        orientation=orientation,
        pixel_spacing=(spacing[0], spacing[1]),
        slope=_number(get(0x00281053)) or 1.0,
        intercept=_number(get(0x00281052)) or 0.0,
        phase=(_integer(get(0x00200100)), nominal),
        trigger_time=_number(get(0x00181060)),
        stack_id="",
        transfer_syntax=ts,
        bits_allocated=16,
        bits_stored=bits_stored,
        signed=signed,
        pixel_offset=offset,
        slice_thickness=_number(get(0x00180050)),
        spacing_between_slices=_number(get(0x00180088)),
        gantry_tilt_deg=_number(get(0x00181120)),
        meta=meta,
    )


def _read_head(path: str, size: int) -> bytes:
    """The first ``size`` bytes of a file (fewer if it is shorter)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def read_native_header(source: Source, meta_cache: dict[str, Any] | None) -> FrameHeader | None:
    """The frame of a plain single-frame 16-bit little-endian CT file, or None.

    None means "not handled here" (never "bad file"): read the file with pydicom, which gives
    the frame or the reason the file is skipped. Only disk files whose series metadata is
    already in ``meta_cache`` (filled by the pydicom path from the series' first file) qualify.
    """
    if meta_cache is None or not meta_cache or source.member is not None or source.size < 144:
        return None
    want = min(FIRST_READ, source.size)
    try:
        while True:
            buf = _read_head(str(source.path), want)
            try:
                return _build(source, _scan(buf), meta_cache)
            except _NeedMore:
                if len(buf) < want or want >= min(source.size, MAX_HEADER_BYTES):
                    return None
                want = min(want * 2, source.size, MAX_HEADER_BYTES)
    except (_Unusual, ValueError, struct.error, IndexError, OSError):
        return None


_PIXEL_TAG_BYTES = b"\xe0\x7f\x10\x00"


def _header_end(buf: bytes, size: int) -> int | None:
    """Offset of the top-level native Pixel Data element when ``buf`` proves it, else None.

    The proof: a Pixel Data element header (explicit VR OB/OW or implicit VR, little endian)
    whose value length runs exactly to the end of the file. A nested one (an icon image) or the
    tag's bytes inside a value cannot end the file, so everything before the offset is the
    whole top-level header. Encapsulated (compressed) pixel data, trailing padding or big endian
    give None.
    """
    at = buf.find(_PIXEL_TAG_BYTES, 132)
    while at != -1 and at + 8 <= len(buf):
        if buf[at + 4 : at + 6] in (b"OW", b"OB") and buf[at + 6 : at + 8] == b"\0\0":
            if at + 12 <= len(buf) and at + 12 + _I.unpack_from(buf, at + 8)[0] == size:
                return at
        elif at + 8 + _I.unpack_from(buf, at + 4)[0] == size:  # implicit VR
            return at
        at = buf.find(_PIXEL_TAG_BYTES, at + 1)
    return None


def not_in_series(source: Source, series_uid: str) -> bool:
    """True only when the file certainly belongs to another series than ``series_uid``.

    Lets a load of one series skip the other series' files (a multi-phase study holds one
    series per phase in one folder) without parsing their headers: the first bytes of the file
    are read and the file is skipped when its whole header is in them (:func:`_header_end`) and
    the UID's characters appear nowhere in it, so its SeriesInstanceUID cannot be that UID.
    False (read the file as any other) whenever that cannot be shown: zip members, compressed
    or unusual files, headers longer than the first read, or the UID's characters present
    (in its own SeriesInstanceUID or anywhere else).
    """
    if source.member is not None or source.size < 144 or not series_uid:
        return False
    try:
        wanted = series_uid.encode("ascii")
        buf = _read_head(str(source.path), min(FIRST_READ, source.size))
    except (UnicodeEncodeError, OSError):
        return False
    if buf[128:132] != b"DICM":
        return False
    end = _header_end(buf, source.size)
    return end is not None and buf.find(wanted, 0, end) == -1
