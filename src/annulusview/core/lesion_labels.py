"""The analysis's lesion labels as voxels, for meshes, 2-D outlines and DICOM SEG.

A :class:`~annulusview.core.results.Results` keeps its lesion voxels, so its labels are painted
as they are. A results *document* (a dict, e.g. read back from JSON) has none: the labels are
then recomputed exactly as the analysis defined them (clinical-model.md section 5): voxels >=
``threshold_hu`` inside the analysis cylinder, 26-connected components, each matched to the
listed lesion with the same voxel count and centroid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.volume import Volume

LabelCrop = tuple[npt.NDArray[np.int32], tuple[int, int, int]]
_EMPTY_SHAPE = (1, 1, 1)


def lesion_label_crop(volume: Volume, results: Any) -> LabelCrop:
    """Lesion ids in a box around the lesions: ``(labels[k, j, i], offset_kji)``.

    ``offset_kji`` is the volume index of ``labels[0, 0, 0]``; 0 is background.
    """
    crop = getattr(results, "lesion_label_crop", None)
    if callable(crop):
        labels, offset = crop()
        return np.asarray(labels, dtype=np.int32), (int(offset[0]), int(offset[1]), int(offset[2]))
    return _recomputed(volume, results.to_dict() if hasattr(results, "to_dict") else results)


def lesion_label_volume(volume: Volume, results: Any) -> npt.NDArray[np.int32]:
    """The same labels in an array of the volume's shape (prefer the crop: it is small)."""
    labels, (k0, j0, i0) = lesion_label_crop(volume, results)
    out = np.zeros(volume.shape, dtype=np.int32)
    nk, nj, ni = labels.shape
    out[k0 : k0 + nk, j0 : j0 + nj, i0 : i0 + ni] = labels[
        : volume.shape[0] - k0, : volume.shape[1] - j0, : volume.shape[2] - i0
    ]
    return out


def _recomputed(volume: Volume, res: dict[str, Any]) -> LabelCrop:
    """Labels of a results document, recomputed from the volume (see the module docstring)."""
    empty: LabelCrop = (np.zeros(_EMPTY_SHAPE, dtype=np.int32), (0, 0, 0))
    lesions = res.get("lesions") or []
    area = (res.get("parameters") or {}).get("analysis_region") or {}
    frame = res.get("frame") or {}
    if not lesions or not area or not frame or res.get("threshold_hu") is None:
        return empty
    origin = np.asarray(frame["origin_lps"], dtype=np.float64)
    normal = np.asarray(frame["normal_lps"], dtype=np.float64)
    lo = np.array(area["crop_lo_kji"], dtype=int)
    hi = np.array(area["crop_hi_kji"], dtype=int)
    crop = volume.hu[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
    local = np.nonzero(crop >= float(res["threshold_hu"]))
    kji = np.stack(local, axis=1) + lo
    d = volume.index_to_lps(kji[:, ::-1]) - origin
    h = d @ normal
    r = np.linalg.norm(d - h[:, None] * normal, axis=1)
    inside = (r <= float(area["r_le_mm"])) & (h >= float(area["h_ge_mm"]))
    inside &= h <= float(area["h_le_mm"])
    mask = np.zeros(crop.shape, dtype=bool)
    mask[tuple(np.asarray(local)[:, inside])] = True
    comp, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    sub = np.zeros(crop.shape, dtype=np.int32)
    offset = (int(lo[0]), int(lo[1]), int(lo[2]))
    if n == 0:
        return sub, offset
    sizes = np.bincount(comp.ravel(), minlength=n + 1)
    centres = ndimage.center_of_mass(mask, comp, range(1, n + 1))
    comp_lps = volume.index_to_lps(np.asarray(centres)[:, ::-1] + lo[::-1])
    for lesion in lesions:
        same = np.nonzero(sizes[1:] == int(lesion.get("voxel_count", -1)))[0]
        candidates = same if len(same) else np.arange(n)
        dist = np.linalg.norm(comp_lps[candidates] - np.asarray(lesion["centroid_lps"]), axis=1)
        best = int(candidates[int(np.argmin(dist))])
        if float(dist.min()) <= 2.0:
            sub[comp == best + 1] = int(lesion["id"])
    return sub, offset
