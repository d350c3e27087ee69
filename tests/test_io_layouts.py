"""Every pixel layout the loader reads gives the HU that pydicom gives, voxel for voxel.

Each expected volume is pydicom's ``apply_modality_lut(ds.pixel_array, ds)`` of the same files,
never our own output. Series are written here with pydicom (small, in ``tmp_path``) for every
layout a scanner writes, and the real series in ``../shared/data`` are checked the same way.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.pixels import apply_modality_lut
from pydicom.uid import CTImageStorage, ExplicitVRBigEndian, ExplicitVRLittleEndian, generate_uid

from annulusview.core.io import load
from annulusview.core.io.loader import _scan_stacks
from annulusview.core.io.pixels import read_stack

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
ROWS, COLS, SLICES = 16, 12, 4

# stored(k, rng) -> raw stored words (uint16 bit patterns, high bits included) of slice k.
Stored = Callable[[int, np.random.Generator], npt.NDArray[np.uint16]]


def _uniform(lo: int, hi: int) -> Stored:
    """Stored values in [lo, hi] (as int), both ends present in every slice."""

    def make(k: int, rng: np.random.Generator) -> npt.NDArray[np.uint16]:
        v = rng.integers(lo, hi, size=(ROWS, COLS), endpoint=True)
        v.flat[0], v.flat[1] = lo, hi
        return v.astype(np.int64).astype(np.uint16)  # two's complement for negatives

    return make


def _garbage_above(bits_stored: int, lo: int, hi: int) -> Stored:
    """Values in [lo, hi] in the low ``bits_stored`` bits, random junk in the bits above."""
    inner = _uniform(lo, hi)
    mask = (1 << bits_stored) - 1

    def make(k: int, rng: np.random.Generator) -> npt.NDArray[np.uint16]:
        junk = rng.integers(0, 1 << (16 - bits_stored), size=(ROWS, COLS)) << bits_stored
        return ((inner(k, rng) & mask) | junk).astype(np.uint16)

    return make


def write_series(
    folder: Path,
    stored: Stored,
    *,
    signed: bool,
    bits_stored: int = 16,
    rescale: Callable[[int], tuple[float, float]] = lambda k: (1.0, -1024.0),
    big_endian: bool = False,
    slices: int = SLICES,
) -> Path:
    """A small axial series; slice k has ``rescale(k) = (slope, intercept)``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(16)
    series_uid = generate_uid()
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRBigEndian if big_endian else ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID = "1.2.3.4", series_uid
        ds.FrameOfReferenceUID = "1.2.3.5"
        ds.Modality = "CT"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, 2.0 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.5, 0.5]
        ds.SliceThickness = 2.0
        ds.Rows, ds.Columns = ROWS, COLS
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits_stored, bits_stored - 1
        ds.PixelRepresentation = 1 if signed else 0
        slope, intercept = rescale(k)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        words = stored(k, rng)
        ds.PixelData = words.astype(">u2" if big_endian else "<u2").tobytes()
        pydicom.dcmwrite(
            folder / f"CT{k:03d}.dcm",
            ds,
            enforce_file_format=True,
            implicit_vr=False,
            little_endian=not big_endian,
        )
    return folder


