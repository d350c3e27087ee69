"""Small pieces shared by the mitral analysis (MAC) and the neo-LVOT prediction.

Both work on a voxel crop around the mitral annulus or the LVOT, never on the whole volume:
:class:`VoxelCrop` maps between crop indices ``[k, j, i]`` and LPS millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annulusview.core.arrays import FloatArray, IntArray
from annulusview.core.errors import AnnulusViewError
from annulusview.core.volume import Volume


class NotAssessed(AnnulusViewError):
    """A mitral measurement cannot be made from these inputs.

    It is never shown as an error: :func:`annulusview.core.mitral.analyze_mitral` records the
    message as the ``not_assessed`` reason and the rest of the analysis goes on.
    """


def unit(vector: npt.ArrayLike) -> FloatArray:
    """``vector / |vector|`` as float64; raises ValueError for a zero vector."""
    arr = np.asarray(vector, dtype=np.float64).reshape(3)
    norm = float(np.linalg.norm(arr))
    if norm < 1e-12:
        raise ValueError("zero-length direction")
    return arr / norm


def perpendicular_basis(normal: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Two unit vectors ``(u, v)`` with ``u, v, normal`` right-handed and orthonormal."""
    n = unit(normal)
    helper = np.eye(3)[int(np.argmin(np.abs(n)))]  # the LPS axis least parallel to n
    u = unit(helper - float(helper @ n) * n)
    return u, np.cross(n, u)


@dataclass(frozen=True)
class VoxelCrop:
    """A box of voxels ``volume.hu[k0:k1, j0:j1, i0:i1]`` with its geometry.

    Attributes
    ----------
    start
        ``(k0, j0, i0)``, first voxel of the box in the volume.
    stop
        ``(k1, j1, i1)``, one past the last voxel.
    """

    start: tuple[int, int, int]
    stop: tuple[int, int, int]

    @classmethod
    def around(cls, volume: Volume, points_lps: npt.ArrayLike, margin_mm: float) -> VoxelCrop:
        """The smallest box holding every point padded by ``margin_mm``, clipped to the volume.

        The padding is applied to the LPS bounding box before mapping its eight corners to
        voxel indices, so an oblique or sheared affine still gets a box that holds the padding.
        """
        pts = np.asarray(points_lps, dtype=np.float64).reshape(-1, 3)
        lo = pts.min(axis=0) - margin_mm
        hi = pts.max(axis=0) + margin_mm
        corners = np.array(
            [[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])]
        )
        ijk = volume.lps_to_index(corners)
        kji_lo = np.floor(ijk.min(axis=0))[::-1]
        kji_hi = np.ceil(ijk.max(axis=0))[::-1] + 1
        shape = np.array(volume.shape)
        start = np.clip(kji_lo, 0, shape).astype(int)
        stop = np.clip(kji_hi, 0, shape).astype(int)
        stop = np.maximum(stop, start)
        return cls(
            (int(start[0]), int(start[1]), int(start[2])),
            (int(stop[0]), int(stop[1]), int(stop[2])),
        )

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return (
            slice(self.start[0], self.stop[0]),
            slice(self.start[1], self.stop[1]),
            slice(self.start[2], self.stop[2]),
        )

    @property
    def shape(self) -> tuple[int, int, int]:
        return (
            self.stop[0] - self.start[0],
            self.stop[1] - self.start[1],
            self.stop[2] - self.start[2],
        )

    @property
    def empty(self) -> bool:
        return min(self.shape) <= 0

    def kji_to_lps(self, volume: Volume, kji: npt.ArrayLike) -> FloatArray:
        """LPS mm of ``(..., 3)`` crop indices ``(k, j, i)``."""
        arr = np.asarray(kji, dtype=np.float64) + np.asarray(self.start, dtype=np.float64)
        return volume.index_to_lps(arr[..., ::-1])

    def lps_to_kji(self, volume: Volume, lps: npt.ArrayLike) -> FloatArray:
        """Fractional crop indices ``(..., 3)`` ``(k, j, i)`` of LPS positions."""
        ijk = volume.lps_to_index(lps)
        return ijk[..., ::-1] - np.asarray(self.start, dtype=np.float64)

    def touches_edge(self, kji: IntArray, volume: Volume) -> bool:
        """True when any of the crop indices lies on a face of the crop that is not also a
        face of the volume (a component cut there may continue outside the crop)."""
        if kji.size == 0:
            return False
        shape = volume.shape
        for axis in range(3):
            lo_cut = self.start[axis] > 0
            hi_cut = self.stop[axis] < shape[axis]
            if lo_cut and bool(np.any(kji[:, axis] == 0)):
                return True
            if hi_cut and bool(np.any(kji[:, axis] == self.shape[axis] - 1)):
                return True
        return False


def median_hu_in_sphere(volume: Volume, centre_lps: FloatArray, radius_mm: float) -> float | None:
    """Median HU of the voxels whose centres lie within ``radius_mm`` of ``centre_lps``.

    Returns None when no voxel centre falls inside (the sphere is outside the volume).
    """
    crop = VoxelCrop.around(volume, centre_lps, radius_mm)
    if crop.empty:
        return None
    kji = np.indices(crop.shape).reshape(3, -1).T
    lps = crop.kji_to_lps(volume, kji)
    inside = np.linalg.norm(lps - centre_lps, axis=1) <= radius_mm
    if not np.any(inside):
        return None
    values = volume.hu[crop.slices].reshape(-1)[inside]
    return float(np.median(values))


def points_inside(
    volume: Volume, points_lps: npt.ArrayLike, margin_voxels: float = 0.0
) -> npt.NDArray[np.bool_]:
    """Vectorised :meth:`Volume.contains_lps` for ``(N, 3)`` LPS points (one inverse)."""
    ijk = volume.lps_to_index(np.asarray(points_lps, dtype=np.float64).reshape(-1, 3))
    upper = np.array(volume.shape[::-1], dtype=np.float64) - 1 + margin_voxels
    result: npt.NDArray[np.bool_] = np.all((ijk >= -margin_voxels) & (ijk <= upper), axis=1)
    return result


def inside_cylinder(
    points_lps: FloatArray,
    base_lps: FloatArray,
    axis_unit: FloatArray,
    height_mm: float,
    radius_mm: float,
) -> npt.NDArray[np.bool_]:
    """True for points inside the solid cylinder from ``base`` along ``axis`` (closed)."""
    rel = points_lps - base_lps
    along = rel @ axis_unit
    radial = rel - along[..., None] * axis_unit
    dist2 = np.einsum("...i,...i->...", radial, radial)
    result: npt.NDArray[np.bool_] = (along >= 0.0) & (along <= height_mm) & (dist2 <= radius_mm**2)
    return result


def round_opt(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


def round_list(arr: npt.ArrayLike, digits: int = 2) -> list[float]:
    return [round(float(v), digits) for v in np.asarray(arr).reshape(-1)]
