"""Calcium: contrast detection, threshold, lesions and Agatston score (section 5).

Everything works on the voxels of a crop around the annulus (the bounding box of the analysis
region, from the affine) and, past the threshold, only on the sparse voxels above it: there is
never a pass over the whole volume.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.arrays import FloatArray, IntArray
from annulusview.core.errors import InputError
from annulusview.core.rules import CONTRAST_METHODS, Rules
from annulusview.core.rules_schema import CALCIUM_THRESHOLD
from annulusview.core.volume import Volume

# 26-connectivity for 3-D lesions; 8-connectivity within each image slice for Agatston.
_STRUCTURE_3D = np.ones((3, 3, 3), dtype=bool)
_STRUCTURE_SLICE = np.zeros((3, 3, 3), dtype=bool)
_STRUCTURE_SLICE[1] = True


CONTRAST, NON_CONTRAST, INDETERMINATE = "contrast", "non_contrast", "indeterminate"


def contrast_state(lumen_hu: float | None, rules: Rules) -> tuple[str, str]:
    """``(state, reason)`` from the lumen attenuation LA (section 5): ``non_contrast`` below
    ``contrast.non_contrast_max_hu``, ``contrast`` from ``contrast.contrast_min_hu``, else
    ``indeterminate`` (no calcium may be thresholded); ``reason`` is empty unless indeterminate."""
    if lumen_hu is None:
        return INDETERMINATE, (
            "the lumen attenuation could not be sampled (the LVOT below the annulus lies outside "
            "the volume), so the scan can be neither read as non-contrast nor as a CTA."
        )
    if lumen_hu < rules.number("contrast.non_contrast_max_hu"):
        return NON_CONTRAST, ""
    if lumen_hu >= rules.number("contrast.contrast_min_hu"):
        return CONTRAST, ""
    return INDETERMINATE, (
        f"lumen attenuation {lumen_hu:.0f} HU: neither a non-contrast scan nor an adequately "
        "opacified CTA, so calcium cannot be separated from blood."
    )


def lumen_attenuation(volume: Volume, frame: AnnulusFrame, rules: Rules) -> float | None:
    """Median HU in a sphere in the LVOT just below the annulus (``O - offset * n``).

    Returns None when the sphere lies outside the volume.
    """
    sampled = lumen_sample(volume, frame, rules)
    return None if sampled is None else float(np.median(sampled))


def lumen_sample(volume: Volume, frame: AnnulusFrame, rules: Rules) -> FloatArray | None:
    """The HU values in the lumen sphere (None when it lies outside the volume)."""
    radius = rules.number("contrast.lumen_sphere_radius_mm")
    centre = frame.origin_lps - rules.number("contrast.lumen_sphere_offset_mm") * frame.normal_lps
    offsets = np.array([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]) * radius
    box = volume.lps_to_index(centre + offsets)  # (i, j, k) of the cube around the sphere
    shape = np.array(volume.shape[::-1])
    lo = np.clip(np.floor(box.min(axis=0)).astype(int), 0, shape)
    hi = np.clip(np.ceil(box.max(axis=0)).astype(int) + 1, 0, shape)
    if np.any(hi <= lo):
        return None
    i, j, k = np.meshgrid(
        np.arange(lo[0], hi[0]), np.arange(lo[1], hi[1]), np.arange(lo[2], hi[2]), indexing="ij"
    )
    ijk = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1)
    inside = np.linalg.norm(volume.index_to_lps(ijk) - centre, axis=1) <= radius
    if not inside.any():
        return None
    sel = ijk[inside]
    return np.asarray(volume.hu[sel[:, 2], sel[:, 1], sel[:, 0]], dtype=np.float64)


@dataclass(frozen=True)
class Threshold:
    """The calcium threshold used.

    Attributes
    ----------
    hu
        Threshold T, HU.
    method
        ``noncontrast_130``, ``lumen_plus_100``, ``fixed_850``, ``by_lumen_450_850`` or ``user``.
    reference
        Source of the threshold.
    """

    hu: float
    method: str
    reference: str


_THRESHOLD_REFERENCES = {
    "noncontrast_130": (
        "Agatston AS et al. Quantification of coronary artery calcium using ultrafast computed "
        "tomography. J Am Coll Cardiol 1990 (130 HU; coronary calcium, citation not verified)"
    ),
    "lumen_plus_100": (
        "Bettinger N, Khalique OK et al. J Cardiovasc Comput Tomogr 2017 (lumen attenuation + "
        "100 HU had the highest AUC, 0.81, for more than mild paravalvular regurgitation in 104 "
        "CoreValve patients)"
    ),
    "fixed_850": (
        "Jilaihawi H et al. Eur Heart J Cardiovasc Imaging 2014 (850 HU on contrast CT; "
        "SAPIEN / SAPIEN XT)"
    ),
    "by_lumen_450_850": (
        "Miccoli M et al. 2021 (450 HU if the lumen is < 300 HU, else 850 HU; derived for "
        "agreement with the Agatston score in 244 CTs, not for outcomes)"
    ),
    "user": "user-selected threshold",
}


def threshold_guard(thr: Threshold, lumen_hu: float | None, rules: Rules) -> str:
    """Why a contrast threshold is refused (empty when it is allowed): ``T <= LA + margin``
    would count contrast blood as calcium (section 5)."""
    if lumen_hu is None:
        return ""
    margin = rules.number("threshold.min_margin_above_lumen_hu")
    if thr.hu <= lumen_hu + margin:
        return (
            f"the calcium threshold {thr.hu:.0f} HU ({thr.method}) is not more than {margin:g} HU "
            f"above the lumen attenuation {lumen_hu:.0f} HU: contrast blood would be counted as "
            "calcium. Choose a higher threshold (e.g. lumen_plus_100)."
        )
    return ""


def parse_threshold_option(value: str | float | None) -> str | float | None:
    """Turn ``--threshold METHOD|HU`` into a method name or a HU number.

    Raises
    ------
    InputError
        Neither a known method nor a finite number of HU in
        [:data:`THRESHOLD_MIN_HU`, :data:`THRESHOLD_MAX_HU`].
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise InputError(f"Calcium threshold {value!r} is not a HU value or a method.")
    if isinstance(value, int | float):
        return _checked_hu(float(value), str(value))
    text = str(value).strip()
    if text in CONTRAST_METHODS:
        return text
    try:
        number = float(text)
    except ValueError:
        raise InputError(
            f"Unknown calcium threshold {text!r}.",
            f"Use one of {', '.join(CONTRAST_METHODS)} or a HU value such as 550.",
        ) from None
    return _checked_hu(number, text)


