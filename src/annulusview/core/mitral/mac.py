"""Mitral annular calcification (MAC): lesions near the annulus, extent, thickness, trigone
and leaflet involvement, and the MAC CT score (Guerrero et al., JACC Cardiovasc Imaging 2020).

See :func:`analyze_mac` for the exact definitions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage
from scipy.spatial import cKDTree

from annulusview.core.arrays import BoolArray
from annulusview.core.landmarks import Landmarks
from annulusview.core.mitral.annulus import MitralAnnulus
from annulusview.core.mitral.common import (
    FloatArray,
    IntArray,
    NotAssessed,
    VoxelCrop,
    points_inside,
    round_list,
    round_opt,
)
from annulusview.core.mitral.thickness import slab_extent_and_thickness
from annulusview.core.progress import CancelToken, check
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

TRIGONES = {"L": "L_trigone", "R": "R_trigone"}

_STRUCTURE_26 = np.ones((3, 3, 3), dtype=bool)

_GUERRERO = "Guerrero M et al. JACC Cardiovasc Imaging 2020 (MAC CT score)"


@dataclass(frozen=True)
class MacLesion:
    """One MAC lesion (3-D 26-connected calcium component near the annulus).

    Attributes
    ----------
    id
        1-based, in order of decreasing volume.
    volume_mm3
        Voxel count x voxel volume, mm^3.
    max_hu
        Peak attenuation, HU.
    centroid_lps
        Mean voxel centre, LPS mm.
    distance_to_annulus_mm
        Smallest distance from a voxel centre to the annulus curve, mm.
    cut_by_crop
        True when the component reaches the edge of the analysis crop (it may continue
        beyond it; its volume is then a lower bound).
    enclosed_mm3
        Volume of the non-calcified voxels its 3-D hole-filled shape encloses, mm^3.
    caseous_suspected
        ``enclosed_mm3 >= mitral.caseous_min_enclosed_mm3`` (50): a calcified shell around a
        softer core, suspected caseous MAC (it can mimic a mass or an abscess).
    """

    id: int
    volume_mm3: float
    max_hu: float
    centroid_lps: tuple[float, float, float]
    distance_to_annulus_mm: float
    cut_by_crop: bool = False
    enclosed_mm3: float = 0.0
    caseous_suspected: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "volume_mm3": round_opt(self.volume_mm3),
            "max_hu": round_opt(self.max_hu, 1),
            "centroid_lps": round_list(self.centroid_lps),
            "distance_to_annulus_mm": round_opt(self.distance_to_annulus_mm),
            "cut_by_crop": self.cut_by_crop,
            "enclosed_mm3": round_opt(self.enclosed_mm3),
            "caseous_suspected": self.caseous_suspected,
        }


@dataclass(frozen=True)
class MacScore:
    """MAC CT score (Guerrero et al., JACC Cardiovasc Imaging 2020), each component and total.

    Attributes
    ----------
    thickness
        Average thickness < 5 / 5-9.9 / >= 10 mm -> 1 / 2 / 3 (0 without MAC).
    extent
        Circumferential extent < 180 / 180-270 / > 270 degrees -> 1 / 2 / 3 (0 without MAC).
    trigones
        Trigones involved: one / both -> 1 / 2.
    leaflets
        Leaflets calcified: one / both -> 1 / 2.
    total
        Sum, 0-10.
    grade
        ``none`` (no MAC lesion), ``mild`` (<= 3), ``moderate`` (4-6), ``severe`` (>= 7).
    """

    thickness: int
    extent: int
    trigones: int
    leaflets: int
    total: int
    grade: str

    def to_dict(self) -> dict[str, object]:
        return {
            "thickness": self.thickness,
            "extent": self.extent,
            "trigones": self.trigones,
            "leaflets": self.leaflets,
            "total": self.total,
            "grade": self.grade,
            "reference": _GUERRERO,
        }


def mac_score(
    *,
    has_mac: bool,
    thickness_mean_mm: float | None,
    extent_deg: float,
    trigones_involved: int,
    leaflets_involved: int,
    rules: Rules | None = None,
) -> MacScore:
    """MAC CT score (Guerrero et al., JACC Cardiovasc Imaging 2020).

    Parameters
    ----------
    has_mac
        At least one MAC lesion. Without one, thickness and extent score 0.
    thickness_mean_mm
        Average calcium thickness, mm; None (not measurable) scores as the lowest class.
    extent_deg
        Circumferential extent, degrees.
    trigones_involved, leaflets_involved
        0, 1 or 2.
    """
    rules = coerce_rules(rules)
    t_edges = [float(v) for v in rules.get("mitral.score_thickness_edges_mm")]
    e_edges = [float(v) for v in rules.get("mitral.score_extent_edges_deg")]
    if has_mac:
        mean = thickness_mean_mm if thickness_mean_mm is not None else 0.0
        thickness = 1 if mean < t_edges[0] else 2 if mean < t_edges[1] else 3
        # "< 180 / 180-270 / > 270": both edges belong to the middle class
        extent = 1 if extent_deg < e_edges[0] else 2 if extent_deg <= e_edges[1] else 3
    else:
        thickness = extent = 0
    trig = min(2, max(0, int(trigones_involved)))
    leaf = min(2, max(0, int(leaflets_involved)))
    total = thickness + extent + trig + leaf
    if not has_mac and total == 0:
        grade = "none"
    elif total >= int(rules.number("mitral.grade_severe_min")):
        grade = "severe"
    elif total >= int(rules.number("mitral.grade_moderate_min")):
        grade = "moderate"
    else:
        grade = "mild"
    return MacScore(thickness, extent, trig, leaf, total, grade)


@dataclass(frozen=True, eq=False)
class MacResult:
    """Mitral annular calcification measured against the annulus curve.

    Attributes
    ----------
    lesions
        MAC lesions, largest first.
    extent_deg
        Share of the curve length with MAC calcium within ``extent_distance_mm``, x 360.
    thickness_mean_mm, thickness_max_mm
        Mean and maximum of the cross-sectional thickness over the calcified curve positions
        (None when no position has calcium in its cross-section).
    trigones
        ``{"L": bool | None, "R": bool | None}``; None when the trigone landmark is missing.
    anterior_leaflet, posterior_leaflet
        Calcium in the leaflet region (see :func:`analyze_mac`).
    leaflet_calcium_mm3
        ``{"anterior": mm^3, "posterior": mm^3}``.
    score
        The MAC CT score.
    threshold_hu
        Calcium threshold used (None when a mask was given).
    curve_calcified, curve_thickness_mm
        Per curve sample: calcium within the extent distance; thickness (NaN where not
        measured). For drawing (MAC colouring along the annulus), not in :meth:`to_dict`.
    lesion_kji, lesion_ids
        Volume indices ``(k, j, i)`` of every MAC voxel and its lesion id, for drawing.
    """

    lesions: tuple[MacLesion, ...]
    extent_deg: float
    thickness_mean_mm: float | None
    thickness_max_mm: float | None
    trigones: Mapping[str, bool | None]
    anterior_leaflet: bool
    posterior_leaflet: bool
    leaflet_calcium_mm3: Mapping[str, float]
    score: MacScore
    threshold_hu: float | None
    curve_calcified: BoolArray = field(repr=False, default_factory=lambda: np.zeros(0, bool))
    curve_thickness_mm: FloatArray = field(repr=False, default_factory=lambda: np.zeros(0))
    lesion_kji: IntArray = field(repr=False, default_factory=lambda: np.zeros((0, 3), np.intp))
    lesion_ids: IntArray = field(repr=False, default_factory=lambda: np.zeros(0, np.intp))

    @property
    def volume_mm3(self) -> float:
        return float(sum(lesion.volume_mm3 for lesion in self.lesions))

    @property
    def caseous_suspected(self) -> bool:
        """Any MAC lesion with a calcified shell around a softer core."""
        return any(lesion.caseous_suspected for lesion in self.lesions)

    def to_dict(self) -> dict[str, object]:
        return {
            "present": bool(self.lesions),
            "caseous_suspected": self.caseous_suspected,
            "volume_mm3": round_opt(self.volume_mm3),
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "extent_deg": round_opt(self.extent_deg, 1),
            "thickness_mean_mm": round_opt(self.thickness_mean_mm),
            "thickness_max_mm": round_opt(self.thickness_max_mm),
            "trigones": dict(self.trigones),
            "anterior_leaflet": self.anterior_leaflet,
            "posterior_leaflet": self.posterior_leaflet,
            "leaflet_calcium_mm3": {k: round_opt(v) for k, v in self.leaflet_calcium_mm3.items()},
            "score": self.score.to_dict(),
            "threshold_hu": round_opt(self.threshold_hu, 1),
        }


def _points_in_polygon(xy: FloatArray, polygon: FloatArray) -> BoolArray:
    """Even-odd rule point-in-polygon for (P, 2) points and an (M, 2) closed polygon."""
    x, y = xy[:, 0][:, None], xy[:, 1][:, None]
    x0, y0 = polygon[:, 0][None, :], polygon[:, 1][None, :]
    x1, y1 = np.roll(polygon[:, 0], -1)[None, :], np.roll(polygon[:, 1], -1)[None, :]
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        x_at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    result: BoolArray = (np.sum(crosses & (x < x_at), axis=1) % 2) == 1
    return result


def _sparse_calcium(
    volume: Volume, crop: VoxelCrop, calcium: npt.NDArray[np.bool_] | float
) -> tuple[IntArray, FloatArray]:
    """Volume indices ``(k, j, i)`` and HU of the calcium voxels of the crop.

    One comparison over the crop and a flat index search (much faster than a 3-D nonzero);
    everything after works on these sparse voxels.
    """
    hu = volume.hu[crop.slices]
    if isinstance(calcium, np.ndarray):
        mask = np.asarray(calcium[crop.slices], dtype=bool)
    else:
        mask = hu >= calcium
    flat = np.flatnonzero(mask)
    local = np.stack(np.unravel_index(flat, mask.shape), axis=1).astype(np.intp)
    values = hu.reshape(-1)[flat] if hu.flags.c_contiguous else hu[tuple(local.T)]
    return local + np.asarray(crop.start, dtype=np.intp), np.asarray(values, dtype=np.float64)


def _label_sparse(kji: IntArray) -> tuple[IntArray, int]:
    """26-connected component label (1..n) of each voxel of a sparse set (bounding box only)."""
    if len(kji) == 0:
        return np.zeros(0, dtype=np.intp), 0
    lo = kji.min(axis=0)
    local = kji - lo
    mask = np.zeros(tuple(local.max(axis=0) + 1), dtype=bool)
    mask[tuple(local.T)] = True
    labels, count = ndimage.label(mask, structure=_STRUCTURE_26)
    return labels[tuple(local.T)].astype(np.intp), int(count)


def analyze_mac(
    volume: Volume,
    annulus: MitralAnnulus,
    calcium: npt.NDArray[np.bool_] | float,
    landmarks: Landmarks,
    *,
    rules: Rules | None = None,
    cancel: CancelToken | None = None,
) -> tuple[MacResult, tuple[str, ...]]:
    """Measure mitral annular calcification against the annulus curve (section 8).

    Definitions (distances between voxel centres and the densely sampled curve, mm):

    * **Analysis region**: the cylinder along the annulus normal of radius (largest in-plane
      radius of the curve + ``crop_margin_mm``), from ``leaflet_atrial_mm`` on the atrial side
      to ``leaflet_ventricular_mm`` on the ventricular side (and the curve's own height range),
      padded by ``crop_margin_mm``; only its bounding box is read. A lesion reaching its edge
      is marked ``cut_by_crop`` (its volume is a lower bound).
    * **Calcium**: voxels of ``calcium`` (a mask over the whole volume) or ``HU >= calcium``
      (a threshold); 3-D 26-connected components under ``threshold.min_lesion_mm3`` are noise.
    * **MAC lesion**: a component with a voxel within ``mac_max_distance_mm`` (5) of the curve.
    * **Extent** and **thickness** as read in the short-axis view (section 8; see
      :mod:`annulusview.core.mitral.thickness`): a curve position is calcified when a MAC voxel
      lies in its cross-section slab within ``extent_distance_mm`` (5) of it; the extent is the
      calcified share of the curve in degrees of 360, so a flat-ended arc measures its own arc.
      The thickness at a calcified position (every ``thickness_step_mm`` of calcified curve) is
      the width of the bar across the annulus, along ``t x N``, from the HU profile with
      sub-voxel edges (with a mask instead of a threshold: from the voxels' extents); sections
      thinner than ``thickness_min_mm`` are not counted. ``thickness_mean_mm`` averages over
      the measured positions, ``thickness_max_mm`` is the largest.
    * **Trigone involvement**: a MAC voxel within ``trigone_distance_mm`` (5) of ``L_trigone``
      / ``R_trigone``; None when that landmark is missing.
    * **Leaflet calcification**: calcium (any component kept above) whose projection on the
      annulus plane lies inside the projected curve and more than ``leaflet_inset_mm`` (3)
      beyond the inner edge of the MAC bar at the nearest curve position (the curve itself
      where there is no bar), at heights from ``leaflet_atrial_mm`` (3) on the atrial side to
      ``leaflet_ventricular_mm`` (20) on the ventricular side of the plane. It is anterior on
      the side of the commissural line (through ``MV_AL_commissure`` and ``MV_PM_commissure``,
      else the line through the centre perpendicular to the A-P direction) that holds the
      anterior annulus, posterior on the other. A leaflet counts as calcified with at least
      ``leaflet_min_mm3`` there. Limits: leaflets move with the cardiac phase and the
      coaptation line is not the commissural line (the anterior leaflet covers more of the
      closed orifice), so calcium near the middle of the orifice may be given to the wrong
      leaflet; calcium of other structures projecting into the orifice (papillary muscle tips,
      chordae) within 20 mm of the plane counts too.

    Returns
    -------
    result, warnings

    Raises
    ------
    NotAssessed
        The annulus lies outside the volume, or the mask has the wrong shape.
    """
    rules = coerce_rules(rules)
    warnings: list[str] = []
    mac_dist = rules.number("mitral.mac_max_distance_mm")
    extent_dist = rules.number("mitral.extent_distance_mm")
    trigone_dist = rules.number("mitral.trigone_distance_mm")
    atrial = rules.number("mitral.leaflet_atrial_mm")
    ventricular = rules.number("mitral.leaflet_ventricular_mm")
    inset = rules.number("mitral.leaflet_inset_mm")
    min_lesion = rules.number("threshold.min_lesion_mm3")

    curve = annulus.curve_lps
    normal = annulus.normal_lps
    if isinstance(calcium, np.ndarray) and calcium.shape != volume.hu.shape:
        raise NotAssessed(
            f"MAC not assessed: the calcium mask has shape {calcium.shape}, the volume "
            f"{volume.hu.shape}."
        )
    bounds = np.vstack([curve, curve + ventricular * normal, curve - atrial * normal])
    crop = VoxelCrop.around(volume, bounds, rules.number("mitral.crop_margin_mm"))
    if crop.empty:
        raise NotAssessed("MAC not assessed: the mitral annulus lies outside the CT volume.")
    probe = curve[:: max(1, len(curve) // 36)]
    if np.count_nonzero(points_inside(volume, probe, 0.5)) < 0.9 * len(probe):
        warnings.append("Part of the mitral annulus curve lies outside the CT volume.")
    threshold = None if isinstance(calcium, np.ndarray) else float(calcium)

    check(cancel)
    kji, hu_vox = _sparse_calcium(volume, crop, calcium)
    lps = volume.index_to_lps(kji[:, ::-1].astype(np.float64))
    # The analysis region is a cylinder around the annulus (the box crop holds it): the ring
    # plus margin in the plane, from the atrial margin to the ventricular end of the leaflet
    # band. Bone and vessels in the corners of the box are never labelled.
    margin = rules.number("mitral.crop_margin_mm")
    curve_plane = annulus.plane_coordinates(curve)
    ring_radius = float(np.hypot(curve_plane[:, 0], curve_plane[:, 1]).max())
    h_lo, h_hi = float(curve_plane[:, 2].min()), float(curve_plane[:, 2].max())
    coords = annulus.plane_coordinates(lps)
    radius = np.hypot(coords[:, 0], coords[:, 1])
    roi_radius = ring_radius + margin
    roi_h = (min(h_lo, -atrial) - margin, max(h_hi, ventricular) + margin)
    in_roi = (radius <= roi_radius) & (coords[:, 2] >= roi_h[0]) & (coords[:, 2] <= roi_h[1])
    kji, hu_vox = kji[in_roi], hu_vox[in_roi]
    lps, coords, radius = lps[in_roi], coords[in_roi], radius[in_roi]
    edge = max(volume.spacing_mm)
    on_roi_edge = (
        (radius > roi_radius - edge)
        | (coords[:, 2] < roi_h[0] + edge)
        | (coords[:, 2] > roi_h[1] - edge)
    )
    lab, count = _label_sparse(kji)
    voxel_mm3 = volume.voxel_volume_mm3
    sizes = np.bincount(lab, minlength=count + 1)
    kept_label = sizes * voxel_mm3 >= min_lesion
    kept_label[0] = False
    keep_voxel = kept_label[lab]

    # Cheap pre-selection in plane coordinates (height h, in-plane radius) so that distances to
    # the curve are only computed for voxels that can be within the MAC band.
    near_band = (
        keep_voxel
        & (radius <= ring_radius + mac_dist)
        & (coords[:, 2] >= h_lo - mac_dist)
        & (coords[:, 2] <= h_hi + mac_dist)
    )
    curve_tree = cKDTree(curve)
    min_dist = np.full(count + 1, np.inf)
    nearest_sample = np.full(len(lps), -1, dtype=np.intp)
    # distance of each voxel to the curve samples where within mac_dist, else inf (a bounded
    # query prunes the tree; voxels outside the band are farther than mac_dist anyway)
    voxel_dist = np.full(len(lps), np.inf)
    if np.any(near_band):
        d_band, i_band = curve_tree.query(lps[near_band], distance_upper_bound=mac_dist + 1e-9)
        found = np.isfinite(d_band)
        band_index = np.flatnonzero(near_band)
        nearest_sample[band_index[found]] = i_band[found]
        voxel_dist[band_index] = d_band
        np.minimum.at(min_dist, lab[band_index[found]], d_band[found])
    is_mac_label = kept_label & (min_dist <= mac_dist)
    mac_voxel = is_mac_label[lab]
    missing = mac_voxel & (nearest_sample < 0)  # lesion voxels beyond mac_dist of the curve
    if np.any(missing):
        nearest_sample[missing] = curve_tree.query(lps[missing])[1]
    mac_ids = np.flatnonzero(is_mac_label)
    # lesion ids by decreasing volume
    order = mac_ids[np.argsort(-sizes[mac_ids], kind="stable")]
    new_id = np.zeros(count + 1, dtype=np.intp)
    new_id[order] = np.arange(1, len(order) + 1)
    lesions: list[MacLesion] = []
    local_kji = kji - np.asarray(crop.start, dtype=np.intp)
    for old in order:
        sel = lab == old
        cut = crop.touches_edge(local_kji[sel], volume) or bool(np.any(on_roi_edge[sel]))
        centroid = lps[sel].mean(axis=0)
        enclosed = _enclosed_mm3(local_kji[sel], voxel_mm3)
        caseous = enclosed >= rules.number("mitral.caseous_min_enclosed_mm3")
        if caseous:
            warnings.append(
                f"MAC lesion {int(new_id[old])}: a calcified shell around a softer core "
                f"({enclosed:.0f} mm³ enclosed): caseous MAC suspected; it can mimic a mass or "
                "an abscess."
            )
        lesions.append(
            MacLesion(
                id=int(new_id[old]),
                volume_mm3=float(sizes[old] * voxel_mm3),
                max_hu=float(hu_vox[sel].max()),
                centroid_lps=(float(centroid[0]), float(centroid[1]), float(centroid[2])),
                distance_to_annulus_mm=float(min_dist[old]),
                cut_by_crop=cut,
                enclosed_mm3=enclosed,
                caseous_suspected=bool(caseous),
            )
        )
        if cut:
            warnings.append(
                f"MAC lesion {int(new_id[old])} reaches the edge of the analysis region; its "
                "volume is a lower bound."
            )

    mac_lps = lps[mac_voxel]
    check(cancel)
    stride = max(1, round(rules.number("mitral.thickness_step_mm") / annulus.sample_step_mm))
    tangents = np.asarray(annulus.tangents_lps, dtype=np.float64)
    calcified, thickness, bar_inner = slab_extent_and_thickness(
        curve,
        tangents,
        normal,
        mac_lps,
        volume.affine[:3, :3],
        near_mm=extent_dist,
        window_mm=rules.number("mitral.thickness_window_mm"),
        thickness_stride=stride,
        min_thickness_mm=rules.number("mitral.thickness_min_mm"),
        hu_at=None if threshold is None else _trilinear(volume),
        threshold_hu=threshold,
        cancel=cancel,
    )
    extent = 360.0 * float(calcified.mean())
    measured = thickness[np.isfinite(thickness)]
    t_mean = float(measured.mean()) if len(measured) else None
    t_max = float(measured.max()) if len(measured) else None
    if lesions and t_mean is None:
        warnings.append(
            "MAC lesions lie near the annulus but no cross-section holds calcium within "
            f"{extent_dist:g} mm of the curve; thickness was not measured (scored as < 5 mm)."
        )

    trigones: dict[str, bool | None] = {}
    for key, name in TRIGONES.items():
        pos = landmarks.get(name)
        if pos is None:
            trigones[key] = None
        elif len(mac_lps):
            d2 = np.einsum("ij,ij->i", mac_lps - pos, mac_lps - pos)
            trigones[key] = bool(d2.min() <= trigone_dist**2)
        else:
            trigones[key] = False
    if lesions and any(v is None for v in trigones.values()):
        absent = [TRIGONES[k] for k, v in trigones.items() if v is None]
        warnings.append(
            f"Trigone involvement not assessed for missing {', '.join(absent)}; the MAC score "
            "may be underestimated."
        )

    # Leaflets: in-plane position relative to the projected curve and the commissural line.
    leaf = {"anterior": 0.0, "posterior": 0.0}
    in_band = (
        keep_voxel
        & (radius < ring_radius - inset)
        & (coords[:, 2] >= -atrial)
        & (coords[:, 2] <= ventricular)
    )
    if np.any(in_band):
        polygon = curve_plane[:, :2]
        xy = coords[in_band, :2]
        # a 1 mm polygon is exact enough to tell inside from outside 3 mm from the ring
        coarse = polygon[:: max(1, round(1.0 / annulus.sample_step_mm))]
        inner = _points_in_polygon(xy, coarse)
        if np.any(inner):
            # beyond the inner edge of the MAC bar at the nearest position (the curve itself
            # where there is no bar) by more than the inset (section 8)
            d_ring, nearest = cKDTree(polygon).query(xy[inner])
            xy_in = xy[inner][d_ring > bar_inner[nearest] + inset]
            line_point, line_normal = _commissural_line(annulus, landmarks)
            side = (xy_in - line_point) @ line_normal  # < 0: anterior side
            leaf["anterior"] = float(np.count_nonzero(side < 0) * voxel_mm3)
            leaf["posterior"] = float(np.count_nonzero(side >= 0) * voxel_mm3)
    leaf_min = rules.number("mitral.leaflet_min_mm3")
    anterior_leaflet = leaf["anterior"] >= leaf_min
    posterior_leaflet = leaf["posterior"] >= leaf_min

    score = mac_score(
        has_mac=bool(lesions),
        thickness_mean_mm=t_mean,
        extent_deg=extent,
        trigones_involved=sum(1 for v in trigones.values() if v),
        leaflets_involved=int(anterior_leaflet) + int(posterior_leaflet),
        rules=rules,
    )
    lesion_kji = kji[mac_voxel]
    lesion_of_voxel = new_id[lab[mac_voxel]]
    for arr in (calcified, thickness, lesion_kji, lesion_of_voxel):
        arr.setflags(write=False)
    result = MacResult(
        lesions=tuple(lesions),
        extent_deg=extent,
        thickness_mean_mm=t_mean,
        thickness_max_mm=t_max,
        trigones=trigones,
        anterior_leaflet=anterior_leaflet,
        posterior_leaflet=posterior_leaflet,
        leaflet_calcium_mm3=leaf,
        score=score,
        threshold_hu=threshold,
        curve_calcified=calcified,
        curve_thickness_mm=thickness,
        lesion_kji=lesion_kji,
        lesion_ids=lesion_of_voxel,
    )
    return result, tuple(warnings)


def _enclosed_mm3(kji: npt.NDArray[np.intp], voxel_mm3: float) -> float:
    """Volume of the voxels a component's 3-D hole-filled shape adds to it, mm^3."""
    lo = kji.min(axis=0) - 1
    shape = tuple(int(v) for v in kji.max(axis=0) - lo + 2)
    mask = np.zeros(shape, dtype=bool)
    local = kji - lo
    mask[local[:, 0], local[:, 1], local[:, 2]] = True
    filled = ndimage.binary_fill_holes(mask)
    return float(np.count_nonzero(filled & ~mask) * voxel_mm3)


def _trilinear(volume: Volume) -> Callable[[FloatArray], FloatArray]:
    """HU at LPS points, trilinear between voxel centres (outside the volume: -1024)."""

    def hu_at(points: FloatArray) -> FloatArray:
        ijk = volume.lps_to_index(np.asarray(points, dtype=np.float64))
        values = ndimage.map_coordinates(
            volume.hu, ijk[:, ::-1].T, order=1, mode="constant", cval=-1024.0
        )
        return np.asarray(values, dtype=np.float64)

    return hu_at


def _commissural_line(
    annulus: MitralAnnulus, landmarks: Landmarks
) -> tuple[FloatArray, FloatArray]:
    """A point on the commissural line and its in-plane unit normal pointing posterior,
    in plane coordinates ``(ap, ic)``."""
    al, pm = landmarks.get("MV_AL_commissure"), landmarks.get("MV_PM_commissure")
    if al is not None and pm is not None:
        a = annulus.plane_coordinates(al)[:2]
        b = annulus.plane_coordinates(pm)[:2]
        along = b - a
        if float(np.linalg.norm(along)) > 1e-6:
            line_normal = np.array([along[1], -along[0]]) / float(np.linalg.norm(along))
            # posterior is +ap in plane coordinates
            if line_normal[0] < 0:
                line_normal = -line_normal
            return a, line_normal
    return np.zeros(2), np.array([1.0, 0.0])
