"""Stack geometry from headers: slice order, affine, gaps, tilt, duplicates, resampling plan.

The affine maps ``(column i, row j, slice k, 1)`` to LPS mm:

- column 0 = row direction cosine (ImageOrientationPatient[0:3]) x column spacing
  (PixelSpacing[1]),
- column 1 = column direction cosine (ImageOrientationPatient[3:6]) x row spacing
  (PixelSpacing[0]),
- column 2 = the 3-D step between consecutive (sorted) slice positions, so a gantry tilt stays
  in the affine as a shear and every voxel's mm position is the one the scanner recorded,
- column 3 = the position of the first slice.

Slices are sorted by their position projected on the image normal (never by InstanceNumber or
SliceLocation). When the gaps between slices are not uniform (missing slices or variable
increments) the stack is resampled along the slice line by linear interpolation to a uniform
step: the smallest gap found, rounded so that the first and last slices land on the grid, but
never below a quarter of the median gap. Everything here works on headers only, so ``info``
reports the exact shape and affine :func:`~annulusview.core.io.loader.load` will return.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annulusview.core.io.headers import FrameHeader

#: Two slices closer than this along the normal are at the same position (mm).
DUPLICATE_TOLERANCE_MM = 0.01
#: Gaps within this fraction of the median gap (or 0.01 mm) count as uniform.
GAP_RELATIVE_TOLERANCE = 0.01
#: Slice positions further than this from the line through the first and last are flagged (mm).
COLLINEAR_TOLERANCE_MM = 0.05
#: A slice step further than this from the image normal is a gantry tilt (degrees).
TILT_TOLERANCE_DEG = 0.05


@dataclass(frozen=True, eq=False)
class StackPlan:
    """How to build one volume from its frames.

    Attributes
    ----------
    frames
        Frames used, sorted along the slice normal (duplicates removed).
    dropped
        Frames not used, with the reason.
    affine
        4x4 ``(i, j, k, 1)`` -> LPS mm of the output volume.
    shape
        ``(slices, rows, columns)`` of the output volume.
    resample
        None when the sorted frames are the output slices; otherwise ``(lower, weight)``: output
        slice k is ``(1 - weight[k]) * frames[lower[k]] + weight[k] * frames[lower[k] + 1]``.
    warnings
        Findings in plain words.
    dtype
        Output dtype name ('int16' or 'float32').
    """

    frames: tuple[FrameHeader, ...]
    dropped: tuple[tuple[FrameHeader, str], ...]
    affine: npt.NDArray[np.float64]
    shape: tuple[int, int, int]
    resample: tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]] | None
    warnings: tuple[str, ...]
    dtype: str

    @property
    def spacing_mm(self) -> tuple[float, float, float]:
        """``(slice increment, row, column)`` spacing in mm."""
        steps = np.linalg.norm(self.affine[:3, :3], axis=0)
        return (float(steps[2]), float(steps[1]), float(steps[0]))


def _stored_range(frame: FrameHeader) -> tuple[int, int]:
    bits = frame.bits_stored
    if frame.signed:
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def rescale_fits_int16(frame: FrameHeader) -> bool:
    """True when every stored value the header allows maps to an int16 HU exactly."""
    if not (float(frame.slope).is_integer() and float(frame.intercept).is_integer()):
        return False
    lo, hi = _stored_range(frame)
    ends = (lo * frame.slope + frame.intercept, hi * frame.slope + frame.intercept)
    return min(ends) >= -32768 and max(ends) <= 32767


def output_dtype(frames: Sequence[FrameHeader]) -> str:
    """'int16' when every frame's rescale has integer slope and intercept, else 'float32'.

    With int16, frames whose header range does not guarantee a fit are checked value by value
    while decoding; the load switches to float32 if one does not fit.
    """
    for f in frames:
        if not (float(f.slope).is_integer() and float(f.intercept).is_integer()):
            return "float32"
    return "int16"


def _fmt(v: float) -> str:
    return f"{v:.3g}" if abs(v) < 10 else f"{v:.1f}"


def plan_stack(frames: Sequence[FrameHeader], max_resampled_slices: int = 4000) -> StackPlan:
    """Sort frames, build the affine and decide on resampling, from headers only.

    Parameters
    ----------
    frames
        Frames of one stack: same orientation, size and pixel spacing.
    max_resampled_slices
        Upper bound for the slice count after resampling.
    """
    first = frames[0]
    row_dir = np.array(first.orientation[:3])
    col_dir = np.array(first.orientation[3:])
    normal = np.cross(row_dir, col_dir)
    normal /= np.linalg.norm(normal)
    warnings: list[str] = []

    positions = np.array([f.position for f in frames], dtype=np.float64)
    dist = positions @ normal
    # Stable order: position along the normal, then InstanceNumber, then file name.
    order = sorted(
        range(len(frames)),
        key=lambda n: (
            round(float(dist[n]) / DUPLICATE_TOLERANCE_MM),
            frames[n].instance_number if frames[n].instance_number is not None else 0,
            frames[n].source.display,
            frames[n].frame,
        ),
    )
    kept: list[int] = []
    dropped: list[tuple[FrameHeader, str]] = []
    for n in order:
        if kept and abs(dist[n] - dist[kept[-1]]) < DUPLICATE_TOLERANCE_MM:
            other = frames[kept[-1]]
            dropped.append(
                (frames[n], f"duplicate slice position of {other.source.display} (not used)")
            )
        else:
            kept.append(n)
    if dropped:
        warnings.append(
            f"{len(dropped)} slice(s) at a position already taken were left out "
            "(kept the lowest InstanceNumber at each position)"
        )
    sorted_frames = tuple(frames[n] for n in kept)
    pos = positions[kept]
    d = dist[kept]
    n = len(sorted_frames)

    col_step = row_dir * first.pixel_spacing[1]
    row_step = col_dir * first.pixel_spacing[0]
    resample: tuple[npt.NDArray[np.intp], npt.NDArray[np.float64]] | None = None
    n_out = n
    if n == 1:
        thickness = first.spacing_between_slices or first.slice_thickness or 1.0
        slice_step = normal * abs(thickness)
        warnings.append(
            f"single slice: a slice increment of {_fmt(abs(thickness))} mm "
            "(from the slice thickness) is assumed"
        )
    else:
        gaps = np.diff(d)
        median_gap = float(np.median(gaps))
        total = float(d[-1] - d[0])
        tol = max(0.01, GAP_RELATIVE_TOLERANCE * median_gap)
        line = pos[-1] - pos[0]
        if float(np.max(np.abs(gaps - median_gap))) <= tol:
            slice_step = line / (n - 1)
        else:
            min_gap = float(np.min(gaps))
            target = max(min_gap, median_gap / 4.0)
            n_out = min(round(total / target) + 1, max_resampled_slices)
            step_len = total / (n_out - 1)
            slice_step = line / (n_out - 1)
            targets = d[0] + step_len * np.arange(n_out)
            lower = np.clip(np.searchsorted(d, targets, side="right") - 1, 0, n - 2)
            weight = (targets - d[lower]) / (d[lower + 1] - d[lower])
            weight = np.clip(weight, 0.0, 1.0)
            resample = (lower.astype(np.intp), weight)
            multiples = gaps / min_gap
            is_missing = bool(np.all(np.abs(multiples - np.round(multiples)) * min_gap <= tol))
            if is_missing:
                missing = int(np.sum(np.round(multiples) - 1))
                where = [
                    f"{_fmt(float(d[k]))}..{_fmt(float(d[k + 1]))}"
                    for k in np.nonzero(np.round(multiples) > 1)[0][:5]
                ]
                warnings.append(
                    f"{missing} missing slice(s) (gaps at {', '.join(where)} mm along the "
                    f"normal); filled by linear interpolation between neighbours, "
                    f"{n_out} slices at {_fmt(step_len)} mm"
                )
            else:
                warnings.append(
                    f"uneven slice gaps ({_fmt(min_gap)} to {_fmt(float(np.max(gaps)))} mm): "
                    f"resampled by linear interpolation to {n_out} slices at a uniform "
                    f"{_fmt(step_len)} mm (the smallest gap) so every voxel's mm position is "
                    "true; values between original slices are interpolated"
                )
        # Positions off the first-to-last line cannot be represented by one affine.
        frac = (d - d[0]) / total if total > 0 else np.zeros_like(d)
        expected = pos[0] + frac[:, None] * line[None, :]
        off = float(np.max(np.linalg.norm(pos - expected, axis=1)))
        if off > COLLINEAR_TOLERANCE_MM:
            warnings.append(
                f"slice positions do not lie on one line (up to {_fmt(off)} mm off): "
                f"in-plane positions may be off by up to {_fmt(off)} mm"
            )
        step_len_3d = float(np.linalg.norm(slice_step))
        cos_tilt = abs(float(slice_step @ normal)) / step_len_3d if step_len_3d > 0 else 1.0
        tilt = math.degrees(math.acos(min(1.0, cos_tilt)))
        if tilt > TILT_TOLERANCE_DEG:
            warnings.append(
                f"gantry tilt of {tilt:.1f} degrees: kept as a shear in the affine "
                "(positions in mm are true; the voxel grid is not orthogonal)"
            )

    axis = int(np.argmax(np.abs(normal)))
    if axis != 2:
        plane = "sagittal" if axis == 0 else "coronal"
        warnings.append(
            f"non-axial acquisition ({plane} slices, normal "
            f"{math.degrees(math.acos(min(1.0, abs(normal[2])))):.0f} degrees from head-foot)"
        )
    rescales = {(f.slope, f.intercept) for f in sorted_frames}
    if len(rescales) > 1:
        slopes = sorted({s for s, _ in rescales})
        intercepts = sorted({i for _, i in rescales})
        warnings.append(
            f"rescale differs between slices (slopes {slopes[:4]}, intercepts {intercepts[:4]}): "
            "each slice's own rescale is applied"
        )

    affine = np.eye(4)
    affine[:3, 0] = col_step
    affine[:3, 1] = row_step
    affine[:3, 2] = slice_step
    affine[:3, 3] = pos[0]
    dtype = "float32" if resample is not None else output_dtype(sorted_frames)
    return StackPlan(
        frames=sorted_frames,
        dropped=tuple(dropped),
        affine=affine,
        shape=(n_out, first.rows, first.columns),
        resample=resample,
        warnings=tuple(warnings),
        dtype=dtype,
    )