#: A user threshold below the Agatston 130 HU finds soft tissue and contrast as "calcium";
#: above 3000 HU only metal is left. Both make every calcium number silently wrong.
THRESHOLD_MIN_HU = CALCIUM_THRESHOLD.low  # the rules schema's range for every threshold key
THRESHOLD_MAX_HU = CALCIUM_THRESHOLD.high


def _checked_hu(number: float, text: str) -> float:
    if not math.isfinite(number) or not THRESHOLD_MIN_HU <= number <= THRESHOLD_MAX_HU:
        raise InputError(
            f"Calcium threshold {text[:20]} HU is outside {THRESHOLD_MIN_HU:.0f}-"
            f"{THRESHOLD_MAX_HU:.0f} HU.",
            f"Give a HU value in that range or one of {', '.join(CONTRAST_METHODS)}.",
        )
    return number


def choose_threshold(
    lumen_hu: float | None, contrast: bool, option: str | float | None, rules: Rules
) -> tuple[Threshold, tuple[str, ...]]:
    """Pick the calcium threshold T (section 5) and say why in warnings when overridden."""
    choice = parse_threshold_option(option)
    warnings: list[str] = []
    if isinstance(choice, float):
        return Threshold(choice, "user", _THRESHOLD_REFERENCES["user"]), ()
    if not contrast:
        if choice is not None:
            warnings.append(
                f"Threshold method {choice} applies to contrast CT; this study is non-contrast, "
                "so 130 HU (Agatston) is used."
            )
        hu = rules.number("threshold.noncontrast_hu")
        return Threshold(hu, "noncontrast_130", _THRESHOLD_REFERENCES["noncontrast_130"]), tuple(
            warnings
        )
    method = choice if choice is not None else rules.get("threshold.contrast_method")
    if isinstance(method, int | float):
        return Threshold(float(method), "user", _THRESHOLD_REFERENCES["user"]), ()
    la = float(lumen_hu) if lumen_hu is not None else 0.0
    if method == "lumen_plus_100":
        hu = la + rules.number("threshold.lumen_plus_offset_hu")
    elif method == "fixed_850":
        hu = rules.number("threshold.fixed_hu")
    else:
        switch = rules.number("threshold.by_lumen_switch_hu")
        hu = rules.number(
            "threshold.by_lumen_low_hu" if la < switch else "threshold.by_lumen_high_hu"
        )
    return Threshold(float(hu), str(method), _THRESHOLD_REFERENCES[str(method)]), ()


