"""Coronary obstruction inputs and rules (clinical-model.md sections 4.3 and 7.2).

For each coronary artery (LCA from the left sinus, RCA from the right):

- the *height* is ``h`` of its ostium landmark (the lower rim of the ostium) above the annular
  plane;
- *that sinus* is the sinus-to-commissure diameter of its cusp (LCA: LCC, RCA: RCC) measured in
  the sinus plane on contrast CT (section 4.2);
- the *VTC* (virtual valve to coronary distance) is ``r(ostium) - valve_diameter / 2``: the
  displaced native leaflet is modelled as a cylinder of the planned valve's nominal diameter,
  coaxial with the annulus normal, so VTC is how far the ostium lies outside that cylinder.

The rule ``coronary.obstruction_LCA`` / ``_RCA``: VTC <= 4 mm is met at level high; a height
below 12 mm together with that sinus below 30 mm is met at level moderate. When only part of the
criterion can be assessed (no planned valve: no VTC), that part decides and the message says
what was not assessed; nothing assessable gives ``not_assessed``. A criterion that is not met
never reads as reassurance: the message lists what the rule could not see (the leaflet length
against the coronary height, bulky leaflet calcium).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.flags import HIGH, MODERATE, Flag, indeterminate, met, not_assessed, not_met
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import Rules

#: Artery -> the cusp whose sinus it leaves.
ARTERY_CUSP = {"LCA": "LCC", "RCA": "RCC"}
ARTERIES = tuple(ARTERY_CUSP)

_KEY = "coronary_obstruction"


@dataclass(frozen=True)
class CoronaryInput:
    """What the coronary rule reads for one artery (None where not measured).

    Attributes
    ----------
    artery
        ``"LCA"`` or ``"RCA"``.
    height_mm
        Height of the ostium's lower rim above the annular plane, mm.
    ostium_radius_mm
        Distance of the ostium landmark from the annulus axis (the line through O along n), mm.
    sinus_diameter_mm
        Sinus-to-commissure diameter of the artery's cusp (contrast CT only), mm.
    valve_size_mm
        Nominal diameter of the planned valve, mm.
    cusp_calcium_mm3
        Calcium volume in the artery's cusp sector of the analysis region (leaflet, annulus and
        LVOT together: an upper bound of that leaflet's calcium), mm^3.
    """

    artery: str
    height_mm: float | None
    ostium_radius_mm: float | None
    sinus_diameter_mm: float | None
    valve_size_mm: float | None
    cusp_calcium_mm3: float | None = None

    @property
    def cusp(self) -> str:
        return ARTERY_CUSP[self.artery]

    @property
    def vtc_mm(self) -> float | None:
        """``r(ostium) - valve_size / 2`` (negative: the ostium lies inside the virtual valve)."""
        if self.ostium_radius_mm is None or self.valve_size_mm is None:
            return None
        return self.ostium_radius_mm - self.valve_size_mm / 2.0


def coronary_inputs(
    landmarks: Landmarks,
    frame: AnnulusFrame,
    sinus_diameter_mm: Mapping[str, float | None],
    valve_size_mm: float | None,
    cusp_calcium_mm3: Mapping[str, float | None] | None = None,
) -> dict[str, CoronaryInput]:
    """The rule inputs of both arteries from the ostium landmarks, the sinus plane and the valve.

    ``sinus_diameter_mm`` maps cusp -> sinus-to-commissure diameter (None when not measured);
    ``cusp_calcium_mm3`` maps cusp -> calcium volume of that cusp sector.
    """
    out: dict[str, CoronaryInput] = {}
    calcium = cusp_calcium_mm3 or {}
    for artery, cusp in ARTERY_CUSP.items():
        pos = landmarks.get(f"{artery}_ostium")
        if pos is None:
            height = radius = None
        else:
            h, r, _ = frame.cylindrical(pos)
            height, radius = float(h), float(r)
        sinus = sinus_diameter_mm.get(cusp)
        volume = calcium.get(cusp)
        out[artery] = CoronaryInput(
            artery=artery,
            height_mm=height,
            ostium_radius_mm=radius,
            sinus_diameter_mm=None if sinus is None else float(sinus),
            valve_size_mm=valve_size_mm,
            cusp_calcium_mm3=None if volume is None else float(volume),
        )
    return out


def evaluate_coronary(inputs: Mapping[str, CoronaryInput], rules: Rules) -> tuple[Flag, ...]:
    """``coronary.obstruction_LCA`` and ``coronary.obstruction_RCA``, in that order."""
    return tuple(
        _evaluate_one(inputs.get(artery) or CoronaryInput(artery, None, None, None, None), rules)
        for artery in ARTERIES
    )


def _evaluate_one(item: CoronaryInput, rules: Rules) -> Flag:
    rule = f"coronary.obstruction_{item.artery}"
    evidence = rules.evidence(f"flags.{_KEY}")
    vtc_limit = rules.number(f"flags.{_KEY}.vtc_le_mm")
    height_limit = rules.number(f"flags.{_KEY}.height_lt_mm")
    sinus_limit = rules.number(f"flags.{_KEY}.sinus_lt_mm")
    bulky = rules.number(f"flags.{_KEY}.cusp_calcium_gt_mm3")
    artery, cusp = item.artery, item.cusp
    if item.height_mm is None:
        return not_assessed(rule, f"no {artery}_ostium landmark.", evidence, "mm")

    height, sinus, vtc = item.height_mm, item.sinus_diameter_mm, item.vtc_mm
    unseen: list[str] = []  # what the rule could not look at, said in every outcome
    if vtc is None:
        unseen.append("VTC not assessed (no planned valve size: --valve FAMILY:SIZE)")
    if sinus is None:
        unseen.append(f"{cusp} sinus not measured (it needs a contrast CTA)")
    unseen.append("the leaflet length against the coronary height is not measured")
    missing = "; ".join(unseen)

    sinus_text = "not measured" if sinus is None else f"{sinus:.1f} mm"
    low = height < height_limit
    shallow = None if sinus is None else sinus < sinus_limit

    if vtc is not None and vtc <= vtc_limit:
        return met(
            rule,
            HIGH,
            vtc,
            vtc_limit,
            f"Criterion met: {artery} VTC {vtc:.1f} mm <= {vtc_limit:g} mm with a "
            f"{item.valve_size_mm:g} mm valve (ostium {height:.1f} mm above the annulus, "
            f"{cusp} sinus {sinus_text}); in the sources a VTC of 4 mm or less went with "
            "coronary obstruction. Also: " + missing + ".",
            evidence,
            "mm",
        )
    if low and shallow:
        return met(
            rule,
            MODERATE,
            height,
            height_limit,
            f"Criterion met: {artery} ostium {height:.1f} mm above the annulus (< "
            f"{height_limit:g} mm) with the {cusp} sinus {sinus_text} (< {sinus_limit:g} mm); "
            "low ostia over shallow sinuses went with coronary obstruction in the sources. "
            + ("" if vtc is None else f"VTC {vtc:.1f} mm (> {vtc_limit:g} mm). ")
            + "Also: "
            + missing
            + ".",
            evidence,
            "mm",
        )
    if vtc is not None and item.cusp_calcium_mm3 is not None and item.cusp_calcium_mm3 > bulky:
        return indeterminate(
            rule,
            vtc,
            vtc_limit,
            f"{artery} VTC {vtc:.1f} mm (> {vtc_limit:g} mm), but {item.cusp_calcium_mm3:.0f} "
            f"mm³ of calcium lies in the {cusp} sector (> {bulky:g} mm³); in the native-valve "
            "model bulky leaflet calcium is a criterion of its own, which this volume (leaflet, "
            "annulus and LVOT together) cannot decide.",
            evidence,
            "mm",
        )
    if low and shallow is None:
        return indeterminate(
            rule,
            height,
            height_limit,
            f"{artery} ostium {height:.1f} mm above the annulus (< {height_limit:g} mm); the "
            f"{cusp} sinus was not measured, so the height criterion cannot be decided. "
            + missing
            + ".",
            evidence,
            "mm",
        )
    parts = [f"ostium {height:.1f} mm above the annulus", f"{cusp} sinus {sinus_text}"]
    if vtc is not None:
        parts.append(f"VTC {vtc:.1f} mm > {vtc_limit:g} mm with a {item.valve_size_mm:g} mm valve")
    value, limit = (vtc, vtc_limit) if vtc is not None else (height, height_limit)
    return not_met(
        rule,
        value,
        limit,
        f"Criterion not met: {artery} {', '.join(parts)}. Not a reassurance: " + missing + ".",
        evidence,
        "mm",
    )
