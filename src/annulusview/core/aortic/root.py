"""Aortic root and LVOT dimensions on planes parallel to the annulus (clinical-model.md 4.2).

Every plane is ``h = const`` of the annulus frame (a straight-axis approximation: the planes
follow the annulus normal, not a curved centreline). Each plane's lumen is contoured by
root_contour.py (FWHM edge on 360 rays from the axis, leaflets bridged, coronary branches cut
off, no convex hull).

Sinus and STJ planes come from a sweep of planes every 1 mm from +5 to +40 mm (0.5 mm
pixels), the chosen ones re-contoured at 0.25 mm. Section 4.2's rule (sinus: largest area in
+5..+25 mm; STJ: smallest area above it, here the lowest plane within 2 % of it) is used as is
unless the area profile has a waist, a plane at least 5 % narrower than both the sinus below and
the aorta above it (a dilated or dissected ascending aorta): the waist is then the STJ and the
sinus is searched below it.

Numbers that cannot be measured (non-contrast scan, plane outside the volume, a failed contour)
are None with a reason; never a guess.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annulusview.core.aortic.frame import CUSPS, AnnulusFrame
from annulusview.core.aortic.root_contour import (
    SWEEP_LEVEL_PASSES,
    SWEEP_PIXEL_MM,
    PlaneContour,
    plane_pixels,
    sample_planes,
    try_contour,
)
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

MEASURED = "measured"
NOT_ASSESSED = "not_assessed"
FAILED = "failed"

LVOT_LEVEL_MM = -4.0
SINUS_SEARCH_MM = (5.0, 25.0)
STJ_TOP_MM = 40.0
ASCENDING_LEVEL_MM = 40.0
SWEEP_STEP_MM = 1.0
#: First pass of the plane sweep; the chosen planes' neighbours are then added every
#: SWEEP_STEP_MM (coarse to fine).
COARSE_STEP_MM = 2.0
#: The STJ is the lowest plane above the sinus whose area is within this fraction of the
#: smallest area up to +40 mm: on a tube of constant calibre the bare minimum is a random plane
#: of the tube. 2 % of the area is 1 % of the diameter (0.3 mm on a 27 mm STJ), below what the
#: CT resolves, so such a plane cannot be told from the minimum.
STJ_AREA_TOLERANCE = 0.02
#: A waist (section :func:`_waist`) is this fraction narrower than the bulges on both sides,
#: which lie at least WAIST_SPAN_MM away from it.
WAIST_MARGIN = 0.05
WAIST_SPAN_MM = 3.0

NON_CONTRAST_REASON = (
    "not assessed: the scan is not a contrast CT angiogram (non-contrast or indeterminate "
    "enhancement), so there is no lumen to contour"
)


@dataclass(frozen=True)
class RootPart:
    """One block of the root results: its numbers, or None with a reason."""

    status: str
    values: dict[str, Any]
    reason: str | None = None
    contour: PlaneContour | None = None

    def __post_init__(self) -> None:
        if self.status not in (MEASURED, NOT_ASSESSED, FAILED):
            raise ValueError(
                f"RootPart.status must be measured/not_assessed/failed, not {self.status!r}"
            )
        if self.status != MEASURED and not self.reason:
            raise ValueError("RootPart.reason is required when a root number is not measured")

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.values)
        out["status"] = self.status
        out["reason"] = self.reason
        if self.contour is not None:
            out["contour_lps"] = [[round(float(c), 3) for c in p] for p in self.contour.contour_lps]
        return out


@dataclass(frozen=True)
class RootMeasurements:
    """LVOT, sinus of Valsalva, STJ and ascending aorta (section 4.2)."""

    lvot: RootPart
    sinus: RootPart
    stj: RootPart
    ascending: RootPart
    sinus_heights_mm: dict[str, float | None] = field(default_factory=dict)

    @property
    def ascending_aorta_diameter_mm(self) -> float | None:
        value = self.ascending.values.get("diameter_mm")
        return None if value is None else float(value)

    def to_dict(self) -> dict[str, Any]:
        return {
            "lvot": self.lvot.to_dict(),
            "sinus": self.sinus.to_dict(),
            "stj": self.stj.to_dict(),
            "sinus_heights_mm": dict(self.sinus_heights_mm),
            "ascending_aorta": self.ascending.to_dict(),
            "ascending_aorta_diameter_mm": self.ascending_aorta_diameter_mm,
            "method": (
                "lumen contour (FWHM, 360 rays, leaflets bridged, coronaries cut off) on planes "
                "parallel to the annulus: a straight-axis approximation along the annulus normal"
            ),
        }


def _empty_lvot() -> dict[str, Any]:
    return {
        "level_mm": LVOT_LEVEL_MM,
        "area_mm2": None,
        "perimeter_mm": None,
        "d_min_mm": None,
        "d_max_mm": None,
    }


def _empty_sinus() -> dict[str, Any]:
    return {"height_mm": None, "area_mm2": None, "diameter_mm": {c: None for c in CUSPS}}


def _empty_stj() -> dict[str, Any]:
    return {"height_mm": None, "diameter_mm": None, "area_mm2": None}


def _empty_ascending() -> dict[str, Any]:
    return {"level_mm": ASCENDING_LEVEL_MM, "diameter_mm": None, "area_mm2": None}


def not_assessed(reason: str = NON_CONTRAST_REASON) -> RootMeasurements:
    """Every root number None, with the reason (non-contrast or indeterminate scans)."""
    return RootMeasurements(
        lvot=RootPart(NOT_ASSESSED, _empty_lvot(), reason),
        sinus=RootPart(NOT_ASSESSED, _empty_sinus(), reason),
        stj=RootPart(NOT_ASSESSED, _empty_stj(), reason),
        ascending=RootPart(NOT_ASSESSED, _empty_ascending(), reason),
        sinus_heights_mm={c: None for c in CUSPS},
    )


def _waist(planes: dict[float, PlaneContour]) -> float | None:
    """The STJ as a waist: the narrowest plane of the first run of planes that are at least
    ``WAIST_MARGIN`` narrower than the sinus below them (in the sinus band, ``WAIST_SPAN_MM``
    or more below) and than the aorta above them (``WAIST_SPAN_MM`` or more above).

    Where the ascending aorta is wider than the junction (dilated, or a dissection), the
    smallest area up to +40 mm lies in the ascending aorta and the largest in the sinus band
    may too; the waist between the two bulges is the junction. None when there is no such waist
    (an ascending aorta no wider than the junction): section 4.2's rule then applies as is.
    """
    heights = sorted(planes)
    areas = {h: planes[h].area_mm2 for h in heights}
    run: list[float] = []
    for h in heights:
        below = [
            areas[b]
            for b in heights
            if SINUS_SEARCH_MM[0] <= b <= min(h - WAIST_SPAN_MM, SINUS_SEARCH_MM[1])
        ]
        above = [areas[a] for a in heights if a >= h + WAIST_SPAN_MM]
        narrow = (1.0 + WAIST_MARGIN) * areas[h]
        if below and above and max(below) >= narrow and max(above) >= narrow:
            run.append(h)
        elif run:
            break
    return None if not run else min(run, key=lambda h: areas[h])


def _choose_heights(
    planes: dict[float, PlaneContour], reasons: dict[float, str]
) -> tuple[float | None, float | None, float | None]:
    """The sinus, STJ and waist heights :func:`measure_root` would pick from these planes
    (None where it would report a failure), for the coarse-to-fine sweep."""
    heights = sorted(set(planes) | set(reasons))
    waist = _waist(planes)
    top = SINUS_SEARCH_MM[1] if waist is None else min(SINUS_SEARCH_MM[1], waist)
    in_sinus = [h for h in planes if SINUS_SEARCH_MM[0] <= h <= top]
    if any(h <= SINUS_SEARCH_MM[1] for h in reasons) or not in_sinus:
        return None, None, waist
    sinus = max(in_sinus, key=lambda h: planes[h].area_mm2)
    above = [h for h in heights if h > sinus]
    if waist is not None:
        return sinus, waist, waist
    if not above or any(h in reasons for h in above):
        return sinus, None, None
    areas = np.array([planes[h].area_mm2 for h in above])
    low = float(areas.min()) * (1.0 + STJ_AREA_TOLERANCE)
    return sinus, float(above[int(np.flatnonzero(areas <= low)[0])]), None


def _refine(
    volume: Volume, frame: AnnulusFrame, h: float, rules: Rules, coarse: PlaneContour
) -> PlaneContour:
    """The plane re-contoured at the reporting pixel (the sweep's contour if that fails)."""
    fine, why = try_contour(volume, frame, h, rules)
    if fine is None:  # pragma: no cover - the coarse contour of the same plane succeeded
        log.warning("fine contour at h = %+.1f mm failed (%s); the sweep contour is kept", h, why)
        return coarse
    return fine


def measure_root(
    volume: Volume,
    frame: AnnulusFrame,
    landmarks: Landmarks,
    rules: Rules,
    contrast: bool,
    lvot_level_mm: float = LVOT_LEVEL_MM,
) -> tuple[RootMeasurements, tuple[str, ...]]:
    """LVOT, sinus, STJ and ascending aorta (clinical-model.md 4.2); measurements and warnings.

    Parameters
    ----------
    volume, frame, landmarks, rules
        The CT, the annulus frame, the landmarks (hinges, for the sinus heights) and the rules.
    contrast
        A contrast CTA; otherwise every number is None with the reason.
    lvot_level_mm
        Height of the LVOT plane (negative: below the annulus), mm.
    """
    if not contrast:
        return not_assessed(), (f"Root and LVOT {NON_CONTRAST_REASON}.",)
    warnings: list[str] = []

    lvot_values = _empty_lvot() | {"level_mm": lvot_level_mm}
    contour, why = try_contour(volume, frame, lvot_level_mm, rules)
    if contour is None:
        lvot = RootPart(FAILED, lvot_values, f"LVOT contour failed: {why}")
    else:
        d_min, d_max = contour.calipers_mm()
        lvot_values |= {
            "area_mm2": contour.area_mm2,
            "perimeter_mm": contour.perimeter_mm,
            "d_min_mm": d_min,
            "d_max_mm": d_max,
            "d_area_mm": contour.d_area_mm,
        }
        lvot = RootPart(MEASURED, lvot_values, None, contour)

    planes: dict[float, PlaneContour] = {}
    reasons: dict[float, str] = {}

    def sweep(at: set[float]) -> None:
        heights = sorted(at)
        sections = sample_planes(
            volume, frame, heights, rules, plane_pixels(rules, SWEEP_PIXEL_MM)[1]
        )
        for h, section in zip(heights, sections, strict=True):
            c, why = try_contour(
                volume, frame, h, rules, SWEEP_PIXEL_MM, SWEEP_LEVEL_PASSES, section
            )
            if c is None:
                reasons[h] = why
            else:
                planes[h] = c

    # Coarse to fine: every COARSE_STEP_MM first, then the SWEEP_STEP_MM neighbours of the
    # planes chosen, until the choice no longer changes (the rules then see every plane the
    # choice depends on at SWEEP_STEP_MM).
    sweep({float(h) for h in np.arange(SINUS_SEARCH_MM[0], STJ_TOP_MM + 1e-6, COARSE_STEP_MM)}
          | {ASCENDING_LEVEL_MM})  # fmt: skip
    for _ in range(6):
        chosen = [h for h in _choose_heights(planes, reasons) if h is not None]
        extra = (
            {
                round(h + d, 6)
                for h in chosen
                for d in (-SWEEP_STEP_MM, SWEEP_STEP_MM)
                if SINUS_SEARCH_MM[0] <= h + d <= STJ_TOP_MM
            }
            - set(planes)
            - set(reasons)
        )
        if not extra:
            break
        sweep(extra)
    heights = np.array(sorted(set(planes) | set(reasons)))

    waist = _waist(planes)
    top = SINUS_SEARCH_MM[1] if waist is None else min(SINUS_SEARCH_MM[1], waist)
    in_sinus = [h for h in planes if SINUS_SEARCH_MM[0] <= h <= top]
    sinus_missing = [h for h in heights if h <= SINUS_SEARCH_MM[1] and float(h) in reasons]
    sinus_plane: PlaneContour | None = None
    if sinus_missing:
        first = reasons[float(sinus_missing[0])]
        sinus = RootPart(
            FAILED,
            _empty_sinus(),
            f"sinus not measured: {len(sinus_missing)} planes between "
            f"+{SINUS_SEARCH_MM[0]:g} and +{SINUS_SEARCH_MM[1]:g} mm failed ({first})",
        )
    elif not in_sinus:  # pragma: no cover - the sweep covers the band
        sinus = RootPart(FAILED, _empty_sinus(), "sinus not measured: no plane in the band")
    else:
        best = max(in_sinus, key=lambda h: planes[h].area_mm2)
        sinus_plane = _refine(volume, frame, best, rules, planes[best])
        diameters = {
            cusp: sinus_plane.radius_at(frame.hinge_angles_deg[f"{cusp}_hinge"])
            + sinus_plane.radius_at(frame.hinge_angles_deg[f"{cusp}_hinge"] + 180.0)
            for cusp in CUSPS
        }
        sinus = RootPart(
            MEASURED,
            {"height_mm": best, "area_mm2": sinus_plane.area_mm2, "diameter_mm": diameters},
            None,
            sinus_plane,
        )

    stj_plane: PlaneContour | None = None
    if sinus_plane is None:
        stj = RootPart(FAILED, _empty_stj(), "STJ not measured: the sinus plane was not found")
    else:
        above = [h for h in heights if h > sinus_plane.height_mm]
        missing = [h for h in above if float(h) in reasons]
        if waist is not None:
            stj_plane = _refine(volume, frame, waist, rules, planes[waist])
            stj = RootPart(
                MEASURED,
                {
                    "height_mm": waist,
                    "diameter_mm": stj_plane.d_area_mm,
                    "area_mm2": stj_plane.area_mm2,
                },
                None,
                stj_plane,
            )
        elif missing:
            stj = RootPart(
                FAILED,
                _empty_stj(),
                f"STJ not measured: the plane at h = {missing[0]:+.1f} mm failed "
                f"({reasons[float(missing[0])]})",
            )
        else:
            areas = np.array([planes[float(h)].area_mm2 for h in above])
            low = float(areas.min()) * (1.0 + STJ_AREA_TOLERANCE)
            h_stj = float(above[int(np.flatnonzero(areas <= low)[0])])
            stj_plane = _refine(volume, frame, h_stj, rules, planes[h_stj])
            stj = RootPart(
                MEASURED,
                {
                    "height_mm": h_stj,
                    "diameter_mm": stj_plane.d_area_mm,
                    "area_mm2": stj_plane.area_mm2,
                },
                None,
                stj_plane,
            )

    asc_plane = planes.get(ASCENDING_LEVEL_MM)
    if asc_plane is not None:
        asc_plane = _refine(volume, frame, ASCENDING_LEVEL_MM, rules, asc_plane)
    if asc_plane is None:
        why = reasons.get(ASCENDING_LEVEL_MM, "not sampled")
        ascending = RootPart(FAILED, _empty_ascending(), f"ascending aorta not measured: {why}")
    else:
        ascending = RootPart(
            MEASURED,
            _empty_ascending()
            | {"diameter_mm": asc_plane.d_area_mm, "area_mm2": asc_plane.area_mm2},
            None,
            asc_plane,
        )

    sinus_heights: dict[str, float | None] = {}
    h_stj_value = stj.values.get("height_mm")
    for cusp in CUSPS:
        hinge = landmarks.get(f"{cusp}_hinge")
        if h_stj_value is None or hinge is None:
            sinus_heights[cusp] = None
        else:
            sinus_heights[cusp] = float(h_stj_value - float(frame.cylindrical(hinge)[0]))

    for part, name in (
        (lvot, "LVOT"),
        (sinus, "Sinus"),
        (stj, "STJ"),
        (ascending, "Ascending aorta"),
    ):
        if part.status != MEASURED:
            warnings.append(f"{name}: {part.reason}.")
    return RootMeasurements(lvot, sinus, stj, ascending, sinus_heights), tuple(warnings)