@dataclass(frozen=True, eq=False)
class AnalysisRegion:
    """The analysis cylinder and the voxel box that holds it.

    Attributes
    ----------
    frame
        The annulus frame.
    radius_mm
        ``R + radial margin``, mm.
    h_min_mm, h_max_mm
        Height range along ``n``, mm.
    lo_kji, hi_kji
        Voxel box ``[lo, hi)`` in ``(k, j, i)`` holding the cylinder, clipped to the volume.
    clipped
        True when part of the cylinder lies outside the volume.
    """

    frame: AnnulusFrame
    radius_mm: float
    h_min_mm: float
    h_max_mm: float
    lo_kji: tuple[int, int, int]
    hi_kji: tuple[int, int, int]
    clipped: bool

    @property
    def volume_mm3(self) -> float:
        """The cylinder's volume, mm^3 (inside the CT or not)."""
        return float(math.pi * self.radius_mm**2 * (self.h_max_mm - self.h_min_mm))

    @classmethod
    def around(
        cls, volume: Volume, frame: AnnulusFrame, annulus_radius_mm: float, rules: Rules
    ) -> AnalysisRegion:
        """The region ``r <= R + margin``, ``h_min <= h <= h_max`` and its voxel box."""
        radius = annulus_radius_mm + rules.number("analysis_region.radial_margin_mm")
        h_min = rules.number("analysis_region.h_min_mm")
        h_max = rules.number("analysis_region.h_max_mm")
        # Corners of the prism circumscribing the cylinder, mapped to voxel indices: an affine
        # map keeps the prism convex, so these corners bound every voxel of the cylinder.
        corners = np.array(
            [
                [a, b, c]
                for a in (-radius, radius)
                for b in (-radius, radius)
                for c in (h_min, h_max)
            ]
        )
        lps = (
            frame.origin_lps
            + corners[:, :1] * frame.u_lps
            + corners[:, 1:2] * frame.v_lps
            + corners[:, 2:] * frame.normal_lps
        )
        kji = volume.lps_to_index(lps)[:, ::-1]
        shape = np.array(volume.shape)
        lo_raw = np.floor(kji.min(axis=0)).astype(int)
        hi_raw = np.ceil(kji.max(axis=0)).astype(int) + 1
        lo = np.clip(lo_raw, 0, shape)
        hi = np.clip(hi_raw, 0, shape)
        clipped = bool(np.any(lo_raw < 0) or np.any(hi_raw > shape))
        return cls(
            frame,
            float(radius),
            h_min,
            h_max,
            (int(lo[0]), int(lo[1]), int(lo[2])),
            (int(hi[0]), int(hi[1]), int(hi[2])),
            clipped,
        )

    @property
    def slices(self) -> tuple[slice, slice, slice]:
        return tuple(slice(a, b) for a, b in zip(self.lo_kji, self.hi_kji, strict=True))  # type: ignore[return-value]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(b - a for a, b in zip(self.lo_kji, self.hi_kji, strict=True))


@dataclass(frozen=True, eq=False)
class Voxels:
    """A sparse set of voxels: indices, HU, LPS centres and frame coordinates.

    Attributes
    ----------
    kji
        Volume indices, shape (N, 3), ``(k, j, i)``.
    hu
        HU values, shape (N,).
    lps
        Voxel centres, shape (N, 3), LPS mm.
    h, r, theta
        Cylindrical frame coordinates (mm, mm, degrees).
    """

    kji: IntArray
    hu: FloatArray
    lps: FloatArray
    h: FloatArray
    r: FloatArray
    theta: FloatArray

    def __len__(self) -> int:
        return len(self.hu)

    def subset(self, keep: npt.NDArray[np.bool_] | IntArray) -> Voxels:
        return Voxels(
            self.kji[keep],
            self.hu[keep],
            self.lps[keep],
            self.h[keep],
            self.r[keep],
            self.theta[keep],
        )