def pydicom_hu(path: Path, frame: int = 0) -> npt.NDArray[np.float64]:
    """pydicom's HU of one frame of one file: the reference for every test."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(path, force=True)
        arr = ds.pixel_array
        if int(ds.get("NumberOfFrames", 1) or 1) > 1:
            arr = arr[frame]
            hu = apply_modality_lut(arr, ds) if "RescaleSlope" in ds else None
            if hu is None:  # enhanced CT: rescale in the functional groups
                groups = ds.PerFrameFunctionalGroupsSequence[frame]
                shared = ds.get("SharedFunctionalGroupsSequence", [Dataset()])[0]
                seq = groups.get("PixelValueTransformationSequence") or shared.get(
                    "PixelValueTransformationSequence"
                )
                slope = float(seq[0].RescaleSlope) if seq else 1.0
                intercept = float(seq[0].RescaleIntercept) if seq else 0.0
                hu = arr.astype(np.float64) * slope + intercept
            return np.asarray(hu, dtype=np.float64)
        return np.asarray(apply_modality_lut(arr, ds), dtype=np.float64)


def assert_every_frame_matches_pydicom(path: Path) -> list[np.dtype[np.generic]]:
    """Read every stack at ``path`` (no resampling) and compare each frame with pydicom.

    Returns the output dtype of each stack.
    """
    stacks, _ = _scan_stacks(path, None, None)
    assert stacks, f"no stack found in {path}"
    dtypes = []
    for stack in stacks:
        plan = dataclasses.replace(stack.plan, resample=None)
        shape = (len(plan.frames), *plan.shape[1:])
        plan = dataclasses.replace(plan, shape=shape)
        hu, failures = read_stack(plan, workers=1)
        assert not failures, failures
        for k, frame in enumerate(plan.frames):
            expected = pydicom_hu(frame.source.path, frame.frame)
            if hu.dtype == np.float32:
                expected = expected.astype(np.float32)
            np.testing.assert_array_equal(hu[k], expected, err_msg=f"{frame.source.display}")
        dtypes.append(hu.dtype)
    return dtypes


def assert_load_matches_pydicom(folder: Path, expected_dtype: str) -> None:
    """``load`` of a synthetic series equals pydicom's slices in position order."""
    vol = load(folder)
    files = sorted(folder.glob("*.dcm"))  # written in increasing z
    expected = np.stack([pydicom_hu(f) for f in files])
    assert vol.hu.dtype == np.dtype(expected_dtype)
    assert vol.hu.shape == expected.shape
    if vol.hu.dtype == np.float32:
        expected = expected.astype(np.float32)
    np.testing.assert_array_equal(vol.hu, expected)
    assert_every_frame_matches_pydicom(folder)


def _per_slice(values: Sequence[tuple[float, float]]) -> Callable[[int], tuple[float, float]]:
    return lambda k: values[k % len(values)]


def _fixed(slope: float, intercept: float) -> Callable[[int], tuple[float, float]]:
    return _per_slice([(slope, intercept)])


# name, stored values, signed, bits stored, rescale per slice, big endian, output dtype
LAYOUTS = [
    ("int16 intercept -1024", _uniform(-2000, 3071), True, 16, None, False, "int16"),
    ("int16 intercept 0", _uniform(-32768, 32767), True, 16, _fixed(1, 0), False, "int16"),
    ("int16 full range -1024", _uniform(-32768, 32767), True, 16, None, False, "float32"),
    ("uint16 to 4095 intercept -1024", _uniform(0, 4095), False, 16, None, False, "int16"),
    # 65535 - 1024 = 64511 does not fit int16: the output widens to float32 (exact to 2**24).
    ("uint16 to 65535 intercept -1024", _uniform(0, 65535), False, 16, None, False, "float32"),
    ("uint16 to 33791 intercept -1024", _uniform(0, 33791), False, 16, None, False, "int16"),
    ("uint16 to 33792 intercept -1024", _uniform(0, 33792), False, 16, None, False, "float32"),
    ("int16 slope -1", _uniform(-2000, 3000), True, 16, _fixed(-1, 0), False, "int16"),
    (
        "int16 slope -1 at -32768",
        _uniform(-32768, 0),
        True,
        16,
        _fixed(-1, 0),
        False,
        "float32",
    ),
    ("uint16 intercept 0", _uniform(0, 32767), False, 16, _fixed(1, 0), False, "int16"),
    (
        "uint16 slope 0.5",
        _uniform(0, 65535),
        False,
        16,
        _fixed(0.5, -1024),
        False,
        "float32",
    ),
    (
        "uint16 slope 2.5",
        _uniform(0, 4095),
        False,
        16,
        _fixed(2.5, -1024),
        False,
        "float32",
    ),
    ("int16 slope 2.5", _uniform(-2000, 3000), True, 16, _fixed(2.5, 0), False, "float32"),
    ("uint16 slope 2 int", _uniform(0, 4095), False, 16, _fixed(2, -1024), False, "int16"),
    ("uint16 12 bits garbage", _garbage_above(12, 0, 4095), False, 12, None, False, "int16"),
    ("int16 12 bits garbage", _garbage_above(12, -2048, 2047), True, 12, None, False, "int16"),
    (
        "uint16 12 bits slope 0.5",
        _garbage_above(12, 0, 4095),
        False,
        12,
        _fixed(0.5, -1024),
        False,
        "float32",
    ),
    (
        "per-slice intercepts",
        _uniform(0, 4095),
        False,
        16,
        _per_slice([(1, -1024), (1, 0), (1, -2048), (2, -1000)]),
        False,
        "int16",
    ),
    (
        "per-slice slopes",
        _uniform(-1000, 3000),
        True,
        16,
        _per_slice([(1, -1024), (0.5, 0), (2.5, -1024), (1, 100)]),
        False,
        "float32",
    ),
    ("big endian int16", _uniform(-2000, 3071), True, 16, None, True, "int16"),
    ("big endian uint16", _uniform(0, 4095), False, 16, None, True, "int16"),
    ("big endian 12 bits", _garbage_above(12, 0, 4095), False, 12, None, True, "int16"),
]


