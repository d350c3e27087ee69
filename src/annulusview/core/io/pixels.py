"""Pixel pass: decode each frame straight into one preallocated output array, in HU.

Uncompressed little-endian frames are read from the file directly into their output slice
(no intermediate copies). Anything else (big endian, deflate, JPEG, JPEG-LS, JPEG 2000, RLE)
goes through pydicom and its pylibjpeg plugins; compressed series with enough files are decoded
in a pool of worker processes (one per core), because the decoders hold the GIL.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.io.geometry import StackPlan, rescale_fits_int16
from annulusview.core.io.headers import FrameHeader
from annulusview.core.io.sources import Source, describe
from annulusview.core.progress import CancelToken, ProgressCallback, check, report

logger = logging.getLogger(__name__)

#: Use worker processes for compressed series of at least this many files.
POOL_MIN_FILES = 8

FrameFailure = tuple[FrameHeader, str]


class NeedsFloat(Exception):
    """A frame's HU values do not fit int16: the stack must be read as float32."""


def _stored_dtype(frame: FrameHeader) -> np.dtype[Any]:
    kind = "i" if frame.signed else "u"
    return np.dtype(f"<{kind}{frame.bits_allocated // 8}")


def _fix_unused_bits(arr: npt.NDArray[Any], bits_stored: int, signed: bool) -> None:
    """Clear (unsigned) or sign-extend (signed) the bits above BitsStored, in place."""
    width = arr.dtype.itemsize * 8
    if bits_stored >= width:
        return
    if signed:
        shift = width - bits_stored
        signed_view = arr.view(arr.dtype.str.replace("u", "i"))
        np.left_shift(signed_view, shift, out=signed_view)
        np.right_shift(signed_view, shift, out=signed_view)
    else:
        np.bitwise_and(arr, (1 << bits_stored) - 1, out=arr, casting="unsafe")


def _check_fits_int16(stored: npt.NDArray[Any], slope: int, intercept: int) -> None:
    """Raise :class:`NeedsFloat` when ``stored * slope + intercept`` leaves int16."""
    if slope == 1 and stored.dtype == np.int16:
        # Only one end can overflow: one reduction instead of two.
        if intercept < 0 and int(stored.min()) + intercept < -32768:
            raise NeedsFloat()
        if intercept > 0 and int(stored.max()) + intercept > 32767:
            raise NeedsFloat()
        return
    lo = int(stored.min()) * slope + intercept
    hi = int(stored.max()) * slope + intercept
    if min(lo, hi) < -32768 or max(lo, hi) > 32767:
        raise NeedsFloat()


def store_frame(dst: npt.NDArray[Any], stored: npt.NDArray[Any], frame: FrameHeader) -> None:
    """Write ``stored`` values of ``frame`` into ``dst`` as HU (slope and intercept applied)."""
    _fix_unused_bits(stored, frame.bits_stored, frame.signed)
    slope, intercept = frame.slope, frame.intercept
    if dst.dtype == np.int16:
        if not rescale_fits_int16(frame):
            _check_fits_int16(stored, int(slope), int(intercept))
        if stored.dtype.itemsize <= 2 and (stored.dtype == np.int16 or frame.bits_stored < 16):
            if not np.may_share_memory(dst, stored):
                np.copyto(dst, stored, casting="unsafe")  # values fit int16 unchanged
            if slope != 1:
                np.multiply(dst, int(slope), out=dst)
            if intercept:
                np.add(dst, int(intercept), out=dst, casting="unsafe")
        else:
            wide = stored.astype(np.int64) * int(slope) + int(intercept)
            np.copyto(dst, wide, casting="unsafe")
    else:
        if not np.may_share_memory(dst, stored):
            np.copyto(dst, stored, casting="unsafe")
        if slope != 1:
            np.multiply(dst, slope, out=dst, casting="unsafe")
        if intercept:
            np.add(dst, intercept, out=dst, casting="unsafe")


ReadAt = Callable[[memoryview, int], int]


def _file_reader(f: Any) -> ReadAt:
    """``read_at(buffer, offset)`` for a seekable binary stream."""

    def read_at(buf: memoryview, offset: int) -> int:
        f.seek(offset)
        return int(f.readinto(buf))

    return read_at


def _fd_reader(fd: int) -> ReadAt:
    """``read_at(buffer, offset)`` for an OS file descriptor: one pread per frame, no seek."""

    def read_at(buf: memoryview, offset: int) -> int:
        got = 0
        size = len(buf)
        while got < size:
            n = os.preadv(fd, [buf[got:]], offset + got)
            if n <= 0:
                break
            got += n
        return got

    return read_at