def voxels_above(volume: Volume, region: AnalysisRegion, threshold_hu: float) -> Voxels:
    """Voxels of the analysis region with HU >= ``threshold_hu`` (the clipped calcium mask).

    One comparison over the crop, then only the sparse voxels above the threshold are mapped
    into the frame and tested against the cylinder.
    """
    crop = volume.hu[region.slices]
    local = np.nonzero(crop >= threshold_hu)
    kji = np.stack(local, axis=1).astype(np.intp) + np.array(region.lo_kji, dtype=np.intp)
    hu = crop[local].astype(np.float64)
    lps = volume.index_to_lps(kji[:, ::-1])
    h, r, theta = region.frame.cylindrical(lps)
    inside = (r <= region.radius_mm) & (h >= region.h_min_mm) & (h <= region.h_max_mm)
    return Voxels(kji[inside], hu[inside], lps[inside], h[inside], r[inside], theta[inside])


def label_sparse(
    kji: IntArray, structure: npt.NDArray[np.bool_] = _STRUCTURE_3D
) -> tuple[IntArray, int]:
    """Connected-component label (1..n) of each voxel of a sparse set.

    The labelling runs on the bounding box of the voxels only.
    """
    if len(kji) == 0:
        return np.zeros(0, dtype=np.intp), 0
    lo = kji.min(axis=0)
    local = kji - lo
    mask = np.zeros(tuple(local.max(axis=0) + 1), dtype=bool)
    mask[local[:, 0], local[:, 1], local[:, 2]] = True
    labels, count = ndimage.label(mask, structure=structure)
    return labels[local[:, 0], local[:, 1], local[:, 2]].astype(np.intp), int(count)


def keep_large_components(
    kji: IntArray, voxel_volume_mm3: float, min_volume_mm3: float
) -> tuple[IntArray, npt.NDArray[np.bool_]]:
    """26-connected components; those under ``min_volume_mm3`` are dropped as noise.

    Returns
    -------
    labels
        Component label of each voxel (0 for dropped voxels), renumbered 1..m by decreasing
        size (ties by first voxel) so lesion ids are stable.
    keep
        Boolean mask of kept voxels.
    """
    labels, count = label_sparse(kji)
    if count == 0:
        return labels, np.zeros(0, dtype=bool)
    sizes = np.bincount(labels, minlength=count + 1)
    sizes[0] = 0
    large = sizes * voxel_volume_mm3 >= min_volume_mm3
    large[0] = False
    old_ids = np.nonzero(large)[0]
    order = old_ids[np.argsort(-sizes[old_ids], kind="stable")]
    remap = np.zeros(count + 1, dtype=np.intp)
    remap[order] = np.arange(1, len(order) + 1)
    new = remap[labels]
    return new, new > 0


@dataclass(frozen=True)
class AgatstonComponents:
    """2-D (per image slice) calcium components that count for the Agatston score.

    Attributes
    ----------
    score
        Score of each counted component (area x weight x increment / 3 mm).
    peak_index
        Index (into the voxel set) of each component's peak voxel.
    """

    score: FloatArray
    peak_index: IntArray

    @property
    def total(self) -> float:
        return float(self.score.sum())


def agatston_components(
    voxels: Voxels, pixel_area_mm2: float, increment_mm: float, rules: Rules
) -> AgatstonComponents:
    """Agatston components of a voxel set (already restricted to a region if regional).

    Per image slice (k), 2-D 8-connected components of pixels >= 130 HU with area >= 1 mm^2,
    weighted by peak HU (130-199: 1, 200-299: 2, 300-399: 3, >= 400: 4), times the slice
    increment over 3 mm (Agatston et al., J Am Coll Cardiol 1990).
    """
    keep = voxels.hu >= rules.number("agatston.threshold_hu")
    index = np.nonzero(keep)[0]
    if len(index) == 0:
        return AgatstonComponents(np.zeros(0), np.zeros(0, dtype=np.intp))
    labels, count = label_sparse(voxels.kji[index], _STRUCTURE_SLICE)
    hu = voxels.hu[index]
    area = np.bincount(labels, minlength=count + 1) * pixel_area_mm2
    # Peak voxel per component: sort by (label, hu) and take the last of each label.
    order = np.lexsort((hu, labels))
    last = np.r_[np.nonzero(np.diff(labels[order]))[0], len(order) - 1]
    peak_local = order[last]
    comp = labels[peak_local]
    peak_hu = hu[peak_local]
    edges = np.asarray(rules.get("agatston.weight_edges_hu"), dtype=np.float64)
    weight = np.searchsorted(edges, peak_hu, side="right").astype(np.float64)
    counted = area[comp] >= rules.number("agatston.min_area_mm2")
    factor = increment_mm / rules.number("agatston.reference_increment_mm")
    score = area[comp] * weight * factor
    return AgatstonComponents(score[counted], index[peak_local[counted]])


