"""The fast header pass and the worker pool give exactly what the safe pydicom paths give.

:mod:`annulusview.core.io.fastheader` must either return the same :class:`FrameHeader` as
pydicom would, or ``None`` (then pydicom reads the file); it must never raise or hang, even on
damaged bytes.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import ExplicitVRBigEndian, JPEG2000Lossless, RLELossless, generate_uid

from annulusview.core.io import load
from annulusview.core.io import loader as loader_module
from annulusview.core.io.fastheader import read_native_header
from annulusview.core.io.headers import FrameHeader, read_frames
from annulusview.core.io.loader import _scan_stacks
from annulusview.core.io.pixels import WorkerPool, read_stack
from annulusview.core.io.sources import Source, list_sources
from test_io_synthetic import write_series, write_slice

Z = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def _signed_series(folder: Path, n: int = 6, **kw: Any) -> str:
    """Signed 16-bit slices (BitsStored 16), like most scanners write."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = generate_uid()
    rng = np.random.default_rng(3)
    for k in range(n):
        path = write_slice(
            folder / f"s{k:03d}.dcm", series_uid=uid, position=(-5.0, 7.0, 2.5 * k), **kw
        )
        ds = pydicom.dcmread(path)
        ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 15, 1
        values = rng.integers(-2000, 3000, size=(ds.Rows, ds.Columns)).astype(np.int16)
        ds.PixelData = values.tobytes()
        ds.save_as(path, enforce_file_format=True)
    return uid


def _primed_cache(sources: list[Source]) -> dict[str, Any]:
    """The series metadata cache as the loader fills it (pydicom reads the first file)."""
    cache: dict[str, Any] = {}
    read_frames(sources[0], cache)
    return cache


def _fields(frame: FrameHeader) -> dict[str, Any]:
    return {f.name: getattr(frame, f.name) for f in dataclasses.fields(frame)}


def _assert_same_as_pydicom(source: Source, cache: dict[str, Any]) -> FrameHeader | None:
    fast = read_native_header(source, cache)
    if fast is not None:
        (safe,) = read_frames(source, cache)
        assert _fields(fast) == _fields(safe)
    return fast