def _read_native_into(read_at: ReadAt, frame: FrameHeader, dst: npt.NDArray[Any]) -> None:
    """Read one uncompressed LE frame into ``dst`` (HU) with ``read_at(buffer, offset)``."""
    assert frame.pixel_offset is not None
    stored_dt = _stored_dtype(frame)
    if dst.dtype == stored_dt or (
        dst.dtype == np.int16 and stored_dt == np.uint16 and frame.bits_stored < 16
    ):
        # Same bit pattern for every value the header allows: read straight into the output.
        buf = dst.view(stored_dt) if dst.dtype != stored_dt else dst
        got = read_at(memoryview(buf).cast("B"), frame.pixel_offset)  # type: ignore[arg-type]
        if got != frame.frame_bytes:
            raise ValueError("pixel data ended early")
        store_frame(dst, buf, frame)
        return
    stored = np.empty((frame.rows, frame.columns), dtype=stored_dt)
    got = read_at(memoryview(stored).cast("B"), frame.pixel_offset)  # type: ignore[arg-type]
    if got != frame.frame_bytes:
        raise ValueError("pixel data ended early")
    store_frame(dst, stored, frame)


def decode_with_pydicom(source: Source, frame_numbers: Sequence[int]) -> npt.NDArray[Any]:
    """Decode frames of one file with pydicom: stored values, shape ``(n, rows, columns)``.

    Runs in worker processes too, so it only takes picklable arguments.
    """
    import io

    import pydicom
    from pydicom.pixels import pixel_array

    data = source.read_bytes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds = pydicom.dcmread(io.BytesIO(data), force=True)
        n_frames = int(ds.get("NumberOfFrames", 1) or 1)
        if n_frames == 1 or len(frame_numbers) * 2 >= n_frames:
            arr = pixel_array(ds, raw=True)
            if arr.ndim == 2:
                arr = arr[None]
            return np.ascontiguousarray(arr[list(frame_numbers)])
        out = [pixel_array(ds, index=n, raw=True) for n in frame_numbers]
        return np.stack(out)


def _decode_task(source: Source, frame_numbers: tuple[int, ...]) -> npt.NDArray[Any] | str:
    """Worker entry: decoded frames, or the reason they could not be decoded."""
    try:
        return decode_with_pydicom(source, frame_numbers)
    except Exception as exc:
        return describe(exc)


def _decode_batch(
    batch: tuple[tuple[Source, tuple[int, ...]], ...],
) -> list[npt.NDArray[Any] | str]:
    """Worker entry for several consecutive files: one result per file."""
    return [_decode_task(source, frames) for source, frames in batch]


def _ready() -> None:
    """No-op task: makes the pool start its worker processes now."""


def _pool_context() -> multiprocessing.context.BaseContext:
    # fork is unsafe in a threaded GUI process; forkserver (POSIX) starts each worker from a
    # clean server that only imported this module; spawn elsewhere.
    if sys.platform.startswith("linux"):
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return multiprocessing.get_context("spawn")