def pixel_area_mm2(volume: Volume) -> float:
    """Area of one image pixel: |column step x row step| (correct for oblique planes)."""
    steps = volume.affine[:3, :3]
    return float(np.linalg.norm(np.cross(steps[:, 0], steps[:, 1])))


def slice_increment_mm(volume: Volume) -> float:
    """Spacing of slice positions along the image normal, mm."""
    steps = volume.affine[:3, :3]
    normal = np.cross(steps[:, 0], steps[:, 1])
    normal /= np.linalg.norm(normal)
    return float(abs(steps[:, 2] @ normal))


def slab_slices(volume: Volume, rules: Rules) -> int:
    """How many consecutive slices make one Agatston slab (1: score the slices as they are).

    The Agatston thresholds were validated on 3 mm slices: when the slice thickness (or, without
    one in the header, the increment) is under ``agatston.slab_below_thickness_mm``, slices are
    averaged in groups covering ``agatston.slab_mm`` (clinical-model.md section 5).
    """
    increment = slice_increment_mm(volume)
    thickness = volume.metadata.get("slice_thickness_mm")
    thickness = increment if thickness is None else float(thickness)
    if thickness >= rules.number("agatston.slab_below_thickness_mm") or increment <= 0:
        return 1
    return max(1, round(rules.number("agatston.slab_mm") / increment))


