"""The contrast lumen of the aortic root and LVOT as a binary mask on the CT grid.

The mask is the voxel counterpart of the translucent lumen surface of the 3D view
(:mod:`annulusview.scene.lumen`), with the same rule, evaluated at the CT voxel centres
instead of a resampled grid (a DICOM Segmentation lies on the source slices):

- **Cylinder.** The analysis cylinder around the annulus frame: ``r <= R + 12`` mm (the
  recorded ``analysis_region.r_le_mm``), ``h`` from the region's bottom (-15 mm) up to
  :data:`H_TOP_MM` (+45 mm, so the STJ and the ascending plane are in).
- **Levels.** ``edge_hu <= HU < threshold_hu``: the FWHM edge of the annulus measurement
  (half-way between lumen and tissue) when it sampled one, else half the LVOT sphere's lumen
  attenuation (FWHM against water); below the calcium threshold, so calcium is not lumen.
- **Component.** The 6-connected component holding the LVOT sphere ``O - 5 n`` (where the
  lumen attenuation is sampled), else the one holding the annulus centre ``O``: the other
  bright structures in the cylinder (left atrium, coronaries beyond the wall, bone) drop out.
- **Holes.** Closed cavities of the component are filled in 3D (noise voxels below the edge
  inside the blood pool); open dark sheets such as the leaflets, which reach the wall, stay out.

Contrast CT only: without a contrast lumen there is no FWHM edge. The levels and the cylinder
are read from the analysis results by the caller
(:func:`annulusview.core.outputs.dicom.root_lumen_from_results`); numpy and scipy only.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

#: Top of the mask above the annulus plane: the STJ search ends at +40 mm and the ascending
#: aorta is measured there (the 3D view's lumen surface stops at the same height).
H_TOP_MM = 45.0
#: Fallbacks when the results lack the analysis region (old results): the rules' defaults.
DEFAULT_RADIAL_MARGIN_MM = 12.0
DEFAULT_H_BOTTOM_MM = -15.0
#: Seeds on the axis, mm above the annulus: the LVOT sphere (where the lumen HU is sampled),
#: then the annulus centre.
SEED_HEIGHTS_MM = (-5.0, 0.0)

BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class LumenCylinder:
    """The part of the annulus frame the mask covers: ``r <= r_max``, ``h_min <= h <= h_max``
    (mm)."""

    r_max_mm: float
    h_min_mm: float
    h_max_mm: float

    @classmethod
    def from_region(
        cls, analysis_region: Mapping[str, Any], annulus_radius_mm: float
    ) -> LumenCylinder:
        """The analysis cylinder of a result (``parameters["analysis_region"]``), from its
        bottom up to :data:`H_TOP_MM`; the rules' defaults where an old result lacks it. The
        3D view's lumen surface and the SEG's root segment cover the same part of the frame."""
        radius = analysis_region.get("r_le_mm")
        if radius is None:
            radius = annulus_radius_mm + DEFAULT_RADIAL_MARGIN_MM
        h_min = float(analysis_region.get("h_ge_mm", DEFAULT_H_BOTTOM_MM))
        h_max = max(H_TOP_MM, float(analysis_region.get("h_le_mm", H_TOP_MM)))
        return cls(float(radius), h_min, h_max)

    def __post_init__(self) -> None:
        if not (self.r_max_mm > 0.0 and self.h_min_mm < self.h_max_mm):
            raise ValueError(
                f"LumenCylinder: r_max_mm must be > 0 and h_min_mm < h_max_mm, got "
                f"{self.r_max_mm}, {self.h_min_mm}, {self.h_max_mm}"
            )


def _crop(
    volume: Volume, frame: AnnulusFrame, cylinder: LumenCylinder
) -> tuple[slice, slice, slice] | None:
    """The ``[k, j, i]`` slices of the volume's box around the cylinder (None if outside)."""
    r = cylinder.r_max_mm
    corners = np.array(
        [
            np.asarray(frame.origin_lps)
            + h * np.asarray(frame.normal_lps)
            + x * np.asarray(frame.u_lps)
            + y * np.asarray(frame.v_lps)
            for h in (cylinder.h_min_mm, cylinder.h_max_mm)
            for x in (-r, r)
            for y in (-r, r)
        ]
    )
    ijk = volume.lps_to_index(corners)
    lo = np.floor(ijk.min(axis=0)).astype(int) - 1
    hi = np.ceil(ijk.max(axis=0)).astype(int) + 2
    size = np.array(volume.shape[::-1])  # (i, j, k) sizes
    lo, hi = np.clip(lo, 0, size), np.clip(hi, 0, size)
    if np.any(hi <= lo):
        return None
    return (
        slice(int(lo[2]), int(hi[2])),
        slice(int(lo[1]), int(hi[1])),
        slice(int(lo[0]), int(hi[0])),
    )


