"""Plane geometry the viewers need: orthogonal and oblique reformats, C-arm angles.

Pure numpy/scipy so that it runs headless and is tested without a window. Positions are LPS mm;
voxel arrays are indexed ``[k, j, i]`` as in :class:`~annulusview.core.volume.Volume`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.arrays import FloatArray
from annulusview.core.volume import Volume

ViewName = Literal["axial", "coronal", "sagittal"]

# Screen directions in LPS for each orthogonal view (radiological convention):
# axial is seen from the feet (patient right on screen left, anterior up), coronal from the front
# (patient right on screen left, head up), sagittal from the patient's left (anterior on screen
# left, head up). Each entry: (screen right, screen down).
_SCREEN_AXES: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "axial": ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
    "coronal": ((1.0, 0.0, 0.0), (0.0, 0.0, -1.0)),
    "sagittal": ((0.0, 1.0, 0.0), (0.0, 0.0, -1.0)),
}
_LETTERS = {0: ("R", "L"), 1: ("A", "P"), 2: ("I", "S")}  # (negative, positive) per LPS axis


@dataclass(frozen=True)
class SliceAxes:
    """How an orthogonal view maps onto the voxel array.

    Attributes
    ----------
    slice_axis
        Array axis (0 = k, 1 = j, 2 = i) the view steps through.
    row_axis, col_axis
        Array axes shown down and across the screen.
    row_flip, col_flip
        True when the array axis runs against the screen direction.
    row_mm, col_mm
        Pixel spacing along screen rows (height) and columns (width), mm.
    """

    slice_axis: int
    row_axis: int
    col_axis: int
    row_flip: bool
    col_flip: bool
    row_mm: float
    col_mm: float


def _array_axis_vectors(affine: FloatArray) -> FloatArray:
    """Unit LPS direction of each array axis ``(k, j, i)``, rows of a 3x3 matrix."""
    steps = np.asarray(affine, dtype=np.float64)[:3, :3]  # columns: i, j, k steps
    vecs = np.stack([steps[:, 2], steps[:, 1], steps[:, 0]])
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


def slice_axes(volume: Volume, view: ViewName) -> SliceAxes:
    """Work out which array axes a view shows and whether to flip them.

    The array axis closest to each screen direction is chosen, so any acquisition orientation
    (feet-first, flipped rows, coronal acquisitions) displays with the same patient orientation.
    """
    vecs = _array_axis_vectors(volume.affine)
    right, down = (np.asarray(a) for a in _SCREEN_AXES[view])
    col_axis = int(np.argmax(np.abs(vecs @ right)))
    remaining = [a for a in range(3) if a != col_axis]
    row_axis = max(remaining, key=lambda a: abs(float(vecs[a] @ down)))
    slice_axis = next(a for a in range(3) if a not in (col_axis, row_axis))
    spacing = volume.spacing_mm  # (k, j, i)
    return SliceAxes(
        slice_axis=slice_axis,
        row_axis=row_axis,
        col_axis=col_axis,
        row_flip=bool(vecs[row_axis] @ down < 0),
        col_flip=bool(vecs[col_axis] @ right < 0),
        row_mm=float(spacing[row_axis]),
        col_mm=float(spacing[col_axis]),
    )


def orthogonal_slice(volume: Volume, view: ViewName, index: int) -> npt.NDArray[Any]:
    """The 2-D image of one orthogonal view, rows down and columns right on screen.

    Parameters
    ----------
    volume
        The CT volume.
    view
        ``"axial"``, ``"coronal"`` or ``"sagittal"``.
    index
        Index along the view's slice axis (clipped to the volume).
    """
    ax = slice_axes(volume, view)
    n = volume.hu.shape[ax.slice_axis]
    index = int(np.clip(index, 0, n - 1))
    img = np.take(volume.hu, index, axis=ax.slice_axis)
    # remaining axes are in increasing order; put rows first
    rest = [a for a in range(3) if a != ax.slice_axis]
    if rest.index(ax.row_axis) != 0:
        img = img.T
    if ax.row_flip:
        img = img[::-1, :]
    if ax.col_flip:
        img = img[:, ::-1]
    return img


def screen_to_index(
    volume: Volume, view: ViewName, slice_index: float, row: float, col: float
) -> FloatArray:
    """Voxel index ``(i, j, k)`` of a screen pixel ``(row, col)`` of an orthogonal view."""
    ax = slice_axes(volume, view)
    shape = volume.hu.shape
    kji = np.zeros(3)
    kji[ax.slice_axis] = slice_index
    kji[ax.row_axis] = (shape[ax.row_axis] - 1 - row) if ax.row_flip else row
    kji[ax.col_axis] = (shape[ax.col_axis] - 1 - col) if ax.col_flip else col
    return kji[::-1].copy()


def index_to_screen(
    volume: Volume, view: ViewName, ijk: npt.ArrayLike
) -> tuple[float, float, float]:
    """``(slice_index, row, col)`` of voxel index ``(i, j, k)`` in an orthogonal view."""
    ax = slice_axes(volume, view)
    kji = np.asarray(ijk, dtype=np.float64)[::-1]
    shape = volume.hu.shape
    row = kji[ax.row_axis]
    col = kji[ax.col_axis]
    if ax.row_flip:
        row = shape[ax.row_axis] - 1 - row
    if ax.col_flip:
        col = shape[ax.col_axis] - 1 - col
    return float(kji[ax.slice_axis]), float(row), float(col)


def orientation_labels(volume: Volume, view: ViewName) -> dict[str, str]:
    """Patient-direction letters at the four screen edges: keys left, right, top, bottom."""
    vecs = _array_axis_vectors(volume.affine)
    ax = slice_axes(volume, view)
    col_dir = vecs[ax.col_axis] * (-1.0 if ax.col_flip else 1.0)
    row_dir = vecs[ax.row_axis] * (-1.0 if ax.row_flip else 1.0)

    def letter(direction: FloatArray) -> str:
        axis = int(np.argmax(np.abs(direction)))
        return _LETTERS[axis][1 if direction[axis] > 0 else 0]

    return {
        "right": letter(col_dir),
        "left": letter(-col_dir),
        "bottom": letter(row_dir),
        "top": letter(-row_dir),
    }


def oblique_slice(
    volume: Volume,
    origin_lps: npt.ArrayLike,
    right_lps: npt.ArrayLike,
    down_lps: npt.ArrayLike,
    size_mm: float = 60.0,
    pixel_mm: float = 0.25,
    fill_hu: float = -1024.0,
) -> npt.NDArray[np.float32]:
    """Resample the plane through ``origin_lps`` spanned by ``right_lps`` and ``down_lps``.

    Parameters
    ----------
    volume
        The CT volume.
    origin_lps
        Plane centre (LPS mm); it lands in the middle of the image.
    right_lps, down_lps
        Screen-right and screen-down directions (orthonormalised here).
    size_mm
        Edge length of the square image, mm.
    pixel_mm
        Pixel size, mm.
    fill_hu
        Value outside the volume.

    Returns
    -------
    numpy.ndarray
        ``(n, n)`` float32 image, trilinear interpolation; pixel ``(r, c)`` sits at
        ``origin + (c - (n-1)/2) * pixel_mm * right + (r - (n-1)/2) * pixel_mm * down``.
    """
    right, down = orthonormal_pair(right_lps, down_lps)
    n = max(2, round(size_mm / pixel_mm))
    offsets = (np.arange(n, dtype=np.float64) - (n - 1) / 2.0) * pixel_mm
    origin = np.asarray(origin_lps, dtype=np.float64)
    pts = (
        origin[None, None, :]
        + offsets[None, :, None] * right[None, None, :]
        + offsets[:, None, None] * down[None, None, :]
    )
    ijk = volume.lps_to_index(pts.reshape(-1, 3))
    coords = ijk[:, ::-1].T  # k, j, i
    # no astype on the whole volume: a float copy of a 512x512x320 study costs ~0.5 s
    out = ndimage.map_coordinates(
        volume.hu, coords, order=1, cval=fill_hu, mode="constant", output=np.float32
    )
    return out.reshape(n, n).astype(np.float32)


def orthonormal_pair(right: npt.ArrayLike, down: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Gram-Schmidt: unit ``right`` and the part of ``down`` orthogonal to it, normalised."""
    r = np.asarray(right, dtype=np.float64)
    r = r / np.linalg.norm(r)
    d = np.asarray(down, dtype=np.float64)
    d = d - (d @ r) * r
    norm = np.linalg.norm(d)
    if norm < 1e-9:
        raise ValueError("right and down directions are parallel")
    return r, d / norm


