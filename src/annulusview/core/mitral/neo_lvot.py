"""Neo-LVOT: the LVOT lumen left beside a virtual transcatheter mitral valve (section 8).

A virtual valve (a solid cylinder of given diameter and height, a given share of it on the
ventricular side of the mitral annulus plane) is placed coaxial with the mitral annulus. The
contrast LVOT lumen is segmented, the valve is cut out of it, and the lumen cross-section is
measured in planes along the LVOT. The smallest one is the neo-LVOT area: <= 170 mm^2 predicts
LVOT obstruction (Yoon SH et al., JACC Cardiovasc Interv 2019), <= 190 mm^2 is a moderate risk
(Wang DD et al., 2018).

Definitions
-----------
Lumen
    ``HU >= (LA + myocardium_hu) / 2`` (half-way between lumen and myocardium) and below the
    calcium threshold (calcium is not lumen), tested on HU interpolated linearly in each
    section plane, so the edge is placed between voxels. There must be lumen within 3 mm of the
    seed ``O - seed_offset_mm n`` (the LVOT just below the aortic annulus).
Centreline
    Skeleton-free: the straight line from the aortic annulus centre ``O`` along ``-n`` into the
    LV. Planes perpendicular to ``n`` run from ``O`` down to ``depth_margin_mm`` below the
    deepest point of the valve rim (at most ``max_depth_mm``): a coarse pass every
    ``coarse_step_mm`` at ``coarse_pixel_mm`` pixels, then a fine pass every ``step_mm`` at
    ``pixel_mm`` pixels within one coarse step of the narrowest coarse section (and of the
    second narrowest when it lies apart and within 5 %). A straight
    axis is what a reader sets up on a double-oblique LVOT view; it does not follow a curved
    LVOT, which makes the sections oblique and the areas slightly larger there.
Section area
    In each plane (square window of half-width ``window_half_width_mm``) the valve is cut out
    exactly per pixel and the 4-connected lumen region holding the centreline point (or the
    lumen pixel nearest to it, within ``centreline_search_mm``) is measured. Connectivity in
    the plane is what separates the LVOT from other chambers; a region that reaches the window
    edge is not an enclosed outflow tract (the plane runs into the LV cavity or the aorta), so
    that plane is skipped with a warning.
Fit of the valve
    Not assessed, with the reason, when the valve reaches outside the volume, when less than
    ``min_valve_lumen_fraction`` of its inside is contrast blood pool (it is not in the mitral
    orifice), or when it covers the LVOT seed (larger than the outflow allows, or misplaced).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy import ndimage

from annulusview.core.arrays import BoolArray
from annulusview.core.errors import InputError
from annulusview.core.mitral.common import (
    FloatArray,
    NotAssessed,
    inside_cylinder,
    median_hu_in_sphere,
    perpendicular_basis,
    points_inside,
    unit,
)
from annulusview.core.progress import CancelToken, check
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume

_STRUCTURE_6 = ndimage.generate_binary_structure(3, 1)
_STRUCTURE_4 = ndimage.generate_binary_structure(2, 1)
# 4-connectivity within each plane of a stack of planes, none between planes: one label call
# labels every section of a batch.
_STRUCTURE_PLANES = np.stack([np.zeros((3, 3), bool), _STRUCTURE_4, np.zeros((3, 3), bool)])


@dataclass(frozen=True)
class VirtualValve:
    """A virtual transcatheter mitral valve: a solid cylinder.

    Attributes
    ----------
    diameter_mm
        Outer diameter, mm.
    height_mm
        Frame height, mm.
    ventricular_share
        Fraction of the height on the ventricular side of the annulus plane, 0-1.

    Raises
    ------
    InputError
        A non-positive size or a share outside [0, 1].
    """

    diameter_mm: float
    height_mm: float
    ventricular_share: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.diameter_mm) and 0 < self.diameter_mm <= 80):
            raise InputError(
                f"Virtual valve diameter {self.diameter_mm!r} mm is not usable.",
                "Give a diameter between 0 and 80 mm.",
            )
        if not (math.isfinite(self.height_mm) and 0 < self.height_mm <= 80):
            raise InputError(
                f"Virtual valve height {self.height_mm!r} mm is not usable.",
                "Give a height between 0 and 80 mm.",
            )
        if not (math.isfinite(self.ventricular_share) and 0 <= self.ventricular_share <= 1):
            raise InputError(
                f"Virtual valve ventricular share {self.ventricular_share!r} is not usable.",
                "Give the share of the height on the ventricular side, from 0 to 1.",
            )

    @classmethod
    def from_rules(cls, rules: Rules | None = None) -> VirtualValve:
        """The default valve of the rules file (``[neo_lvot]``)."""
        rules = coerce_rules(rules)
        return cls(
            rules.number("neo_lvot.valve_diameter_mm"),
            rules.number("neo_lvot.valve_height_mm"),
            rules.number("neo_lvot.ventricular_share"),
        )

    @property
    def radius_mm(self) -> float:
        return self.diameter_mm / 2.0

    def ends(self, center_lps: FloatArray, lv_axis: FloatArray) -> tuple[FloatArray, FloatArray]:
        """``(atrial end, ventricular end)`` centres, LPS mm, for a valve centred on the
        annulus centre with ``lv_axis`` pointing toward the LV apex."""
        atrial = center_lps - (1.0 - self.ventricular_share) * self.height_mm * lv_axis
        ventricular = center_lps + self.ventricular_share * self.height_mm * lv_axis
        return atrial, ventricular

    def rim_points(
        self, center_lps: FloatArray, lv_axis: FloatArray, count: int = 36
    ) -> FloatArray:
        """Points on both rims of the cylinder, (2 * count, 3) LPS mm."""
        u, v = perpendicular_basis(lv_axis)
        t = np.linspace(0.0, 2.0 * np.pi, count, endpoint=False)[:, None]
        ring = self.radius_mm * (np.cos(t) * u + np.sin(t) * v)
        atrial, ventricular = self.ends(center_lps, lv_axis)
        return np.vstack([atrial + ring, ventricular + ring])

    def contains(
        self, points_lps: FloatArray, center_lps: FloatArray, lv_axis: FloatArray
    ) -> BoolArray:
        """True for points inside the valve."""
        atrial, _ = self.ends(center_lps, lv_axis)
        return inside_cylinder(points_lps, atrial, lv_axis, self.height_mm, self.radius_mm)

    def to_dict(self) -> dict[str, float]:
        return {
            "diameter_mm": float(self.diameter_mm),
            "height_mm": float(self.height_mm),
            "ventricular_share": float(self.ventricular_share),
        }


class ValveBesideLvot(NotAssessed):
    """No LVOT section intersects the virtual valve: the valve does not reach the outflow tract
    (the rule is then not met, with the native area for reference)."""

    def __init__(self, message: str, native_area_mm2: float) -> None:
        super().__init__(f"Neo-LVOT criterion not met: {message}")
        self.native_area_mm2 = native_area_mm2


@dataclass(frozen=True, eq=False)
class NeoLvotResult:
    """The predicted neo-LVOT.

    Attributes
    ----------
    area_mm2
        Smallest LVOT lumen cross-section beside the valve, mm^2.
    distance_from_annulus_mm
        Depth of that plane below the aortic annulus, along the LVOT axis, mm.
    position_lps
        The centreline point in that plane, LPS mm.
    centroid_lps
        Centroid of the neo-LVOT section, LPS mm.
    area_without_valve_mm2
        The lumen section in the same plane before the valve was cut out, mm^2.
    plane_normal_lps, plane_u_lps, plane_v_lps
        Unit normal (the LVOT axis, toward the aorta) and in-plane axes of the section plane;
        a GUI reformats ``position + a u + b v``.
    valve, valve_center_lps, valve_axis_lps
        The virtual valve and its placement (axis toward the LV apex).
    lumen_hu, myocardium_hu, lumen_threshold_hu
        Attenuations used for the lumen, HU.
    profile
        ``(depth mm, area mm^2 or None)`` for every plane searched (None: skipped).
    section_mask, pixel_mm
        The neo-LVOT section in its plane (rows along ``u``, columns along ``v``, centred on
        ``position_lps``) and its pixel size, for drawing; not in :meth:`to_dict`.
    warnings
        Findings the user must know about.
    """

    area_mm2: float
    distance_from_annulus_mm: float
    position_lps: FloatArray
    centroid_lps: FloatArray
    area_without_valve_mm2: float
    plane_normal_lps: FloatArray
    plane_u_lps: FloatArray
    plane_v_lps: FloatArray
    valve: VirtualValve
    valve_center_lps: FloatArray
    valve_axis_lps: FloatArray
    lumen_hu: float
    myocardium_hu: float
    lumen_threshold_hu: float
    profile: tuple[tuple[float, float | None], ...] = ()
    section_mask: BoolArray = field(repr=False, default_factory=lambda: np.zeros((0, 0), bool))
    pixel_mm: float = 0.5
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        def rnd(arr: npt.ArrayLike, digits: int = 2) -> list[float]:
            return [round(float(x), digits) for x in np.asarray(arr).reshape(-1)]

        atrial, ventricular = self.valve.ends(self.valve_center_lps, self.valve_axis_lps)
        return {
            "area_mm2": round(self.area_mm2, 1),
            "position_lps": rnd(self.position_lps),
            "centroid_lps": rnd(self.centroid_lps),
            "distance_from_annulus_mm": round(self.distance_from_annulus_mm, 2),
            "distance_reference": "aortic annulus plane, along the LVOT axis",
            "area_without_valve_mm2": round(self.area_without_valve_mm2, 1),
            "valve": {
                **self.valve.to_dict(),
                "center_lps": rnd(self.valve_center_lps),
                "axis_lps": rnd(self.valve_axis_lps, 4),
                "atrial_end_lps": rnd(atrial),
                "ventricular_end_lps": rnd(ventricular),
            },
            "plane_normal_lps": rnd(self.plane_normal_lps, 4),
            "plane_u_lps": rnd(self.plane_u_lps, 4),
            "plane_v_lps": rnd(self.plane_v_lps, 4),
            "lumen_hu": round(self.lumen_hu, 1),
            "myocardium_hu": round(self.myocardium_hu, 1),
            "lumen_threshold_hu": round(self.lumen_threshold_hu, 1),
            "centreline": "straight line from the aortic annulus centre along -n",
            "profile": [[round(d, 2), None if a is None else round(a, 1)] for d, a in self.profile],
        }


def _hu_text(value: float | None) -> str:
    return "unknown" if value is None else f"{value:.0f} HU"


def _nearest_true(
    mask: BoolArray, seed: tuple[int, ...], max_pixels: float
) -> tuple[int, ...] | None:
    """The True element of ``mask`` nearest to ``seed`` (within ``max_pixels``), or None."""
    if mask[seed]:
        return seed
    points = np.argwhere(mask)
    if len(points) == 0:
        return None
    d2 = np.sum((points - np.asarray(seed)) ** 2, axis=1)
    best = int(np.argmin(d2))
    if d2[best] > max_pixels**2:
        return None
    return tuple(int(v) for v in points[best])


def analyze_neo_lvot(
    volume: Volume,
    annulus_center_lps: npt.ArrayLike,
    lv_axis_lps: npt.ArrayLike,
    *,
    aortic_origin_lps: npt.ArrayLike | None,
    aortic_normal_lps: npt.ArrayLike | None,
    valve: VirtualValve | None = None,
    lumen_hu: float | None = None,
    contrast: bool = True,
    calcium: npt.NDArray[np.bool_] | float | None = None,
    rules: Rules | None = None,
    cancel: CancelToken | None = None,
) -> NeoLvotResult:
    """Predict the neo-LVOT area for a virtual valve coaxial with the mitral annulus.

    Parameters
    ----------
    volume
        The CT volume (contrast-enhanced).
    annulus_center_lps
        Mitral annulus centre, LPS mm.
    lv_axis_lps
        Mitral annulus normal pointing toward the LV apex (the valve axis).
    aortic_origin_lps, aortic_normal_lps
        Aortic annulus centre ``O`` and normal ``n`` (toward the aorta).
    valve
        The virtual valve; the rules default when None.
    lumen_hu
        Lumen attenuation ``LA``, HU; measured at the seed when None.
    contrast
        False: not assessed (the LVOT lumen cannot be told from the myocardium).
    calcium
        Calcium mask over the volume or threshold (HU); calcium is not lumen.
    rules
        Rules (``[neo_lvot]``, ``[contrast]``).

    Raises
    ------
    NotAssessed
        Non-contrast CT, no aortic annulus, a valve outside the volume, a valve that holds no
        blood pool or covers the LVOT below the aortic annulus, or no enclosed LVOT section.
    """
    rules = coerce_rules(rules)
    valve = valve or VirtualValve.from_rules(rules)
    warnings: list[str] = []
    if not contrast:
        raise NotAssessed(
            "Neo-LVOT not assessed: this is a non-contrast CT, so the LVOT lumen cannot be told "
            "from the myocardium. Use a contrast-enhanced (arterial phase) CT."
        )
    if aortic_origin_lps is None or aortic_normal_lps is None:
        raise NotAssessed(
            "Neo-LVOT not assessed: the LVOT axis needs the aortic annulus "
            "(RCC_hinge, LCC_hinge, NCC_hinge)."
        )
    origin = np.asarray(aortic_origin_lps, dtype=np.float64).reshape(3)
    n = unit(aortic_normal_lps)
    center = np.asarray(annulus_center_lps, dtype=np.float64).reshape(3)
    axis = unit(lv_axis_lps)
    size = f"{valve.diameter_mm:g} x {valve.height_mm:g} mm"

    rim = valve.rim_points(center, axis)
    outside = rim[~points_inside(volume, rim)]
    if len(outside):
        p = outside[0]
        raise NotAssessed(
            f"Neo-LVOT not assessed: the virtual valve ({size}) extends outside the CT volume "
            f"(rim point at LPS {p[0]:.1f}, {p[1]:.1f}, {p[2]:.1f} mm). Check the mitral "
            "landmarks and the valve size, or use a scan that covers the whole LV base."
        )

    seed_offset = rules.number("neo_lvot.seed_offset_mm")
    seed_lps = origin - seed_offset * n
    if not volume.contains_lps(seed_lps, margin_voxels=0.0):
        raise NotAssessed(
            "Neo-LVOT not assessed: the LVOT below the aortic annulus is outside the volume."
        )
    if lumen_hu is None:
        lumen_hu = median_hu_in_sphere(
            volume, seed_lps, rules.number("contrast.lumen_sphere_radius_mm")
        )
    contrast_min = rules.number("contrast.contrast_min_hu")
    if lumen_hu is None or lumen_hu < contrast_min:
        raise NotAssessed(
            f"Neo-LVOT not assessed: LVOT attenuation {_hu_text(lumen_hu)} is below "
            f"{contrast_min:.0f} HU (no contrast in the LVOT)."
        )
    myocardium = rules.number("neo_lvot.myocardium_hu")
    lumen_threshold = 0.5 * (float(lumen_hu) + myocardium)
    if valve.contains(seed_lps[None, :], center, axis)[0]:
        raise NotAssessed(
            f"Neo-LVOT not assessed: the virtual valve ({size}) covers the LVOT just below the "
            "aortic annulus; it is larger than the LV outflow allows or misplaced. Check the "
            "mitral landmarks and the valve size."
        )

    # Depths of the section planes below the aortic annulus plane.
    deepest_rim = float(np.max((origin - rim) @ n))
    depth_end = min(
        rules.number("neo_lvot.max_depth_mm"),
        max(deepest_rim, seed_offset) + rules.number("neo_lvot.depth_margin_mm"),
    )
    sampler = _PlaneSampler(volume, n, rules.number("neo_lvot.window_half_width_mm"))
    calcium_hu = None if calcium is None or isinstance(calcium, np.ndarray) else float(calcium)
    calcium_mask = calcium if isinstance(calcium, np.ndarray) else None

    # The valve must sit in the blood pool: sample its inside on a 1.5 mm lattice.
    inside_pts = _cylinder_lattice(valve, center, axis, 1.5)
    inside_hu = sampler.hu_at(inside_pts)
    if np.mean(inside_hu >= lumen_threshold) < rules.number("neo_lvot.min_valve_lumen_fraction"):
        raise NotAssessed(
            f"Neo-LVOT not assessed: the virtual valve ({size}) holds no contrast blood pool, so "
            "it is not in the mitral orifice. Check the mitral landmarks."
        )
    # Contrast lumen at the seed (or within 3 mm of it).
    ball = seed_lps + _ball_offsets(3.0, 0.5)
    ball_lumen = (sampler.hu_at(ball) >= lumen_threshold) & ~valve.contains(ball, center, axis)
    if not np.any(ball_lumen):
        raise NotAssessed(
            f"Neo-LVOT not assessed: no contrast lumen (>= {lumen_threshold:.0f} HU) within 3 mm "
            "of the LVOT just below the aortic annulus."
        )

    def sections(
        depths: list[float], pixel: float, with_native: bool = False, half: float | None = None
    ) -> list[_Section]:
        if not depths:
            return []
        return sampler.sections(
            origin - np.asarray(depths)[:, None] * n,
            pixel,
            lumen_threshold,
            calcium_hu,
            calcium_mask,
            valve,
            center,
            axis,
            rules.number("neo_lvot.centreline_search_mm"),
            with_native,
            half,
        )

    def inside(depths: list[float]) -> list[float]:
        on_axis = origin - np.asarray(depths, dtype=np.float64).reshape(-1, 1) * n
        return [d for d, ok in zip(depths, points_inside(volume, on_axis), strict=True) if ok]

    check(cancel)
    # Coarse pass over the whole depth range, then a fine pass around its narrowest section.
    # Each pass samples and labels all its planes at once.
    coarse_step = rules.number("neo_lvot.coarse_step_mm")
    coarse_pixel = rules.number("neo_lvot.coarse_pixel_mm")
    profile: list[tuple[float, float | None]] = []
    skipped_open: list[float] = []
    skipped_empty: list[float] = []
    coarse: list[tuple[float, float]] = []
    coarse_reach: dict[float, float] = {}
    all_depths = [float(d) for d in np.arange(0.0, depth_end + 1e-9, coarse_step)]
    coarse_depths = inside(all_depths)
    axis_outside = len(all_depths) - len(coarse_depths)
    for depth, sec in zip(coarse_depths, sections(coarse_depths, coarse_pixel), strict=True):
        if sec.status == "open":
            skipped_open.append(depth)
        elif sec.status == "empty":
            skipped_empty.append(depth)
        profile.append((depth, sec.area_mm2 if sec.status == "ok" else None))
        if sec.status == "ok":
            coarse.append((depth, sec.area_mm2))
            coarse_reach[depth] = sec.reach_mm
    check(cancel)
    pixel = min(rules.number("neo_lvot.pixel_mm"), 0.5)
    fine_step = rules.number("neo_lvot.step_mm")
    best: _Section | None = None
    best_depth = 0.0
    # Only the planes that intersect the virtual valve within the section window can hold the
    # neo-LVOT (section 8): the depths along the LVOT axis where the valve's inside lattice
    # comes within the window's half width of the axis.
    rel = inside_pts - origin
    lattice_depth = -(rel @ n)
    lateral = np.linalg.norm(rel + lattice_depth[:, None] * n, axis=1)
    reach = lattice_depth[lateral <= sampler.half_width_mm]
    if len(reach):
        valve_lo, valve_hi = float(reach.min()), float(reach.max())
    else:
        valve_lo, valve_hi = np.inf, -np.inf
    # depths where the valve meets the sections (half a coarse step of margin each side)
    window_lo, window_hi = valve_lo - coarse_step / 2, valve_hi + coarse_step / 2
    native_coarse = list(coarse)
    coarse = [(d, a) for d, a in coarse if window_lo <= d <= window_hi]
    if native_coarse and not coarse:
        depth, area = min(native_coarse, key=lambda t: t[1])
        where = (
            "it never comes within the section window of the LVOT axis"
            if not np.isfinite(valve_lo)
            else f"it meets the LVOT sections only {valve_lo:.1f}-{valve_hi:.1f} mm below the "
            "aortic annulus, where no enclosed LVOT section was found"
        )
        raise ValveBesideLvot(
            f"the virtual valve ({size}) does not reach the outflow tract: {where} (the native "
            f"LVOT's narrowest section is {area:.0f} mm² at {depth:.1f} mm).",
            area,
        )
    if coarse:
        coarse.sort(key=lambda t: t[1])
        # refine around the narrowest coarse section, and around the second narrowest when it
        # lies apart and within 5 % (two minima of nearly equal area)
        best_coarse = coarse[0]
        centres = [best_coarse[0]] + [
            d
            for d, area in coarse[1:2]
            if abs(d - best_coarse[0]) > coarse_step and area <= 1.05 * best_coarse[1]
        ]
        for centre_depth in centres:
            lo = max(0.0, window_lo, centre_depth - coarse_step)
            hi = min(depth_end, window_hi, centre_depth + coarse_step)
            # fine sections only over the coarse region plus a margin (a quarter of the pixels)
            near_half = coarse_reach[centre_depth] + coarse_step + 2.0 * coarse_pixel
            fine_depths = inside([float(d) for d in np.arange(lo, hi + 1e-9, fine_step)])
            fine = sections(fine_depths, pixel, True, near_half)
            reopen = [d for d, sec in zip(fine_depths, fine, strict=True) if sec.status == "open"]
            redone = dict(zip(reopen, sections(reopen, pixel, True), strict=True))
            for depth, sec in zip(fine_depths, fine, strict=True):
                sec = redone.get(depth, sec)
                if sec.status == "ok" and (best is None or sec.area_mm2 < best.area_mm2):
                    best, best_depth = sec, depth
    if axis_outside:
        warnings.append(
            "Part of the LVOT axis lies outside the CT volume; those planes were skipped."
        )
    if skipped_open:
        warnings.append(
            f"Neo-LVOT: {len(skipped_open)} plane(s) between {min(skipped_open):.1f} and "
            f"{max(skipped_open):.1f} mm below the aortic annulus were skipped: the lumen there "
            f"reaches {sampler.half_width_mm:g} mm from the axis (not an enclosed outflow tract)."
        )
    if skipped_empty:
        warnings.append(
            f"Neo-LVOT: no lumen near the LVOT axis in {len(skipped_empty)} plane(s) between "
            f"{min(skipped_empty):.1f} and {max(skipped_empty):.1f} mm below the aortic annulus."
        )
    if best is None:
        raise NotAssessed(
            "Neo-LVOT not assessed: no enclosed LVOT cross-section was found along the LVOT "
            "axis (check the aortic hinges and the contrast)."
        )
    if best_depth >= depth_end - coarse_step:
        warnings.append(
            "Neo-LVOT: the narrowest section lies at the deepest plane searched; the LVOT may "
            "narrow further toward the apex."
        )
    point = origin - best_depth * n
    for arr in (point, best.centroid_lps, n, sampler.u, sampler.v, center, axis):
        arr.setflags(write=False)
    return NeoLvotResult(
        area_mm2=best.area_mm2,
        distance_from_annulus_mm=best_depth,
        position_lps=point,
        centroid_lps=best.centroid_lps,
        area_without_valve_mm2=best.native_area_mm2,
        plane_normal_lps=n,
        plane_u_lps=sampler.u,
        plane_v_lps=sampler.v,
        valve=valve,
        valve_center_lps=center,
        valve_axis_lps=axis,
        lumen_hu=float(lumen_hu),
        myocardium_hu=myocardium,
        lumen_threshold_hu=lumen_threshold,
        profile=tuple(profile),
        section_mask=best.region,
        pixel_mm=pixel,
        warnings=tuple(warnings),
    )


@dataclass(frozen=True, eq=False)
class _Section:
    status: str  # ok | open | empty
    area_mm2: float = 0.0
    native_area_mm2: float = 0.0
    centroid_lps: FloatArray = field(default_factory=lambda: np.zeros(3))
    region: BoolArray = field(default_factory=lambda: np.zeros((0, 0), bool))
    reach_mm: float = 0.0  # farthest region pixel from the centreline point


class _PlaneSampler:
    """Samples HU in planes perpendicular to ``n`` straight from the volume (no crop copy):
    positions are mapped to voxel indices once per plane through the inverse affine."""

    def __init__(self, volume: Volume, normal: FloatArray, half_width_mm: float) -> None:
        self.volume = volume
        self.u, self.v = perpendicular_basis(normal)
        self.half_width_mm = half_width_mm
        inv = np.linalg.inv(volume.affine)
        self._lin, self._shift = inv[:3, :3], inv[:3, 3]

    def _kji(self, lps: FloatArray) -> FloatArray:
        ijk = lps @ self._lin.T + self._shift
        result: FloatArray = np.moveaxis(ijk[..., ::-1], -1, 0)
        return result

    def hu_at(self, lps: FloatArray) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = ndimage.map_coordinates(
            self.volume.hu, self._kji(lps), order=1, output=np.float32, mode="nearest"
        )
        return result

    def sections(
        self,
        points: FloatArray,
        pixel: float,
        lumen_threshold: float,
        calcium_hu: float | None,
        calcium_mask: BoolArray | None,
        valve: VirtualValve,
        center: FloatArray,
        axis: FloatArray,
        search_mm: float,
        with_native: bool = False,
        half_width_mm: float | None = None,
    ) -> list[_Section]:
        """The section through each of ``points`` (D, 3): one interpolation and one label
        call for all of them (planes are labelled apart)."""
        half = (
            self.half_width_mm if half_width_mm is None else min(half_width_mm, self.half_width_mm)
        )
        grid = np.arange(-half, half + 1e-9, pixel)
        a, b = np.meshgrid(grid, grid, indexing="ij")
        plane = a[..., None] * self.u + b[..., None] * self.v
        pts = points[:, None, None, :] + plane[None]
        hu = self.hu_at(pts)
        native = hu >= lumen_threshold
        if calcium_hu is not None:
            native &= hu < calcium_hu
        if calcium_mask is not None:
            native &= (
                ndimage.map_coordinates(calcium_mask, self._kji(pts), order=0, mode="nearest") == 0
            )
        # valve containment from the plane coordinates: for a point q = p + a u + b v and the
        # valve's atrial end c, r = q - c has r.axis = (p - c).axis + a u.axis + b v.axis and
        # |r|^2 = |p - c|^2 + 2 a (p - c).u + 2 b (p - c).v + a^2 + b^2 (u, v orthonormal)
        atrial, _ = valve.ends(center, axis)
        rel = points - atrial
        rel_axis, rel_u, rel_v = (rel @ np.stack([axis, self.u, self.v]).T).T[..., None, None]
        rel_sq = np.einsum("ij,ij->i", rel, rel)[:, None, None]
        along = rel_axis + a * float(self.u @ axis) + b * float(self.v @ axis)
        r2 = rel_sq + 2.0 * (a * rel_u + b * rel_v) + (a**2 + b**2)
        in_valve = (along >= 0.0) & (along <= valve.height_mm)
        in_valve &= r2 - along**2 <= valve.radius_mm**2
        neo = native & ~in_valve
        labels, _ = ndimage.label(neo, structure=_STRUCTURE_PLANES)
        open_labels = set(
            np.unique(
                np.concatenate(
                    [
                        labels[:, 0, :].ravel(),
                        labels[:, -1, :].ravel(),
                        labels[:, :, 0].ravel(),
                        labels[:, :, -1].ravel(),
                    ]
                )
            ).tolist()
        )
        native_labels = None
        if with_native:
            native_labels, _ = ndimage.label(native, structure=_STRUCTURE_PLANES)
        centre_px = (len(grid) // 2, len(grid) // 2)
        radius2 = a**2 + b**2
        out: list[_Section] = []
        for index in range(len(points)):
            seed = _nearest_true(neo[index], centre_px, search_mm / pixel)
            if seed is None:
                out.append(_Section("empty"))
                continue
            label = int(labels[index][seed])
            if label in open_labels:
                out.append(_Section("open"))
                continue
            region = labels[index] == label
            native_area = 0.0
            if native_labels is not None:
                native_region = native_labels[index] == native_labels[index][seed]
                native_area = float(np.count_nonzero(native_region)) * pixel**2
            out.append(
                _Section(
                    "ok",
                    float(np.count_nonzero(region)) * pixel**2,
                    native_area,
                    pts[index][region].mean(axis=0),
                    region,
                    float(np.sqrt(radius2[region].max())),
                )
            )
        return out


def _cylinder_lattice(
    valve: VirtualValve, center: FloatArray, axis: FloatArray, step_mm: float
) -> FloatArray:
    """Points of a lattice inside the valve cylinder, LPS mm."""
    u, v = perpendicular_basis(axis)
    atrial, _ = valve.ends(center, axis)
    r = np.arange(-valve.radius_mm, valve.radius_mm + 1e-9, step_mm)
    h = np.arange(step_mm / 2, valve.height_mm, step_mm)
    ga, gb, gh = np.meshgrid(r, r, h, indexing="ij")
    keep = ga**2 + gb**2 <= valve.radius_mm**2
    pts: FloatArray = (
        atrial + ga[keep][:, None] * u + gb[keep][:, None] * v + gh[keep][:, None] * axis
    )
    return pts


def _ball_offsets(radius_mm: float, step_mm: float) -> FloatArray:
    g = np.arange(-radius_mm, radius_mm + 1e-9, step_mm)
    x, y, z = np.meshgrid(g, g, g, indexing="ij")
    keep = x**2 + y**2 + z**2 <= radius_mm**2
    result: FloatArray = np.stack([x[keep], y[keep], z[keep]], axis=1)
    return result
