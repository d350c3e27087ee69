"""Load a CT volume from a DICOM folder, a zip of DICOM files, one DICOM file or a NIfTI file.

Two passes: headers only (every file, grouped into stacks, geometry planned), then the pixels of
the chosen stack only, decoded straight into the output array. A file that cannot be used never
stops the rest: it is listed with its reason in :attr:`ScanResult.skipped`.

Which series is loaded when ``series`` is None: the CT stack with the most images (ties: more
pixels per image, then lower SeriesNumber). See :mod:`annulusview.core.io.series` for how
stacks are found and named.
"""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from annulusview.core.errors import InputError, NoSeriesError, SeriesNotFoundError
from annulusview.core.io.fastheader import not_in_series, read_native_header
from annulusview.core.io.geometry import plan_stack
from annulusview.core.io.headers import FrameHeader, HeaderRejected, read_frames
from annulusview.core.io.nifti import load_nifti, scan_nifti
from annulusview.core.io.pixels import POOL_MIN_FILES, WorkerPool, read_stack
from annulusview.core.io.series import Stack, build_stacks, nominal_phase_pct, select_stack
from annulusview.core.io.sources import describe, is_nifti, list_sources
from annulusview.core.io.types import ScanResult, SkippedFile
from annulusview.core.progress import CancelToken, ProgressCallback, check, report
from annulusview.core.volume import Volume

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike[str]


def _sub(progress: ProgressCallback | None, lo: float, hi: float) -> ProgressCallback | None:
    """A callback mapping [0, 1] onto [lo, hi] of ``progress``."""
    if progress is None:
        return None
    parent = progress

    def sub(fraction: float, text: str) -> None:
        report(parent, lo + (hi - lo) * fraction, text)

    return sub


def _existing(path: PathLike) -> Path:
    p = Path(path).expanduser()
    try:
        found = p.exists()
    except OSError as exc:  # a name longer than the file system allows, a loop of links
        raise InputError(f"{p} cannot be used: {exc.strerror or exc}.", "Check the path.") from None
    if not found:
        raise InputError(
            f"{p} does not exist.", "Give a DICOM folder, a zip of DICOM files or a NIfTI file."
        )
    return p


def _scan_stacks(
    path: Path,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    pool: WorkerPool | None = None,
    only_uid: str | None = None,
) -> tuple[list[Stack], list[SkippedFile]]:
    """Headers of every file, grouped into stacks. ``pool`` is started as soon as enough
    compressed images are seen, so its processes come up while the headers are still read.

    ``only_uid``: keep only the files of that SeriesInstanceUID; the others are told apart by
    :func:`~annulusview.core.io.fastheader.not_in_series` (their headers are not parsed) or,
    when that cannot tell, by their full header. The result then holds that series' stacks
    only, and ``skipped`` leaves out the other series' files.
    """
    sources, skipped = list_sources(path)
    coded = 0
    frames: list[FrameHeader] = []
    meta_cache: dict[str, Any] = {}
    total = len(sources)
    for n, source in enumerate(sources):
        if n % 16 == 0:
            check(cancel)
            report(progress, n / max(1, total), f"reading headers {n}/{total}")
        if only_uid is not None and not_in_series(source, only_uid):
            continue
        fast = read_native_header(source, meta_cache)
        if fast is not None:
            frames.append(fast)
            continue
        try:
            found = read_frames(source, meta_cache)
            if only_uid is not None:
                found = [f for f in found if f.series_uid == only_uid]
            frames.extend(found)
            if pool is not None and coded < POOL_MIN_FILES:
                coded += sum(1 for f in found if not f.native)
                if coded >= POOL_MIN_FILES:
                    pool.start()
        except HeaderRejected as exc:
            skipped.append(SkippedFile(source.display, str(exc)))
        except Exception as exc:  # a bad file must never stop the folder
            logger.debug("header of %s failed", source.display, exc_info=True)
            skipped.append(SkippedFile(source.display, f"unreadable header ({describe(exc)})"))
    check(cancel)
    report(progress, 1.0, f"read {total} headers")
    stacks, later = build_stacks(frames)
    return stacks, skipped + later


