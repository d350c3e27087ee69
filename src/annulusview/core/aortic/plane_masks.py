"""Binary masks on sampled planes (the root's lumen contours): disc dilation and erosion,
4-connected labels, hole filling and bounding boxes, written for the small images of one plane.

Each function returns the same pixels as its ``scipy.ndimage`` counterpart on the whole image
(the tests compare them); they are faster there because they avoid that counterpart's
per-call overhead (discs up to ``SHIFT_MAX_RADIUS`` pixels as shifted copies of the mask, one
labelling structure made once, padding by hand) or work on a bounding box only.
"""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.arrays import FloatArray


def radius_px(radius_mm: float, pixel_mm: float) -> int:
    return max(1, round(radius_mm / pixel_mm))


#: Discs up to this radius (pixels) are applied as shifted copies of the mask (29 copies for
#: radius 3); larger ones through a distance transform. Both give the same set.
SHIFT_MAX_RADIUS = 3
FOUR_CONNECTED = ndimage.generate_binary_structure(2, 1)


@functools.lru_cache(maxsize=8)
def disc_offsets(r: int) -> tuple[tuple[int, int], ...]:
    """The pixel offsets ``(dy, dx)`` of the Euclidean disc of radius ``r``: hypot <= r."""
    return tuple(
        (dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1) if dy * dy + dx * dx <= r * r
    )


def pad(mask: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.bool_]:
    """``mask`` with ``width`` pixels of background around it (``np.pad``, without its
    overhead on small images)."""
    padded = np.zeros((mask.shape[0] + 2 * width, mask.shape[1] + 2 * width), dtype=bool)
    padded[width : width + mask.shape[0], width : width + mask.shape[1]] = mask
    return padded


def label4(mask: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.int32], int]:
    """4-connected components (``ndimage.label``'s default, with the structure made once)."""
    labels, count = ndimage.label(mask, structure=FOUR_CONNECTED)
    return labels, int(count)


def shifted(mask: npt.NDArray[np.bool_], r: int, grow: bool) -> npt.NDArray[np.bool_]:
    """Dilation (``grow``) or erosion by the disc of radius ``r``, outside the image counted as
    background, as the union (intersection) of the mask shifted by every offset of the disc."""
    rows, cols = mask.shape
    padded = pad(mask, r)
    out = np.zeros_like(mask) if grow else np.ones_like(mask)
    for dy, dx in disc_offsets(r):
        part = padded[r + dy : r + dy + rows, r + dx : r + dx + cols]
        if grow:
            out |= part
        else:
            out &= part
    return out


def dilate(mask: npt.NDArray[np.bool_], r: int) -> npt.NDArray[np.bool_]:
    """Dilation by the Euclidean disc of radius ``r`` pixels (offsets with hypot <= r): the
    pixels within ``r`` of the set. Small discs by shifted copies, larger ones through one
    distance transform; exact, and much faster than ``binary_dilation`` with a large disc."""
    if r <= SHIFT_MAX_RADIUS:
        return shifted(mask, r, grow=True)
    if not mask.any():
        return mask.copy()
    return np.asarray(ndimage.distance_transform_edt(~mask) <= r)


def erode(mask: npt.NDArray[np.bool_], r: int) -> npt.NDArray[np.bool_]:
    """Erosion by the same disc, outside the image counted as background (as scipy's default
    ``border_value=0``): the pixels farther than ``r`` from any background pixel. One pixel of
    background around the image is enough: a background pixel beyond it is never nearer than
    the pixel of that ring on the way to it."""
    if r <= SHIFT_MAX_RADIUS:
        return shifted(mask, r, grow=False)
    far = ndimage.distance_transform_edt(pad(mask, 1)) > r
    return np.asarray(far[1:-1, 1:-1])


@functools.lru_cache(maxsize=8)
def radius_grid(size: int, pixel_mm: float) -> FloatArray:
    """Distance (mm) of each pixel of a ``size`` x ``size`` section from its centre (the same
    for every plane of one pixel, so computed once; read-only)."""
    axis = (np.arange(size) - (size - 1) / 2) * pixel_mm
    rr = np.hypot(axis[None, :], axis[:, None])
    rr.setflags(write=False)
    return rr


def grown_box(box: tuple[slice, slice], shape: tuple[int, ...], margin: int) -> tuple[slice, slice]:
    """A bounding box grown by ``margin`` pixels, clipped to the image."""
    rows, cols = (
        slice(max(b.start - margin, 0), min(b.stop + margin, n))
        for b, n in zip(box, shape, strict=True)
    )
    return rows, cols


def mask_box(mask: npt.NDArray[np.bool_], margin: int) -> tuple[slice, slice]:
    """The bounding box of ``mask`` grown by ``margin`` pixels (clipped)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    box = (slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1))
    return grown_box(box, mask.shape, margin)


def fill_holes(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.bool_]:
    """``ndimage.binary_fill_holes`` (4-connected background) through one labelling: the
    background components that do not touch the image border are the holes."""
    labels, count = label4(~mask)
    if count == 0:
        return mask.copy()
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    hole = np.ones(count + 1, dtype=bool)
    hole[border] = False
    hole[0] = False
    return np.asarray(mask | hole[labels])


def within(outer: tuple[slice, slice], inner: tuple[slice, slice]) -> tuple[slice, slice]:
    """``inner`` (image coordinates) relative to the box ``outer``, clipped to it."""
    rows, cols = (
        slice(max(i.start - o.start, 0), max(i.stop - o.start, 0))
        for i, o in zip(inner, outer, strict=True)
    )
    return rows, cols
