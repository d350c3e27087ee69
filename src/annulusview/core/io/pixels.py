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
import threading
import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.io.geometry import StackPlan, _stored_range, rescale_fits_int16
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


def _check_fits_int16(stored: npt.NDArray[Any], frame: FrameHeader) -> None:
    """Raise :class:`NeedsFloat` when ``stored * slope + intercept`` leaves int16.

    Only the ends the header's stored range does not already guarantee are reduced: an
    unsigned series with a negative intercept needs the maximum only, a signed one with a
    negative intercept the minimum only.
    """
    slope, intercept = int(frame.slope), int(frame.intercept)
    range_lo, range_hi = _stored_range(frame)
    # Which stored extreme gives the lowest and the highest HU.
    low_end, high_end = ("min", "max") if slope >= 0 else ("max", "min")
    for end, bound_ok in (
        (low_end, lambda hu: hu >= -32768),
        (high_end, lambda hu: hu <= 32767),
    ):
        header_value = range_lo if end == "min" else range_hi
        if bound_ok(header_value * slope + intercept):
            continue
        value = int(stored.min()) if end == "min" else int(stored.max())
        if not bound_ok(value * slope + intercept):
            raise NeedsFloat()


def _scalar(value: float) -> np.floating[Any]:
    """``value`` as float32 when that is exact (faster loop), else float64."""
    as_f32 = np.float32(value)
    return as_f32 if float(as_f32) == float(value) else np.float64(value)


def store_frame(dst: npt.NDArray[Any], stored: npt.NDArray[Any], frame: FrameHeader) -> None:
    """Write ``stored`` values of ``frame`` into ``dst`` as HU (slope and intercept applied).

    ``stored`` may be ``dst`` itself viewed as the stored dtype (the file was read straight
    into the output). Bits above BitsStored are cleared (unsigned) or sign-extended (signed)
    first, in place. For an int16 output the rescale is done in 16-bit modular arithmetic on
    the bit patterns, in place and without wider temporaries: it is exact because the HU
    values are known (from the header) or checked (one reduction) to fit int16; otherwise
    :class:`NeedsFloat` is raised and the stack is read again as float32.
    """
    if not stored.dtype.isnative:  # big endian, decoded by pydicom: bit patterns in our order
        stored = stored.astype(stored.dtype.newbyteorder("="))
    _fix_unused_bits(stored, frame.bits_stored, frame.signed)
    if dst.dtype == np.int16:
        if not rescale_fits_int16(frame):
            _check_fits_int16(stored, frame)
        slope, intercept = int(frame.slope), int(frame.intercept)
        bits = dst.view(np.uint16)
        if stored.dtype.itemsize == 2:
            source = stored.view(np.uint16)
        else:
            # 8- or 32-bit stored values: their low 16 bits are all the modular sum needs.
            np.copyto(bits, stored, casting="unsafe")
            source = bits
        if slope != 1:
            np.multiply(source, np.uint16(slope & 0xFFFF), out=bits)
            source = bits
        if intercept:
            np.add(source, np.uint16(intercept & 0xFFFF), out=bits)
            source = bits
        if not np.may_share_memory(source, bits):
            np.copyto(bits, source)
        return
    # float32 output: one pass from the stored values into the output, a second for the
    # intercept only when the slope needed the first.
    slope_f, intercept_f = _scalar(frame.slope), _scalar(frame.intercept)
    if frame.slope != 1:
        np.multiply(stored, slope_f, out=dst, casting="unsafe")
        if frame.intercept:
            np.add(dst, intercept_f, out=dst, casting="unsafe")
    elif frame.intercept:
        np.add(stored, intercept_f, out=dst, casting="unsafe")
    elif not np.may_share_memory(dst, stored):
        np.copyto(dst, stored, casting="unsafe")


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


def _read_native_into(
    read_at: ReadAt,
    frame: FrameHeader,
    dst: npt.NDArray[Any],
    scratch: npt.NDArray[Any] | None = None,
) -> None:
    """Read one uncompressed LE frame into ``dst`` (HU) with ``read_at(buffer, offset)``.

    When the stored values are as wide as the output (16-bit stored into int16, signed or
    not), the file is read straight into ``dst`` and rescaled there in place. Otherwise the
    frame goes through ``scratch`` (a reusable buffer of the stored dtype and frame shape, or
    None to allocate one).
    """
    assert frame.pixel_offset is not None
    stored_dt = _stored_dtype(frame)
    if dst.dtype.itemsize == stored_dt.itemsize and dst.dtype.kind in "iu":
        buf = dst.view(stored_dt)
    elif scratch is not None and scratch.dtype == stored_dt and scratch.shape == dst.shape:
        buf = scratch
    else:
        buf = np.empty((frame.rows, frame.columns), dtype=stored_dt)
    got = read_at(memoryview(buf).cast("B"), frame.pixel_offset)  # type: ignore[arg-type]
    if got != frame.frame_bytes:
        raise ValueError("pixel data ended early")
    store_frame(dst, buf, frame)


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


