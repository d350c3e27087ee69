"""DICOM header pass: one :class:`FrameHeader` per image plane, from headers only.

Pixel data are never read here. Every check that can reject a file before decoding happens
here (not DICOM, not an image, other modality, localizer, sizes that do not fit the file), so a
bad file becomes a one-line reason and never an exception.
"""

from __future__ import annotations

import logging
import math
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

import pydicom
from pydicom.dataset import Dataset
from pydicom.tag import BaseTag
from pydicom.uid import UID

from annulusview.core.io.sources import Source, describe

logger = logging.getLogger(__name__)

#: Transfer syntaxes whose pixel bytes we copy straight from the file (little endian, native).
NATIVE_LE = frozenset({"1.2.840.10008.1.2", "1.2.840.10008.1.2.1"})
DEFLATED = "1.2.840.10008.1.2.1.99"
MAX_FRAMES = 20000
MAX_DECODED_BYTES = 4 * 1024**3

_PIXEL_TAG_LE = struct.pack("<HH", 0x7FE0, 0x0010)
_PIXEL_TAG_BE = struct.pack(">HH", 0x7FE0, 0x0010)

#: Tags that must never look like the start of a DICOM dataset without a preamble.
_PLAUSIBLE_FIRST_GROUPS = frozenset({0x0002, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028})


class HeaderRejected(Exception):
    """A file (or frame) cannot be used; ``str(exc)`` is the reason shown to the user."""