class WorkerPool:
    """Decode worker processes that a load can start early, while it still reads headers.

    Starting the processes (and, on the first load of a session, the fork server that imports
    the decoders once for all of them) overlaps the header pass; :func:`read_stack` then uses
    the running pool. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self.executor: ProcessPoolExecutor | None = None

    def start(self) -> None:
        """Start the worker processes (once; no-op with one worker or when starting fails)."""
        if self.executor is not None or self.workers <= 1:
            return
        if multiprocessing.current_process().daemon:
            # A daemonic process (a Dask or multiprocessing worker) may not have children:
            # decode in this process instead.
            self.workers = 1
            return
        try:
            self.executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_pool_context()
            )
            for _ in range(self.workers):
                self.executor.submit(_ready)
        except (OSError, RuntimeError, AssertionError) as exc:
            logger.warning("could not start worker processes (%s)", exc)
            self.close()

    def close(self) -> None:
        if self.executor is not None:
            self.executor.shutdown(wait=True, cancel_futures=True)
            self.executor = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_stack(
    plan: StackPlan,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    workers: int | None = None,
    pool: WorkerPool | None = None,
) -> tuple[npt.NDArray[Any], list[FrameFailure]]:
    """Decode every frame of ``plan`` into one HU array ``[k, j, i]``.

    Parameters
    ----------
    plan
        The stack to read.
    progress, cancel
        Progress callback (fraction, text) and cancellation token, checked between slices.
    workers
        Worker processes for compressed frames: None = one per core when worthwhile, 1 = none.
    pool
        A started :class:`WorkerPool` to use instead of starting one (left running).

    Returns
    -------
    hu, failures
        The volume (meaningless if ``failures`` is not empty) and frames that did not decode.
    """
    try:
        return _read_stack(plan, plan.dtype, progress, cancel, workers, pool)
    except NeedsFloat:
        logger.info("HU values exceed int16; reading as float32")
        return _read_stack(plan, "float32", progress, cancel, workers, pool)


def _read_stack(
    plan: StackPlan,
    dtype: str,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    workers: int | None,
    pool: WorkerPool | None = None,
) -> tuple[npt.NDArray[Any], list[FrameFailure]]:
    n_src = len(plan.frames)
    _, rows, cols = plan.shape
    src_dtype = np.dtype(dtype) if plan.resample is None else np.dtype(np.float32)
    src = np.empty((n_src, rows, cols), dtype=src_dtype)
    failures: list[FrameFailure] = []

    by_file: dict[Source, list[tuple[int, FrameHeader]]] = defaultdict(list)
    for k, frame in enumerate(plan.frames):
        by_file[frame.source].append((k, frame))
    native = [(s, items) for s, items in by_file.items() if all(f.native for _, f in items)]
    coded = [(s, items) for s, items in by_file.items() if not all(f.native for _, f in items)]
    done = 0

    def tick(count: int) -> None:
        nonlocal done
        done += count
        report(progress, done / max(1, n_src), f"slice {done}/{n_src}")

    for source, items in native:
        check(cancel)
        try:
            if source.member is None and hasattr(os, "preadv"):
                fd = os.open(source.path, os.O_RDONLY)
                try:
                    read_at = _fd_reader(fd)
                    for k, frame in items:
                        _read_native_into(read_at, frame, src[k])
                finally:
                    os.close(fd)
            elif source.member is None:
                with source.path.open("rb", buffering=0) as f:
                    for k, frame in items:
                        _read_native_into(_file_reader(f), frame, src[k])
            else:
                import io

                with io.BytesIO(source.read_bytes()) as mem:
                    for k, frame in items:
                        _read_native_into(_file_reader(mem), frame, src[k])
        except NeedsFloat:
            raise
        except Exception as exc:
            failures.extend((frame, f"unreadable pixels ({describe(exc)})") for _, frame in items)
        tick(len(items))

    if coded:
        use_pool = (workers is None or workers > 1) and len(coded) >= POOL_MIN_FILES
        if use_pool:
            own = pool is None or pool.executor is None
            active = WorkerPool(workers) if own else pool
            assert active is not None
            try:
                active.start()
                if active.executor is not None:
                    _decode_in_pool(coded, src, failures, active, cancel, tick)
                    coded = []
            except (BrokenProcessPool, OSError, RuntimeError) as exc:
                logger.warning("worker processes failed (%s); decoding in this process", exc)
            finally:
                if own:
                    active.close()
        for source, items in coded:
            check(cancel)
            result = _decode_task(source, tuple(f.frame for _, f in items))
            _place(result, items, src, failures)
            tick(len(items))

    if failures or plan.resample is None:
        return src, failures
    return _interpolate(src, plan), failures


def _place(
    result: npt.NDArray[Any] | str,
    items: Sequence[tuple[int, FrameHeader]],
    out: npt.NDArray[Any],
    failures: list[FrameFailure],
) -> None:
    if isinstance(result, str):
        failures.extend((f, f"undecodable pixels ({result})") for _, f in items)
        return
    for n, (k, frame) in enumerate(items):
        if n >= result.shape[0] or result.shape[1:] != out.shape[1:]:
            failures.append((frame, "decoded pixels do not match Rows x Columns"))
            continue
        try:
            store_frame(out[k], np.array(result[n]), frame)
        except NeedsFloat:
            raise
        except Exception as exc:
            failures.append((frame, f"undecodable pixels ({describe(exc)})"))


def _batches(
    coded: list[tuple[Source, list[tuple[int, FrameHeader]]]], n_workers: int
) -> list[list[tuple[Source, list[tuple[int, FrameHeader]]]]]:
    """Consecutive files in batches: fewer round trips, about 16 batches per worker so the
    last ones still balance."""
    size = max(1, min(4, len(coded) // (16 * n_workers)))
    return [coded[i : i + size] for i in range(0, len(coded), size)]


def _decode_in_pool(
    coded: list[tuple[Source, list[tuple[int, FrameHeader]]]],
    out: npt.NDArray[Any],
    failures: list[FrameFailure],
    pool: WorkerPool,
    cancel: CancelToken | None,
    tick: Callable[[int], None],
) -> None:
    executor = pool.executor
    assert executor is not None
    pending: dict[Future[Any], list[tuple[Source, list[tuple[int, FrameHeader]]]]] = {}
    try:
        for batch in _batches(coded, pool.workers):
            task = tuple((source, tuple(f.frame for _, f in items)) for source, items in batch)
            pending[executor.submit(_decode_batch, task)] = batch
        while pending:
            finished, _ = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            check(cancel)
            for fut in finished:
                batch = pending.pop(fut)
                for (_, items), result in zip(batch, fut.result(), strict=True):
                    _place(result, items, out, failures)
                    tick(len(items))
    except BaseException:
        for fut in pending:
            fut.cancel()
        raise


def _interpolate(src: npt.NDArray[Any], plan: StackPlan) -> npt.NDArray[np.float32]:
    """Linear interpolation of the sorted source slices onto the plan's uniform grid."""
    assert plan.resample is not None
    lower, weight = plan.resample
    out = np.empty(plan.shape, dtype=np.float32)
    for k in range(plan.shape[0]):
        a = int(lower[k])
        w = float(weight[k])
        if w <= 1e-6:
            out[k] = src[a]
        elif w >= 1 - 1e-6:
            out[k] = src[a + 1]
        else:
            np.multiply(src[a], np.float32(1.0 - w), out=out[k])
            out[k] += np.float32(w) * src[a + 1]
    return out