def free_cores(cpus: int | None = None, load: float | None = None) -> int:
    """Cores not busy with other work: ``cpus`` minus the one-minute load average, rounded, at
    least 1 (``cpus`` and ``load`` default to this machine's). A decode pool only pays on free
    cores: on a machine already doing other work it was measured slower than one process, so
    a busy machine gets one worker, i.e. no pool."""
    cpus = cpus if cpus is not None else (os.cpu_count() or 1)
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):  # not on every platform (Windows)
            load = 0.0
    return max(1, min(cpus, int(cpus - load + 0.5)))


class WorkerPool:
    """Decode worker processes that a load can start early, while it still reads headers.

    Starting the processes (and, on the first load of a session, the fork server that imports
    the decoders once for all of them) overlaps the header pass; :func:`read_stack` then uses
    the running pool. Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, workers: int | None = None) -> None:
        # one process per free core (:func:`free_cores`); 1 means no pool
        self.workers = workers if workers is not None else free_cores()
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

    _read_native_files(native, src, failures, cancel, tick)

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


NativeFiles = list[tuple[Source, list[tuple[int, FrameHeader]]]]

#: Read uncompressed series of at least this many files with two threads (the reads and the
#: numpy passes release the GIL, so the page-cache copy of one file overlaps the other's).
THREAD_MIN_FILES = 32


def _read_native_files(
    native: NativeFiles,
    src: npt.NDArray[Any],
    failures: list[FrameFailure],
    cancel: CancelToken | None,
    tick: Callable[[int], None],
) -> None:
    """Read every uncompressed file into ``src``: half in a helper thread when worthwhile.

    Progress is reported from the calling thread only (it includes the helper's count).
    """
    if len(native) < THREAD_MIN_FILES or (os.cpu_count() or 1) < 2:
        _read_native_part(native, src, failures, cancel, tick, threading.Event())
        return
    half = len(native) // 2
    helper_done = [0]
    stop = threading.Event()

    def count_helper(n: int) -> None:
        helper_done[0] += n

    reported = 0

    def tick_both(n: int) -> None:
        nonlocal reported
        seen = helper_done[0]
        tick(n + seen - reported)
        reported = seen

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pixels") as helper:
        future = helper.submit(
            _read_native_part, native[half:], src, failures, cancel, count_helper, stop
        )
        try:
            _read_native_part(native[:half], src, failures, cancel, tick_both, stop)
        except BaseException:
            stop.set()
            raise
        finally:
            wait([future])
        future.result()  # NeedsFloat or Cancelled from the helper
    tick_both(0)


def _read_native_part(
    native: NativeFiles,
    src: npt.NDArray[Any],
    failures: list[FrameFailure],
    cancel: CancelToken | None,
    tick: Callable[[int], None],
    stop: threading.Event,
) -> None:
    """Read ``native`` files into ``src`` in this thread, with its own slice buffers."""
    _, rows, cols = src.shape
    scratch: dict[np.dtype[Any], npt.NDArray[Any]] = {}

    def scratch_for(frame: FrameHeader) -> npt.NDArray[Any] | None:
        """One reusable stored-value buffer per dtype, for frames not read into ``src``."""
        stored_dt = _stored_dtype(frame)
        same_width = src.dtype.kind in "iu" and src.dtype.itemsize == stored_dt.itemsize
        if same_width or (frame.rows, frame.columns) != (rows, cols):
            return None
        if stored_dt not in scratch:
            scratch[stored_dt] = np.empty((rows, cols), dtype=stored_dt)
        return scratch[stored_dt]

    for source, items in native:
        check(cancel)
        if stop.is_set():
            return
        try:
            if source.member is None and hasattr(os, "preadv"):
                fd = os.open(source.path, os.O_RDONLY)
                try:
                    read_at = _fd_reader(fd)
                    for k, frame in items:
                        _read_native_into(read_at, frame, src[k], scratch_for(frame))
                finally:
                    os.close(fd)
            elif source.member is None:
                with source.path.open("rb", buffering=0) as f:
                    for k, frame in items:
                        _read_native_into(_file_reader(f), frame, src[k], scratch_for(frame))
            else:
                import io

                with io.BytesIO(source.read_bytes()) as mem:
                    for k, frame in items:
                        _read_native_into(_file_reader(mem), frame, src[k], scratch_for(frame))
        except NeedsFloat:
            raise
        except Exception as exc:
            failures.extend((frame, f"unreadable pixels ({describe(exc)})") for _, frame in items)
        tick(len(items))


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