def _cylindrical_grid(
    volume: Volume, frame: AnnulusFrame, box: tuple[slice, slice, slice]
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``(h, r)`` of every voxel centre of ``box``, mm (float32).

    Frame coordinates are affine in the voxel indices, so they are summed from one axis at a
    time (no ``(..., 3)`` array of positions for a large crop).
    """
    matrix = volume.affine[:3, :3]
    offset = volume.affine[:3, 3] - np.asarray(frame.origin_lps)
    axes = [np.arange(s.start, s.stop, dtype=np.float64) for s in box]  # k, j, i
    # (column of the affine, voxel indices along that axis, broadcast shape) for k, j, i
    steps = ((2, axes[0], (-1, 1, 1)), (1, axes[1], (1, -1, 1)), (0, axes[2], (1, 1, -1)))
    coords = []
    for direction in (frame.normal_lps, frame.u_lps, frame.v_lps):
        per_index = np.asarray(direction) @ matrix  # d/di, d/dj, d/dk
        total = np.float32(np.asarray(direction) @ offset)
        for column, axis, shape in steps:
            total = total + (per_index[column] * axis).astype(np.float32).reshape(shape)
        coords.append(np.asarray(total, dtype=np.float32))
    h, x, y = coords
    return h, np.hypot(x, y)


def root_lumen_mask(
    volume: Volume,
    frame: AnnulusFrame,
    edge_hu: float,
    threshold_hu: float,
    cylinder: LumenCylinder,
) -> tuple[BoolArray | None, str]:
    """The aortic root and LVOT contrast lumen as a ``[k, j, i]`` mask of ``volume``.

    Parameters
    ----------
    volume
        The analysed contrast CT (HU).
    frame
        The annulus frame (origin ``O``, axis ``n``).
    edge_hu
        The FWHM lumen edge, HU: voxels at or above it are lumen.
    threshold_hu
        The calcium threshold, HU: voxels at or above it are calcium, not lumen.
    cylinder
        The part of the frame the mask covers.

    Returns
    -------
    mask, reason
        The boolean mask (the volume's shape) and a one-line description of the rule used; or
        None and why there is no lumen (the cylinder outside the volume, no lumen at the
        seeds). Never raises for those.
    """
    box = _crop(volume, frame, cylinder)
    if box is None:
        return None, "the analysis cylinder lies outside the volume"
    k0, j0, i0 = (s.start for s in box)
    h, r = _cylindrical_grid(volume, frame, box)
    hu = np.asarray(volume.hu[box])
    inside = (
        (r <= cylinder.r_max_mm)
        & (h >= cylinder.h_min_mm)
        & (h <= cylinder.h_max_mm)
        & (hu >= edge_hu)
        & (hu < threshold_hu)
    )
    labels, count = ndimage.label(inside)
    keep: BoolArray | None = None
    for h_seed in SEED_HEIGHTS_MM:
        seed_lps = np.asarray(frame.origin_lps) + h_seed * np.asarray(frame.normal_lps)
        i, j, k = np.rint(volume.lps_to_index(seed_lps)).astype(int)
        at = (k - k0, j - j0, i - i0)
        if count and all(0 <= a < n for a, n in zip(at, labels.shape, strict=True)):
            label = int(labels[at])
            if label:
                keep = labels == label
                break
    if keep is None:
        return None, "no contrast lumen at the LVOT sphere or the annulus centre"
    keep = ndimage.binary_fill_holes(keep)
    mask = np.zeros(volume.shape, dtype=bool)
    mask[box] = keep
    reason = (
        f"contrast lumen {edge_hu:.0f} <= HU < {threshold_hu:.0f} within r <= "
        f"{cylinder.r_max_mm:.1f} mm, {cylinder.h_min_mm:.0f} <= h <= "
        f"{cylinder.h_max_mm:.0f} mm, connected to the LVOT"
    )
    log.debug("root lumen mask: %d voxels (%s)", int(keep.sum()), reason)
    return mask, reason