@dataclass(frozen=True, eq=False)
class FrameHeader:
    """Header facts of one image plane (a single-frame file, or one frame of a multi-frame file).

    Positions and directions are LPS mm; ``orientation`` is the row direction (along a row, i.e.
    the direction of increasing column index) followed by the column direction.
    """

    source: Source
    frame: int
    n_frames: int
    series_uid: str
    sop_uid: str
    instance_number: int | None
    rows: int
    columns: int
    position: tuple[float, float, float]
    orientation: tuple[float, float, float, float, float, float]
    pixel_spacing: tuple[float, float]  # (row spacing, column spacing) = PixelSpacing[0], [1]
    slope: float
    intercept: float
    phase: tuple[Any, ...]  # definite phase keys: TemporalPositionIdentifier/Index, nominal %
    trigger_time: float | None
    stack_id: str
    transfer_syntax: str
    bits_allocated: int
    bits_stored: int
    signed: bool
    pixel_offset: int | None  # file offset of the native pixel bytes (None: decode via pydicom)
    slice_thickness: float | None
    spacing_between_slices: float | None
    gantry_tilt_deg: float | None
    meta: Mapping[str, Any]

    @property
    def frame_bytes(self) -> int:
        return self.rows * self.columns * (self.bits_allocated // 8)

    @property
    def native(self) -> bool:
        """True when the pixel bytes are copied straight from the file."""
        return self.pixel_offset is not None


def _looks_like_dicom(head: bytes) -> bool:
    if len(head) >= 132 and head[128:132] == b"DICM":
        return True
    if len(head) < 8:
        return False
    group, elem = struct.unpack("<HH", head[:4])
    return group in _PLAUSIBLE_FIRST_GROUPS and elem < 0x2000


_TEXT_VRS = frozenset({"DS", "IS", "CS", "UI", "LO", "SH"})
_FAST_TAGS: dict[str, tuple[int, str]] = {
    "Rows": (0x00280010, "US"),
    "Columns": (0x00280011, "US"),
    "BitsAllocated": (0x00280100, "US"),
    "BitsStored": (0x00280101, "US"),
    "PixelRepresentation": (0x00280103, "US"),
    "SamplesPerPixel": (0x00280002, "US"),
    "ImagePositionPatient": (0x00200032, "DS"),
    "ImageOrientationPatient": (0x00200037, "DS"),
    "PixelSpacing": (0x00280030, "DS"),
    "RescaleSlope": (0x00281053, "DS"),
    "RescaleIntercept": (0x00281052, "DS"),
    "SliceThickness": (0x00180050, "DS"),
    "InstanceNumber": (0x00200013, "IS"),
    "SeriesInstanceUID": (0x0020000E, "UI"),
    "SOPInstanceUID": (0x00080018, "UI"),
    "Modality": (0x00080060, "CS"),
    "PhotometricInterpretation": (0x00280004, "CS"),
    "ImageType": (0x00080008, "CS"),
}


def _fast(ds: Dataset, keyword: str) -> Any:
    """Parse a plain numeric or ASCII value from the raw bytes (pydicom's per-attribute
    conversion dominates the header pass on long series); None to fall back to pydicom."""
    tag, vr = _FAST_TAGS[keyword]
    raw: Any = ds._dict.get(BaseTag(tag))
    if raw is None or not hasattr(raw, "value_tell") or not isinstance(raw.value, bytes):
        return None
    if raw.VR is not None and vr != raw.VR:
        return None
    value: bytes = raw.value
    if vr == "US":
        if len(value) != 2:
            return None
        return int.from_bytes(value, "little" if raw.is_little_endian else "big")
    try:
        text = value.decode("ascii").strip(" \x00")
    except UnicodeDecodeError:
        return None
    if not text:
        return ""
    parts = [p.strip() for p in text.split("\\")]
    if vr in ("DS", "IS"):
        return [float(p) for p in parts] if len(parts) > 1 else float(parts[0])
    return parts if keyword == "ImageType" else parts[0]


def _get(ds: Dataset, keyword: str, default: Any = None) -> Any:
    """A header value, or ``default`` when absent, empty or unparsable."""
    if keyword in _FAST_TAGS:
        try:
            value = _fast(ds, keyword)
        except (ValueError, AttributeError, TypeError):
            value = None
        if value is not None:
            return default if value == "" else value
    try:
        value = ds.get(keyword, default)
    except Exception:
        return default
    if value is None or value == "":
        return default
    return value


def _float(value: Any, default: float | None = None) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return out if math.isfinite(out) else default


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _str(value: Any) -> str:
    try:
        return str(value).strip().replace("\x00", "")
    except Exception:
        return ""


def _floats(value: Any, n: int) -> tuple[float, ...] | None:
    try:
        items = [float(v) for v in value]
    except (TypeError, ValueError):
        return None
    if len(items) != n or not all(math.isfinite(v) for v in items):
        return None
    return tuple(items)


def _item(seq_owner: Dataset | None, keyword: str) -> Dataset | None:
    """First item of a sequence attribute, or None."""
    if seq_owner is None:
        return None
    seq = _get(seq_owner, keyword)
    try:
        return seq[0] if seq is not None and len(seq) > 0 else None
    except Exception:
        return None


def _from_groups(groups: list[Dataset | None], seq: str, keyword: str) -> Any:
    """A value from the per-frame group, else the shared group (functional groups)."""
    for group in groups:
        item = _item(group, seq)
        if item is not None:
            value = _get(item, keyword)
            if value is not None:
                return value
    return None


def _file_meta(ds: Dataset) -> dict[str, Any]:
    contrast = _get(ds, "ContrastBolusAgent")
    contrast_seq = _get(ds, "ContrastBolusAgentSequence")
    has_contrast = (contrast is not None and bool(_str(contrast))) or bool(contrast_seq)
    return {
        "patient_sex": _str(_get(ds, "PatientSex", "")).upper()[:1]
        if _str(_get(ds, "PatientSex", "")).upper()[:1] in ("M", "F")
        else "",
        "patient_name": _str(_get(ds, "PatientName", "")),
        "patient_id": _str(_get(ds, "PatientID", "")),
        "patient_birth_date": _str(_get(ds, "PatientBirthDate", "")),
        "patient_age": _str(_get(ds, "PatientAge", "")),
        "accession_number": _str(_get(ds, "AccessionNumber", "")),
        "study_instance_uid": _str(_get(ds, "StudyInstanceUID", "")),
        "study_date": _str(_get(ds, "StudyDate", "")),
        "study_description": _str(_get(ds, "StudyDescription", "")),
        "series_description": _str(_get(ds, "SeriesDescription", "")),
        "series_number": _int(_get(ds, "SeriesNumber")),
        "frame_of_reference_uid": _str(_get(ds, "FrameOfReferenceUID", "")),
        "sop_class_uid": _str(_get(ds, "SOPClassUID", "")),
        "manufacturer": _str(_get(ds, "Manufacturer", "")),
        "manufacturer_model_name": _str(_get(ds, "ManufacturerModelName", "")),
        "kvp": _float(_get(ds, "KVP")),
        "convolution_kernel": _str(_get(ds, "ConvolutionKernel", "")),
        "contrast_agent": True if has_contrast else None,
        "contrast_bolus_agent": _str(contrast) if contrast is not None else "",
        "body_part_examined": _str(_get(ds, "BodyPartExamined", "")),
    }


def _pixel_element(fp: IO[bytes], little: bool, implicit: bool) -> tuple[int, int] | None:
    """Parse the Pixel Data element header at the current position.

    Returns
    -------
    (value offset, value length) or None when the stream is not at a Pixel Data element.
    A length of 0xFFFFFFFF means encapsulated (compressed) data.
    """
    start = fp.tell()
    head = fp.read(12)
    if len(head) < 8 or head[:4] != (_PIXEL_TAG_LE if little else _PIXEL_TAG_BE):
        return None
    fmt = "<" if little else ">"
    if implicit:
        (length,) = struct.unpack(fmt + "I", head[4:8])
        return start + 8, length
    vr = head[4:6]
    if vr in (b"OB", b"OW", b"OD", b"OF", b"OL", b"OV", b"UN", b"UT", b"SQ", b"UC", b"UR"):
        if len(head) < 12:
            return None
        (length,) = struct.unpack(fmt + "I", head[8:12])
        return start + 12, length
    (length,) = struct.unpack(fmt + "H", head[6:8])
    return start + 8, length


def _check_orientation(
    iop: tuple[float, ...] | None,
) -> tuple[float, float, float, float, float, float]:
    if iop is None:
        raise HeaderRejected("no image orientation (ImageOrientationPatient missing or invalid)")
    row = [iop[0], iop[1], iop[2]]
    col = [iop[3], iop[4], iop[5]]
    nr = math.sqrt(sum(v * v for v in row))
    nc = math.sqrt(sum(v * v for v in col))
    if not (0.98 < nr < 1.02 and 0.98 < nc < 1.02):
        raise HeaderRejected("image orientation vectors are not unit vectors")
    row = [v / nr for v in row]
    col = [v / nc for v in col]
    if abs(sum(a * b for a, b in zip(row, col, strict=True))) > 0.02:
        raise HeaderRejected("image orientation row and column directions are not perpendicular")
    return (row[0], row[1], row[2], col[0], col[1], col[2])


def _read_dataset(source: Source) -> tuple[Dataset, tuple[int, int] | None]:
    """Header dataset (stopped before the pixels) and the pixel element's (offset, length)."""
    with source.open() as fp:
        head = fp.read(132)
        if not _looks_like_dicom(head):
            raise HeaderRejected("not a DICOM file")
        fp.seek(0)
        try:
            ds = pydicom.dcmread(fp, stop_before_pixels=True, force=True)
        except RecursionError:
            raise HeaderRejected("unreadable header (sequences nested too deeply)") from None
        except Exception as exc:
            raise HeaderRejected(f"unreadable header ({describe(exc)})") from None
        try:
            implicit, little = ds.original_encoding
        except Exception:
            implicit, little = None, None
        element = None
        if implicit is not None and little is not None:
            element = _pixel_element(fp, little, implicit)
    return ds, element


def read_frames(source: Source, meta_cache: dict[str, Any] | None = None) -> list[FrameHeader]:
    """Every image plane of one file, from its header.

    Parameters
    ----------
    source
        The file.
    meta_cache
        Optional dict shared across one scan: the series-level metadata (patient, study,
        description...) is read from the first file of each series only, which halves the
        header work on long series.

    Raises
    ------
    HeaderRejected
        With the reason, when the file cannot give a CT image.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _read_frames(source, meta_cache)


def _read_frames(source: Source, meta_cache: dict[str, Any] | None) -> list[FrameHeader]:
    ds, element = _read_dataset(source)
    try:
        return _frames_from_dataset(source, ds, element, meta_cache)
    except HeaderRejected:
        raise
    except RecursionError:
        raise HeaderRejected("unreadable header (sequences nested too deeply)") from None
    except Exception as exc:
        raise HeaderRejected(f"unreadable header ({describe(exc)})") from None


def _frames_from_dataset(
    source: Source,
    ds: Dataset,
    element: tuple[int, int] | None,
    meta_cache: dict[str, Any] | None = None,
) -> list[FrameHeader]:
    meta_ds = getattr(ds, "file_meta", None)
    ts = _str(_get(meta_ds, "TransferSyntaxUID", "")) if meta_ds is not None else ""
    if not ts:
        implicit_little = getattr(ds, "original_encoding", (True, True))
        ts = "1.2.840.10008.1.2" if implicit_little == (True, True) else "1.2.840.10008.1.2.1"
    if len(ds) == 0:
        if meta_ds is None or len(meta_ds) == 0:
            raise HeaderRejected("not a DICOM file")
        raise HeaderRejected("unreadable header (damaged file meta information, no data set)")
    sop_class = _str(_get(ds, "SOPClassUID", ""))
    if element is None:
        kind = UID(sop_class).name if sop_class else "unknown object"
        raise HeaderRejected(f"not an image (no pixel data; {kind})")
    rows = _int(_get(ds, "Rows"), 0) or 0
    columns = _int(_get(ds, "Columns"), 0) or 0
    if rows <= 0 or columns <= 0:
        raise HeaderRejected("not an image (Rows or Columns missing or zero)")
    modality = _str(_get(ds, "Modality", "")).upper()
    if modality != "CT":
        raise HeaderRejected(f"modality {modality or 'missing'}, not CT")
    image_type = [_str(v).upper() for v in (_get(ds, "ImageType") or [])]
    if "LOCALIZER" in image_type:
        raise HeaderRejected("localizer (scout) image")
    spp = _int(_get(ds, "SamplesPerPixel"), 1)
    photometric = _str(_get(ds, "PhotometricInterpretation", "MONOCHROME2")).upper()
    if spp != 1 or photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise HeaderRejected(f"not a greyscale image ({photometric or '?'}, {spp} samples)")
    bits_allocated = _int(_get(ds, "BitsAllocated"), 0) or 0
    if bits_allocated not in (8, 16, 32):
        raise HeaderRejected(f"unsupported BitsAllocated {bits_allocated}")
    bits_stored = _int(_get(ds, "BitsStored"), bits_allocated) or bits_allocated
    if not 1 <= bits_stored <= bits_allocated:
        raise HeaderRejected(f"BitsStored {bits_stored} does not fit BitsAllocated")
    signed = _int(_get(ds, "PixelRepresentation"), 0) == 1
    n_frames = _int(_get(ds, "NumberOfFrames"), 1)
    if n_frames is None or n_frames < 1 or n_frames > MAX_FRAMES:
        raise HeaderRejected(f"implausible NumberOfFrames {_get(ds, 'NumberOfFrames')}")

    offset, length = element
    frame_bytes = rows * columns * (bits_allocated // 8)
    total = frame_bytes * n_frames
    if total > MAX_DECODED_BYTES:
        raise HeaderRejected("image too large (Rows x Columns x frames exceeds 4 GiB)")
    encapsulated = length == 0xFFFFFFFF
    if encapsulated:
        # Each frame needs at least one 8-byte item header in the file.
        if n_frames * 8 > source.size - offset:
            raise HeaderRejected("compressed pixel data too short for its frame count")
        if ts in NATIVE_LE or ts in ("1.2.840.10008.1.2.2",):
            raise HeaderRejected("transfer syntax says uncompressed but pixel data is encapsulated")
    else:
        if ts == DEFLATED:
            pass  # the stream was inflated in memory, file offsets do not apply
        elif offset + length > source.size:
            raise HeaderRejected("pixel data extends past the end of the file (truncated)")
        if ts != DEFLATED and length < total:
            raise HeaderRejected(
                f"pixel data too short ({length} bytes for {n_frames} frame(s) of "
                f"{rows}x{columns} at {bits_allocated} bits)"
            )
        if ts not in NATIVE_LE and ts not in ("1.2.840.10008.1.2.2", DEFLATED):
            raise HeaderRejected(
                "transfer syntax says compressed but pixel data is not encapsulated"
            )
    native = ts in NATIVE_LE and not encapsulated
    if not native:
        try:
            from pydicom.pixels import get_decoder

            if not get_decoder(UID(ts)).is_available:
                raise HeaderRejected(f"no decoder installed for transfer syntax {UID(ts).name}")
        except HeaderRejected:
            raise
        except Exception:
            raise HeaderRejected(f"unsupported transfer syntax {ts!r}") from None

    series_uid = _str(_get(ds, "SeriesInstanceUID", ""))
    if meta_cache is not None and series_uid and series_uid in meta_cache:
        meta = meta_cache[series_uid]
    else:
        meta = _file_meta(ds)
        if meta_cache is not None and series_uid:
            meta_cache[series_uid] = meta
    sop_uid = _str(_get(ds, "SOPInstanceUID", ""))
    instance_number = _int(_get(ds, "InstanceNumber"))
    thickness = _float(_get(ds, "SliceThickness"))
    between = _float(_get(ds, "SpacingBetweenSlices"))
    tilt = _float(_get(ds, "GantryDetectorTilt"))
    trigger = _float(_get(ds, "TriggerTime"))
    base_phase = (
        _int(_get(ds, "TemporalPositionIdentifier")),
        _float(_get(ds, "NominalPercentageOfCardiacPhase")),
    )

    common = {
        "source": source,
        "n_frames": n_frames,
        "series_uid": series_uid,
        "sop_uid": sop_uid,
        "instance_number": instance_number,
        "rows": rows,
        "columns": columns,
        "transfer_syntax": ts,
        "bits_allocated": bits_allocated,
        "bits_stored": bits_stored,
        "signed": signed,
        "gantry_tilt_deg": tilt,
        "meta": meta,
    }

    shared = _item(ds, "SharedFunctionalGroupsSequence")
    per_frame = _get(ds, "PerFrameFunctionalGroupsSequence")
    if per_frame is not None or shared is not None:
        return _enhanced_frames(ds, shared, per_frame, offset if native else None, common)

    if n_frames != 1:
        raise HeaderRejected("multi-frame image without per-frame geometry")
    orientation = _check_orientation(_floats(_get(ds, "ImageOrientationPatient"), 6))
    position = _floats(_get(ds, "ImagePositionPatient"), 3)
    if position is None:
        raise HeaderRejected("no image position (ImagePositionPatient missing or invalid)")
    spacing = _floats(_get(ds, "PixelSpacing"), 2)
    if spacing is None or min(spacing) <= 0:
        raise HeaderRejected("no pixel spacing (PixelSpacing missing or invalid)")
    slope = _float(_get(ds, "RescaleSlope"), 1.0) or 1.0
    intercept = _float(_get(ds, "RescaleIntercept"), 0.0) or 0.0
    return [
        FrameHeader(
            frame=0,
            position=(position[0], position[1], position[2]),
            orientation=orientation,
            pixel_spacing=(spacing[0], spacing[1]),
            slope=slope,
            intercept=intercept,
            phase=base_phase,
            trigger_time=trigger,
            stack_id="",
            pixel_offset=offset if native else None,
            slice_thickness=thickness,
            spacing_between_slices=between,
            **common,
        )
    ]


def _enhanced_frames(
    ds: Dataset,
    shared: Dataset | None,
    per_frame: Any,
    offset: int | None,
    common: dict[str, Any],
) -> list[FrameHeader]:
    """Frames of an enhanced (multi-frame) image from its functional groups."""
    n_frames = int(common["n_frames"])
    try:
        n_items = len(per_frame) if per_frame is not None else 0
    except Exception:
        n_items = 0
    if n_items not in (0, n_frames) and n_items < n_frames:
        raise HeaderRejected(
            f"PerFrameFunctionalGroupsSequence has {n_items} items for {n_frames} frames"
        )
    frame_bytes = common["rows"] * common["columns"] * (common["bits_allocated"] // 8)
    frames: list[FrameHeader] = []
    for f in range(n_frames):
        item = per_frame[f] if n_items else None
        groups = [item, shared]
        pos_raw = _from_groups(groups, "PlanePositionSequence", "ImagePositionPatient")
        if pos_raw is None and f == 0 and n_frames == 1:
            pos_raw = _get(ds, "ImagePositionPatient")
        position = _floats(pos_raw, 3)
        if position is None:
            raise HeaderRejected(f"frame {f + 1}: no image position in the functional groups")
        iop_raw = _from_groups(groups, "PlaneOrientationSequence", "ImageOrientationPatient")
        orientation = _check_orientation(_floats(iop_raw, 6))
        spacing = _floats(_from_groups(groups, "PixelMeasuresSequence", "PixelSpacing"), 2)
        if spacing is None or min(spacing) <= 0:
            raise HeaderRejected(f"frame {f + 1}: no pixel spacing in the functional groups")
        thickness = _float(_from_groups(groups, "PixelMeasuresSequence", "SliceThickness"))
        between = _float(_from_groups(groups, "PixelMeasuresSequence", "SpacingBetweenSlices"))
        slope = _float(
            _from_groups(groups, "PixelValueTransformationSequence", "RescaleSlope"),
            _float(_get(ds, "RescaleSlope"), 1.0),
        )
        intercept = _float(
            _from_groups(groups, "PixelValueTransformationSequence", "RescaleIntercept"),
            _float(_get(ds, "RescaleIntercept"), 0.0),
        )
        temporal_index = _int(_from_groups(groups, "FrameContentSequence", "TemporalPositionIndex"))
        stack_id = _str(_from_groups(groups, "FrameContentSequence", "StackID") or "")
        nominal = _float(
            _from_groups(
                groups, "CardiacSynchronizationSequence", "NominalPercentageOfCardiacPhase"
            )
        )
        trigger = _float(
            _from_groups(groups, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime")
        )
        frames.append(
            FrameHeader(
                frame=f,
                position=(position[0], position[1], position[2]),
                orientation=orientation,
                pixel_spacing=(spacing[0], spacing[1]),
                slope=slope if slope else 1.0,
                intercept=intercept or 0.0,
                phase=(temporal_index, nominal),
                trigger_time=trigger,
                stack_id=stack_id,
                pixel_offset=None if offset is None else offset + f * frame_bytes,
                slice_thickness=thickness,
                spacing_between_slices=between,
                **common,
            )
        )
    return frames