@dataclass(frozen=True)
class Slabs:
    """Consecutive thin slices averaged into slabs: a thick reconstruction approximated.

    Attributes
    ----------
    volume
        The slab-averaged crop (float32); its affine places each slab at its centre plane.
    per_slab
        Thin slices per slab.
    lo_kji
        Thin-volume index of the crop's first slice, row and column.
    """

    volume: Volume
    per_slab: int
    lo_kji: tuple[int, int, int]

    @classmethod
    def average(
        cls,
        volume: Volume,
        per_slab: int,
        lo_kji: tuple[int, int, int] = (0, 0, 0),
        hi_kji: tuple[int, int, int] | None = None,
    ) -> Slabs:
        """Average the box ``[lo, hi)`` of ``volume`` in groups of ``per_slab`` slices.

        The box grows (within the volume) to a whole number of slabs; slices that cannot fill a
        last slab are left out.
        """
        k_all = volume.shape[0]
        k0, j0, i0 = lo_kji
        k1, j1, i1 = volume.shape if hi_kji is None else hi_kji
        count = -(-(k1 - k0) // per_slab)
        k0 = max(0, min(k0, k_all - count * per_slab))
        count = min(count, (k_all - k0) // per_slab)
        stop = k0 + count * per_slab
        # Sum the slab's q-th slices in turn: never a float copy of the whole crop.
        averaged = np.zeros((count, j1 - j0, i1 - i0), dtype=np.float32)
        for q in range(per_slab):
            averaged += volume.hu[k0 + q : stop : per_slab, j0:j1, i0:i1]
        averaged /= per_slab
        affine = volume.affine.copy()
        affine[:3, 3] = volume.index_to_lps([i0, j0, k0 + (per_slab - 1) / 2.0])
        affine[:3, 2] = volume.affine[:3, 2] * per_slab
        metadata = dict(volume.metadata)
        metadata["slice_thickness_mm"] = per_slab * slice_increment_mm(volume)
        slab_volume = Volume(averaged, affine, metadata=metadata)
        return cls(slab_volume, per_slab, (k0, j0, i0))

    def thin_kji(self, slab_kji: IntArray) -> IntArray:
        """Thin-volume indices of the slices behind each slab voxel, shape (N, per_slab, 3)."""
        base = np.asarray(slab_kji, dtype=np.intp) * np.array([self.per_slab, 1, 1])
        base = base + np.array(self.lo_kji, dtype=np.intp)
        steps = np.zeros((self.per_slab, 3), dtype=np.intp)
        steps[:, 0] = np.arange(self.per_slab)
        return base[:, None, :] + steps[None, :, :]

    def voxels_above(
        self, threshold_hu: float, mask: npt.NDArray[np.bool_] | None = None
    ) -> Voxels:
        """Slab voxels >= ``threshold_hu`` (no frame coordinates), restricted to a thin-volume
        ``mask`` taken at each slab's centre slice (or the one just past the centre)."""
        above = self.volume.hu >= threshold_hu
        if mask is not None:
            k0, j0, i0 = self.lo_kji
            count, rows, cols = self.volume.shape
            centre = k0 + np.arange(count) * self.per_slab + self.per_slab // 2
            above &= mask[centre, j0 : j0 + rows, i0 : i0 + cols]
        kji = np.argwhere(above).astype(np.intp)
        zeros = np.zeros(len(kji))
        hu = self.volume.hu[above].astype(np.float64)
        return Voxels(kji, hu, np.zeros((len(kji), 3)), zeros, zeros, zeros)


@dataclass(frozen=True)
class ScoringSlices:
    """The voxels an Agatston score is computed on: the image's own slices, or slabs averaged
    from thin slices (section 5), with what is needed to credit components to 3-D lesions.

    Attributes
    ----------
    voxels
        Voxels at or above the Agatston threshold on the scoring slices.
    increment_mm
        Spacing of the scoring slices (the slab thickness on slabs).
    slabs
        The slabs, or None when the slices are scored as they are.
    """

    voxels: Voxels
    increment_mm: float
    slabs: Slabs | None = None

    @classmethod
    def choose(
        cls,
        volume: Volume,
        thin: Voxels,
        rules: Rules,
        on_slabs: Callable[[Slabs], Voxels],
        box: tuple[tuple[int, int, int], tuple[int, int, int]] | None = None,
    ) -> ScoringSlices:
        """``thin`` as it is, or, on slices under ``agatston.slab_below_thickness_mm``, the
        voxels ``on_slabs`` selects from the volume averaged into slabs (within ``box``,
        ``(lo_kji, hi_kji)``, when given: the crop the caller needs)."""
        increment = slice_increment_mm(volume)
        per_slab = slab_slices(volume, rules)
        if per_slab == 1:
            return cls(thin, increment)
        lo, hi = box if box is not None else ((0, 0, 0), volume.shape)
        slabs = Slabs.average(volume, per_slab, lo, hi)
        return cls(on_slabs(slabs), per_slab * increment, slabs)

    @property
    def slab_mm(self) -> float | None:
        return None if self.slabs is None else self.increment_mm

    def warning(self, volume: Volume) -> str:
        """What the user must know when the score was computed on slabs ("" otherwise)."""
        if self.slabs is None:
            return ""
        thin = volume.metadata.get("slice_thickness_mm") or slice_increment_mm(volume)
        return (
            f"Slices are {float(thin):g} mm thick: the Agatston score is computed on "
            f"{self.increment_mm:g} mm slabs averaged from {self.slabs.per_slab} consecutive "
            "slices (a 3 mm reconstruction approximated)."
        )

    def credit(
        self,
        components: AgatstonComponents,
        kji: IntArray,
        labels: IntArray,
        hu: FloatArray,
        shape: tuple[int, ...],
        count: int,
    ) -> FloatArray:
        """Score per 3-D label (index 0: uncredited): a slice component counts for the label
        holding its peak voxel; on slabs, the brightest labelled thin voxel behind the peak."""
        peaks = self.voxels.kji[components.peak_index]
        behind = peaks[:, None, :] if self.slabs is None else self.slabs.thin_kji(peaks)
        label = label_at(behind, kji, labels, hu, shape)
        return np.bincount(label, weights=components.score, minlength=count + 1).astype(np.float64)


def label_at(
    query_kji: IntArray, kji: IntArray, labels: IntArray, hu: FloatArray, shape: tuple[int, ...]
) -> IntArray:
    """For each row of candidate voxels ``query_kji`` (N, m, 3), the label of the brightest of
    them present in the labelled sparse set (``kji``, ``labels``, ``hu``); 0 when none is."""
    if len(query_kji) == 0 or len(kji) == 0:
        return np.zeros(len(query_kji), dtype=np.intp)
    strides = np.array([shape[1] * shape[2], shape[2], 1], dtype=np.int64)
    keys = kji.astype(np.int64) @ strides
    order = np.argsort(keys)
    sorted_keys = keys[order]
    query = query_kji.astype(np.int64) @ strides  # (N, m)
    pos = np.clip(np.searchsorted(sorted_keys, query), 0, len(sorted_keys) - 1)
    found = sorted_keys[pos] == query
    member = order[pos]
    brightness = np.where(found, hu[member], -np.inf)
    best = np.argmax(brightness, axis=1)
    rows = np.arange(len(query))
    return np.where(found[rows, best], labels[member[rows, best]], 0).astype(np.intp)