def no_series_error(path: Path, skipped: Sequence[SkippedFile]) -> NoSeriesError:
    reasons = Counter(s.reason.split(" (")[0] for s in skipped)
    common = "; ".join(f"{n} {r}" for r, n in reasons.most_common(3))
    found = f" ({len(skipped)} file(s) not used: {common})" if skipped else " (no files)"
    return NoSeriesError(
        f"No usable CT series in {path}{found}.",
        "Choose a folder, zip or file holding a CT DICOM series or a NIfTI volume; "
        "'annulusview info PATH' lists what was found.",
    )


def scan(
    path: PathLike,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> ScanResult:
    """List every CT series at ``path`` from headers only (no pixel decoding).

    Parameters
    ----------
    path
        A folder (searched recursively), a zip of DICOM files, one DICOM file, or a NIfTI
        volume (.nii / .nii.gz).
    progress
        Called with ``(fraction, text)`` as files are read.
    cancel
        Checked between files; raises :class:`~annulusview.core.errors.Cancelled` when set.

    Returns
    -------
    ScanResult
        Series (the default one first, with shape, spacing in mm, LPS affine and warnings) and
        the files not used, with reasons. An empty ``series`` is not an error here.
    """
    p = _existing(path)
    if p.is_file() and is_nifti(p):
        return scan_nifti(p)
    stacks, skipped = _scan_stacks(p, progress, cancel)
    return ScanResult(
        str(p), tuple(s.summary() for s in stacks), tuple(skipped), stacks=tuple(stacks)
    )


def load_scanned(
    scanned: ScanResult,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """Load one series of a finished :func:`scan` without reading any header again.

    Same result as ``load(scanned.path, series)``; the window scans first (to let the user pick
    a series) and then reads only the pixels.

    Raises
    ------
    NoSeriesError, SeriesNotFoundError
        As :func:`load`.
    """
    p = Path(scanned.path)
    if not scanned.stacks:  # NIfTI (no DICOM headers), or nothing usable was found
        if p.is_file() and is_nifti(p):
            return load_nifti(p, progress, cancel)
        raise no_series_error(p, scanned.skipped)
    stacks: list[Stack] = list(scanned.stacks)
    stack = select_stack(stacks, series)
    if stack is None:
        available = ", ".join(s.id for s in stacks)
        raise SeriesNotFoundError(
            f"Series {series} is not in {p}. Available: {available}.",
            "Pick one of the listed series ('annulusview info PATH' lists them).",
        )
    with WorkerPool() as pool:
        if sum(1 for f in stack.plan.frames if not f.native) >= POOL_MIN_FILES:
            pool.start()  # compressed images: decode in worker processes, as load() does
        return _read_volume(p, stack, stacks, series, progress, cancel, pool)


def load(
    path: PathLike,
    series: str | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Volume:
    """Load one CT series as a :class:`~annulusview.core.volume.Volume` in HU and LPS mm.

    Parameters
    ----------
    path
        A folder (searched recursively), a zip of DICOM files, one DICOM file (single- or
        multi-frame), or a NIfTI volume (.nii / .nii.gz, converted from RAS to LPS).
    series
        A series id from :func:`scan` (SeriesInstanceUID, or ``UID#n`` for one of several stacks
        under one UID; a bare UID picks its largest stack). None: the CT series with the most
        images. A named series is found without parsing the headers of the other series' files
        (the other phases of a multi-phase folder); for the same volume after a :func:`scan`,
        :func:`load_scanned` reads only the pixels.
    progress
        Called with ``(fraction, text)``.
    cancel
        Checked between files and slices; raises :class:`~annulusview.core.errors.Cancelled`.

    Returns
    -------
    Volume
        ``hu`` indexed ``[k, j, i]`` (int16 when the rescale is exact and fits, float32
        otherwise), ``affine`` mapping ``(i, j, k, 1)`` to LPS mm, geometry ``warnings``,
        header ``metadata`` and ``source_paths`` in slice order.

    Raises
    ------
    NoSeriesError
        No usable CT series at ``path``.
    SeriesNotFoundError
        ``series`` names no series found at ``path``.
    InputError
        ``path`` does not exist or a NIfTI file cannot be read.
    """
    p = _existing(path)
    if p.is_file() and is_nifti(p):
        return load_nifti(p, progress, cancel)
    with WorkerPool() as pool:
        stacks: list[Stack] = []
        if series is not None:
            # One series of a multi-phase folder: the other phases' files are not parsed.
            stacks, skipped = _scan_stacks(
                p, _sub(progress, 0.0, 0.2), cancel, pool, only_uid=series.strip().split("#")[0]
            )
            chosen = select_stack(stacks, series)
            if chosen is None or len(chosen.plan.frames) == 1:
                # Not found (or a single image, which beside larger series is a scout): scan
                # everything, for the list of series in the message and the same choice as a
                # scan of the whole folder.
                stacks = []
        if not stacks:
            stacks, skipped = _scan_stacks(p, _sub(progress, 0.0, 0.2), cancel, pool)
        if not stacks:
            raise no_series_error(p, skipped)
        stack = select_stack(stacks, series)
        if stack is None:
            available = ", ".join(s.id for s in stacks)
            raise SeriesNotFoundError(
                f"Series {series} is not in {p}. Available: {available}.",
                "Pick one of the listed series ('annulusview info PATH' lists them).",
            )
        return _read_volume(p, stack, stacks, series, progress, cancel, pool)


def _read_volume(
    path: Path,
    stack: Stack,
    stacks: Sequence[Stack],
    series: str | None,
    progress: ProgressCallback | None,
    cancel: CancelToken | None,
    pool: WorkerPool | None = None,
) -> Volume:
    plan = stack.plan
    undecodable: list[tuple[FrameHeader, str]] = []
    while True:
        hu, failures = read_stack(plan, _sub(progress, 0.2, 1.0), cancel, pool=pool)
        if not failures:
            break
        undecodable.extend(failures)
        bad = {id(f) for f, _ in failures}
        frames = [f for f in plan.frames if id(f) not in bad]
        if not frames:
            raise no_series_error(path, [SkippedFile(f.source.display, r) for f, r in undecodable])
        plan = plan_stack(frames)

    warnings = list(plan.warnings)
    if undecodable:
        files = sorted({f.source.display for f, _ in undecodable})
        warnings.append(
            f"{len(undecodable)} image(s) could not be decoded and were left out: "
            + ", ".join(Path(f).name for f in files[:5])
            + (" ..." if len(files) > 5 else "")
        )
    if series is None and len(stacks) > 1:
        others = ", ".join(s.id for s in stacks if s is not stack)
        tied = [s for s in stacks if len(s.plan.frames) == len(plan.frames)]
        why = (
            "the most images and, of those, the largest images"
            if len(tied) > 1
            else "the most images"
        )
        if len(tied) > 1 and stack.phase[0] is not None:
            why += f", then the first cardiac phase ({stack.phase[0]:g}%)"
        warnings.append(f"{len(stacks)} series found; loaded the one with {why}. Others: {others}")
    report(progress, 1.0, "loaded")
    first = plan.frames[0]
    metadata: dict[str, Any] = dict(first.meta)
    paths: dict[str, None] = {}
    for f in plan.frames:
        paths.setdefault(f.source.display, None)
    metadata.update(
        {
            "sop_instance_uids": tuple(f.sop_uid for f in plan.frames),
            "slice_thickness_mm": first.slice_thickness,
            "cardiac_phase_pct": nominal_phase_pct(plan.frames),
            "series_id": stack.id,
            "transfer_syntax_uid": first.transfer_syntax,
            "resampled": plan.resample is not None,
            "num_source_images": len(plan.frames),
            "undecodable_files": tuple(sorted({f.source.display for f, _ in undecodable})),
        }
    )
    return Volume(
        hu=hu,
        affine=plan.affine,
        series_instance_uid=stack.series_uid,
        description=stack.description,
        modality="CT",
        warnings=tuple(warnings),
        metadata=metadata,
        source_paths=tuple(paths),
    )