@dataclass(frozen=True)
class ViewPlane:
    """A 2-D view plane: centre, screen right and down (unit, LPS), field of view and pixel.

    The window's oblique views and the exported pictures both take their planes from
    :func:`view_plane`, so what is exported is what was on screen.
    """

    origin: FloatArray
    right: FloatArray
    down: FloatArray
    size_mm: float
    pixel_mm: float

    @property
    def normal(self) -> FloatArray:
        n = np.cross(self.right, self.down)
        return n / np.linalg.norm(n)

    def to_xy(self, lps: npt.ArrayLike) -> FloatArray:
        """LPS points to plane coordinates ``(x right, y up)`` mm, shape (N, 2)."""
        d = np.asarray(lps, dtype=np.float64).reshape(-1, 3) - self.origin
        return np.stack([d @ self.right, -(d @ self.down)], axis=1)


def annulus_view_plane(frame: AnnulusFrame) -> ViewPlane:
    """The annulus plane through ``O``, screen axes as close as possible to an axial view
    (patient left to the right, posterior down); the frame's ``u, v`` when the plane is
    (nearly) sagittal-coronal and the axial axes do not project."""
    n = frame.normal_lps
    try:
        right, down = orthonormal_pair(
            np.array([1.0, 0.0, 0.0]) - n[0] * n, np.array([0.0, 1.0, 0.0]) - n[1] * n
        )
    except ValueError:
        right, down = frame.u_lps, frame.v_lps
    return ViewPlane(np.asarray(frame.origin_lps), right, down, 60.0, 0.25)