@pytest.mark.parametrize(
    ("stored", "signed", "bits_stored", "rescale", "big_endian", "dtype"),
    [pytest.param(*row[1:], id=row[0]) for row in LAYOUTS],
)
def test_layout_matches_pydicom(
    tmp_path: Path,
    stored: Stored,
    signed: bool,
    bits_stored: int,
    rescale: Callable[[int], tuple[float, float]] | None,
    big_endian: bool,
    dtype: str,
) -> None:
    folder = write_series(
        tmp_path / "series",
        stored,
        signed=signed,
        bits_stored=bits_stored,
        rescale=rescale or (lambda k: (1.0, -1024.0)),
        big_endian=big_endian,
    )
    assert_load_matches_pydicom(folder, dtype)


@pytest.mark.parametrize("slices", [SLICES, 40], ids=["one thread", "two threads"])
@pytest.mark.parametrize("overflow_at", ["first", "last"])
def test_overflow_in_one_slice_widens_whole_volume(
    tmp_path: Path, slices: int, overflow_at: str
) -> None:
    """One slice holds a value above 32767 + 1024: every slice is re-read as float32.

    With 40 files the pixel pass reads the second half in a helper thread, so "last" makes the
    helper find the overflow and "first" the calling thread.
    """
    overflow_slice = 0 if overflow_at == "first" else slices - 1

    def make(k: int, rng: np.random.Generator) -> npt.NDArray[np.uint16]:
        v = rng.integers(0, 4095, size=(ROWS, COLS), endpoint=True)
        if k == overflow_slice:
            v.flat[5] = 60000
        return v.astype(np.uint16)

    folder = write_series(tmp_path / "series", make, signed=False, slices=slices)
    assert_load_matches_pydicom(folder, "float32")


def test_many_slices_per_slice_rescale(tmp_path: Path) -> None:
    """40 files (two reading threads), a different integer rescale on every slice."""
    rescales = [(1 + k % 3, -1024 + 7 * k) for k in range(40)]
    folder = write_series(
        tmp_path / "series",
        _garbage_above(12, 0, 4095),
        signed=False,
        bits_stored=12,
        rescale=_per_slice(rescales),
        slices=40,
    )
    assert_load_matches_pydicom(folder, "int16")


REAL = [
    "real/abdomen_ct_j2k",
    "dicom-edge/ge_tilt_gaps",
    "dicom-edge/pydicom_selected/693_UNCI.dcm",
    "dicom-edge/pydicom_selected/693_J2KR.dcm",
    "real/qrm_phantom",
]


@pytest.mark.parametrize("relative", REAL)
def test_real_series_match_pydicom(relative: str) -> None:
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is not on this machine")
    assert_every_frame_matches_pydicom(path)
