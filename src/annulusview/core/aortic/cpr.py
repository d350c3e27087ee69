"""A straightened (curved planar) view of the root along its lumen centreline (issue 12).

The centreline is tracked through the contrast lumen from the annulus centre ``O`` twice: up
along ``n`` into the ascending aorta and down along ``-n`` into the LVOT, each until the lumen is
lost or widens into a chamber (:func:`annulusview.core.aortic.centreline.track_centreline`, the
tracker the landmark proposal uses). The two halves joined run from the LVOT to the ascending
aorta. The straightened image samples the volume along that path: one row per ``pixel_mm`` of
arc length, the columns across the path along a rotation-minimising lateral axis (parallel
transport of the annulus frame's ``u``), so a curved root reads as a straight tube whose width
is the lumen's width at each level, and a reader can follow the LVOT, annulus, sinus and STJ on
one picture. Geometry only: no number is measured on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from annulusview.core.aortic.centreline import track_centreline
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.root_lumen import blood_pool
from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.progress import CancelToken
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

#: How far the centreline is followed each way from the annulus, mm.
UP_MM = 90.0
DOWN_MM = 40.0
#: At least this much of centreline (mm) makes a picture worth showing.
MIN_LENGTH_MM = 20.0


@dataclass(frozen=True, eq=False)
class Straightened:
    """A straightened view.

    Attributes
    ----------
    image
        ``[row, column]`` HU; row 0 at the ascending-aorta end (the aorta up, as in the LVOT
        long-axis view), one row per ``pixel_mm`` of arc length.
    path_lps
        The centreline resampled at ``pixel_mm`` (row order), ``(rows, 3)`` LPS mm.
    lateral_lps
        The lateral (column) axis at each row, unit, ``(rows, 3)``.
    pixel_mm
        Row and column spacing, mm.
    h_mm
        Height of each row's centreline point above the annular plane, mm.
    """

    image: FloatArray
    path_lps: FloatArray
    lateral_lps: FloatArray
    pixel_mm: float
    h_mm: FloatArray

    def row_at_height(self, h_mm: float) -> int | None:
        """The row whose centreline point lies nearest the plane ``h = h_mm`` (None when the
        path does not reach that height)."""
        if not (self.h_mm.min() <= h_mm <= self.h_mm.max()):
            return None
        return int(np.argmin(np.abs(self.h_mm - h_mm)))


def root_centreline(
    volume: Volume,
    frame: AnnulusFrame,
    rules: Rules | None = None,
    cancel: CancelToken | None = None,
) -> FloatArray:
    """The lumen centreline through ``O``, from the LVOT up to the ascending aorta, ``(N, 3)``.

    Raises
    ------
    InputError
        No contrast blood pool (a non-contrast scan), or the lumen cannot be followed for
        :data:`MIN_LENGTH_MM` from the annulus.
    """
    pool = blood_pool(volume, coerce_rules(rules))
    n = np.asarray(frame.normal_lps, dtype=np.float64)
    origin = np.asarray(frame.origin_lps, dtype=np.float64)
    up = track_centreline(volume, pool, origin, n, UP_MM, cancel)
    down = track_centreline(volume, pool, origin, -n, DOWN_MM, cancel)
    # from the LVOT end up through O into the aorta
    points = [s.centre for s in reversed(down)] + [s.centre for s in up[1:]]
    if len(points) < 2 or _length(np.asarray(points)) < MIN_LENGTH_MM:
        raise InputError(
            "The contrast lumen could not be followed from the annulus centre: no straightened "
            "view.",
            "Check the hinge landmarks (the annulus centre must lie in the contrast lumen).",
        )
    return np.asarray(points, dtype=np.float64)


def _length(points: FloatArray) -> float:
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1).sum())


def resample_path(points: FloatArray, step_mm: float) -> FloatArray:
    """The polyline ``points`` resampled every ``step_mm`` of arc length (ends kept)."""
    pts = np.asarray(points, dtype=np.float64)
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    arc = np.concatenate([[0.0], np.cumsum(seg)])
    at = np.arange(0.0, arc[-1] + 1e-9, step_mm)
    return np.stack([np.interp(at, arc, pts[:, k]) for k in range(3)], axis=1)


def straighten(
    volume: Volume,
    path_lps: FloatArray,
    frame: AnnulusFrame,
    half_width_mm: float = 25.0,
    pixel_mm: float = 0.5,
    smooth_mm: float = 3.0,
) -> Straightened:
    """Sample the volume along ``path_lps`` (from the LVOT to the aorta) into a straightened
    image, the aorta at the top.

    The path is resampled every ``pixel_mm`` and smoothed (Gaussian, ``smooth_mm``) so that the
    tracker's steps do not shear the picture; the lateral axis starts as ``u`` of the annulus
    frame and is carried along by parallel transport (the component along each new tangent
    removed), so it never twists about the path.
    """
    path = resample_path(path_lps, pixel_mm)
    if len(path) < 3:
        raise InputError("The centreline is too short for a straightened view.")
    sigma = max(smooth_mm / pixel_mm, 0.0)
    smooth = ndimage.gaussian_filter1d(path, sigma, axis=0, mode="nearest") if sigma else path
    tangent = np.gradient(smooth, axis=0)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    lateral = np.empty_like(tangent)
    v = np.asarray(frame.u_lps, dtype=np.float64)
    for i, t in enumerate(tangent):
        v = v - (v @ t) * t
        norm = np.linalg.norm(v)
        if norm < 1e-6:  # the hint along the path: any perpendicular will do
            v = np.cross(t, [1.0, 0.0, 0.0])
            norm = np.linalg.norm(v)
        v = v / norm
        lateral[i] = v
    across = np.arange(-half_width_mm, half_width_mm + 1e-9, pixel_mm)
    pts = smooth[:, None, :] + across[None, :, None] * lateral[:, None, :]
    ijk = volume.lps_to_index(pts.reshape(-1, 3))
    values = ndimage.map_coordinates(
        np.asarray(volume.hu), ijk[:, ::-1].T, order=1, mode="constant", cval=-1024.0
    ).reshape(pts.shape[:2])
    h = (smooth - np.asarray(frame.origin_lps)) @ np.asarray(frame.normal_lps)
    # rows from the aorta down (the path runs LVOT -> aorta)
    return Straightened(
        image=np.ascontiguousarray(values[::-1]),
        path_lps=smooth[::-1].copy(),
        lateral_lps=lateral[::-1].copy(),
        pixel_mm=pixel_mm,
        h_mm=h[::-1].copy(),
    )