def _load_safe(path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(loader_module, "read_native_header", lambda source, cache: None)
        return load(path)


@pytest.mark.parametrize("implicit", [False, True])
def test_fast_headers_equal_pydicom_headers(tmp_path: Path, implicit: bool) -> None:
    write_series(tmp_path, Z, implicit=implicit, GantryDetectorTilt="0.0", TriggerTime="120.5")
    sources, _ = list_sources(tmp_path)
    cache = _primed_cache(sources)
    frames = [_assert_same_as_pydicom(s, cache) for s in sources[1:]]
    assert all(f is not None for f in frames)  # every later file took the fast path
    assert {f.transfer_syntax for f in frames if f is not None} == {
        "1.2.840.10008.1.2" if implicit else "1.2.840.10008.1.2.1"
    }


def test_fast_path_skips_undefined_length_sequences(tmp_path: Path) -> None:
    """Nested sequences of undefined length (common in real CT headers) are stepped over."""
    item = Dataset()
    item.ReferencedSOPClassUID = "1.2.840.10008.5.1.4.1.1.2"
    item.ReferencedSOPInstanceUID = generate_uid()
    inner = Dataset()
    inner.CodeValue = "X"
    item.PurposeOfReferenceCodeSequence = DicomSequence([inner])
    write_series(tmp_path, Z, ReferencedImageSequence=DicomSequence([item, item]))
    for path in tmp_path.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        ds["ReferencedImageSequence"].is_undefined_length = True
        for it in ds.ReferencedImageSequence:
            it.is_undefined_length_sequence_item = True
            it["PurposeOfReferenceCodeSequence"].is_undefined_length = True
            it.PurposeOfReferenceCodeSequence[0].is_undefined_length_sequence_item = True
        ds.save_as(path, enforce_file_format=True)
    sources, _ = list_sources(tmp_path)
    raw = sources[1].path.read_bytes()
    assert b"\xfe\xff\xdd\xe0" in raw  # pydicom wrote undefined-length sequences
    cache = _primed_cache(sources)
    assert all(_assert_same_as_pydicom(s, cache) is not None for s in sources[1:])


def test_fast_and_safe_loads_are_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _signed_series(tmp_path / "signed")
    write_series(tmp_path / "unsigned", Z, hu_of_z=lambda z: np.arange(48).reshape(6, 8) * z)
    for folder in (tmp_path / "signed", tmp_path / "unsigned"):
        fast, safe = load(folder), _load_safe(folder, monkeypatch)
        assert fast.hu.dtype == safe.hu.dtype
        np.testing.assert_array_equal(fast.hu, safe.hu)
        np.testing.assert_array_equal(fast.affine, safe.affine)
        assert fast.warnings == safe.warnings
        assert fast.metadata == safe.metadata
        assert fast.source_paths == safe.source_paths


def test_truncated_file_gets_a_clean_skip_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _signed_series(tmp_path)
    victim = sorted(tmp_path.glob("*.dcm"))[3]
    data = victim.read_bytes()
    victim.write_bytes(data[:-7])
    sources, _ = list_sources(tmp_path)
    cache = _primed_cache(sources)
    assert read_native_header(next(s for s in sources if s.path == victim), cache) is None
    _, skipped = _scan_stacks(tmp_path, None, None)
    assert [s.reason for s in skipped if s.path == str(victim)] == [
        "pixel data extends past the end of the file (truncated)"
    ]
    vol, safe = load(tmp_path), _load_safe(tmp_path, monkeypatch)
    assert str(victim) not in vol.source_paths
    np.testing.assert_array_equal(vol.hu, safe.hu)
    assert vol.warnings == safe.warnings


def test_file_truncated_after_the_header_pass_fails_cleanly(tmp_path: Path) -> None:
    _signed_series(tmp_path)
    (stack,), _ = _scan_stacks(tmp_path, None, None)
    assert all(f.native for f in stack.plan.frames)
    victim = stack.plan.frames[2].source.path
    victim.write_bytes(victim.read_bytes()[:-100])
    _, failures = read_stack(stack.plan)
    assert [(f.source.path, reason) for f, reason in failures] == [
        (victim, "unreadable pixels (ValueError: pixel data ended early)")
    ]


def test_unusual_files_are_left_to_pydicom(tmp_path: Path) -> None:
    uid = write_series(tmp_path / "a", Z)
    sources, _ = list_sources(tmp_path / "a")
    cache = _primed_cache(sources)
    base = sources[1].path.read_bytes()

    def variant(name: str, change: Any) -> Source:
        path = tmp_path / name
        ds = pydicom.dcmread(sources[1].path)
        big = change(ds)
        if big:
            pydicom.dcmwrite(path, ds, implicit_vr=False, little_endian=False, force_encoding=True)
        else:
            ds.save_as(path, enforce_file_format=True)
        return Source(str(path), path, None, path.stat().st_size)

    def big_endian(ds: Dataset) -> bool:
        ds.file_meta.TransferSyntaxUID = ExplicitVRBigEndian
        return True

    def eight_bits(ds: Dataset) -> None:
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelData = bytes(ds.Rows * ds.Columns)

    def rle(ds: Dataset) -> None:
        ds.compress(RLELossless)

    def localizer(ds: Dataset) -> None:
        ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER"]

    def odd_text(ds: Dataset) -> None:
        ds.RescaleIntercept = "-1024\\0"

    def float_pixels(ds: Dataset) -> None:
        del ds.PixelData
        ds.FloatPixelData = bytes(4 * ds.Rows * ds.Columns)

    for n, change in enumerate([big_endian, eight_bits, rle, localizer, odd_text, float_pixels]):
        assert read_native_header(variant(f"v{n}.dcm", change), cache) is None, change.__name__
    # The same bytes with an unknown series (no cached metadata) also go to pydicom.
    assert read_native_header(sources[1], {}) is None
    assert read_native_header(sources[1], {"other": {}}) is None
    assert uid in cache and base == sources[1].path.read_bytes()


def test_damaged_bytes_never_break_the_fast_path(tmp_path: Path) -> None:
    """Random byte changes and truncations: None or the same frame as pydicom, quickly."""
    item = Dataset()
    item.ReferencedSOPInstanceUID = generate_uid()
    write_series(tmp_path / "ok", Z, ReferencedImageSequence=DicomSequence([item]))
    sources, _ = list_sources(tmp_path / "ok")
    cache = _primed_cache(sources)
    good = sources[1].path.read_bytes()
    header_end = good.index(b"\xe0\x7f\x10\x00") + 12
    rng = np.random.default_rng(11)
    target = tmp_path / "bad.dcm"
    start = time.perf_counter()
    for n in range(400):
        data = bytearray(good)
        if n % 4 == 0:
            data = data[: int(rng.integers(0, len(good)))]
        else:
            for _ in range(int(rng.integers(1, 4))):
                data[int(rng.integers(128, header_end))] = int(rng.integers(0, 256))
        target.write_bytes(bytes(data))
        source = Source(str(target), target, None, len(data))
        try:
            safe: list[FrameHeader] | None = read_frames(source, cache)
        except Exception:
            safe = None
        fast = read_native_header(source, cache)
        if fast is not None:
            assert safe is not None and len(safe) == 1
            assert _fields(fast) == _fields(safe[0])
    assert time.perf_counter() - start < 60


def test_early_started_pool_decodes_like_one_process(tmp_path: Path) -> None:
    uid = generate_uid()
    for k in range(10):
        path = write_slice(
            tmp_path / f"j{k:02d}.dcm",
            series_uid=uid,
            position=(0.0, 0.0, float(k)),
            hu=np.arange(64 * 64, dtype=np.float64).reshape(64, 64) % 700 * (k + 1) - 500,
            rows=64,
            cols=64,
        )
        ds = pydicom.dcmread(path)
        ds.compress(JPEG2000Lossless)
        ds.save_as(path, enforce_file_format=True)
    with WorkerPool(2) as pool:
        (stack,), _ = _scan_stacks(tmp_path, None, None, pool)
        assert pool.executor is not None  # started during the header pass
        pooled, failures = read_stack(stack.plan, pool=pool)
        assert failures == []
    single, failures = read_stack(stack.plan, workers=1)
    assert failures == []
    np.testing.assert_array_equal(pooled, single)
    np.testing.assert_array_equal(load(tmp_path).hu, single)


@pytest.mark.parametrize(
    ("cpus", "load", "expected"),
    [(2, 0.0, 2), (2, 0.4, 2), (2, 0.6, 1), (2, 1.3, 1), (2, 5.0, 1), (8, 3.0, 5), (1, 0.0, 1)],
)
def test_decode_pool_is_sized_from_the_free_cores(cpus, load, expected) -> None:
    """cpus - load, rounded, at least one: a busy machine decodes in one process."""
    from annulusview.core.io.pixels import free_cores

    assert free_cores(cpus, load) == expected