def lvot_view_plane(frame: AnnulusFrame, toward_deg: float) -> ViewPlane:
    """The long-axis plane through the valve axis toward angle ``toward_deg`` (the conduction
    zone), aorta up."""
    radial = frame.to_lps(0.0, 1.0, toward_deg) - frame.origin_lps
    right, down = orthonormal_pair(radial, -frame.normal_lps)
    return ViewPlane(np.asarray(frame.origin_lps), right, down, 70.0, 0.3)


def patient_view_plane(view: str, centre: npt.ArrayLike) -> ViewPlane:
    """An axial, coronal or sagittal plane through ``centre``."""
    right, down = (np.asarray(a, dtype=np.float64) for a in _SCREEN_AXES[view])
    return ViewPlane(np.asarray(centre, dtype=np.float64), right, down, 100.0, 0.4)


def view_plane(view: str, geom: RegionGeometry | None, volume: Volume) -> ViewPlane:
    """The plane of a named view, for the window and the exported pictures alike.

    ``annulus``: the annulus plane, screen axes close to an axial view. ``lvot``: long axis
    through the valve axis and the conduction zone centre, aorta up. ``axial``/``coronal``/
    ``sagittal``: patient axes through the annulus centre (the volume centre without hinges).

    Raises
    ------
    ValueError
        ``annulus`` or ``lvot`` without a geometry (the hinge landmarks are missing).
    """
    if geom is None:
        if view in ("annulus", "lvot"):
            raise ValueError(f"the {view} view needs the hinge landmarks")
        centre = volume.index_to_lps((np.array(volume.shape[::-1]) - 1) / 2.0)
        return patient_view_plane(view, centre)
    if view == "annulus":
        return annulus_view_plane(geom.frame)
    if view == "lvot":
        return lvot_view_plane(geom.frame, geom.conduction_angle_deg)
    return patient_view_plane(view, geom.frame.origin_lps)


def carm_angles(view_direction_lps: npt.ArrayLike) -> tuple[float, float]:
    """C-arm angulation that looks along ``view_direction_lps``.

    Parameters
    ----------
    view_direction_lps
        Direction from the camera (image intensifier) toward the patient, LPS.

    Returns
    -------
    tuple of float
        ``(lao_deg, cranial_deg)``: positive LAO means the detector is on the patient's left
        (negative is RAO); positive cranial means it is tilted toward the head (negative is
        caudal). Degrees; LAO in (-180, 180], cranial in [-90, 90].
    """
    d = np.asarray(view_direction_lps, dtype=np.float64)
    d = d / np.linalg.norm(d)
    c = -d  # from the patient toward the detector
    cranial = float(np.degrees(np.arcsin(np.clip(c[2], -1.0, 1.0))))
    horizontal = np.hypot(c[0], c[1])
    lao = 0.0 if horizontal < 1e-9 else float(np.degrees(np.arctan2(c[0], -c[1])))
    return lao, cranial


def carm_direction(lao_deg: float, cranial_deg: float) -> FloatArray:
    """View direction (detector toward patient, LPS) of a C-arm angulation.

    Inverse of :func:`carm_angles`.
    """
    a, b = np.radians(lao_deg), np.radians(cranial_deg)
    c = np.array([np.sin(a) * np.cos(b), -np.cos(a) * np.cos(b), np.sin(b)])
    return -c


def format_carm(lao_deg: float, cranial_deg: float) -> str:
    """``"LAO 12° CRA 5°"`` style text."""
    side = "LAO" if lao_deg >= 0 else "RAO"
    tilt = "CRA" if cranial_deg >= 0 else "CAU"
    return f"{side} {abs(lao_deg):.0f}° {tilt} {abs(cranial_deg):.0f}°"


def window_to_uint8(image: npt.NDArray[Any], width: float, level: float) -> npt.NDArray[np.uint8]:
    """Map HU to 0-255 grey with a window ``width`` centred on ``level``."""
    lo = level - width / 2.0
    scale = 255.0 / max(width, 1e-6)
    out = (np.asarray(image, dtype=np.float32) - lo) * scale
    return np.clip(out, 0, 255).astype(np.uint8)
