"""Risk flags (clinical-model.md section 7), every one with its value, threshold and source.

Every rule is always emitted, so a report shows what was checked as well as what was found:

* ``high`` / ``moderate``: the rule is *raised*;
* ``low``: the rule was assessed and not raised (for ``conduction.ms_length`` > 6 mm this is
  the rule's own low-risk stratum);
* ``not_assessed``: an input is missing; ``reason`` says which.

Thresholds and references come from the rules file (``[flags.*]``).
"""

from __future__ import annotations

from dataclasses import dataclass

from annulusview.core.aortic.valve import PlannedValve
from annulusview.core.flags import HIGH, LOW, MODERATE, NOT_ASSESSED, Flag
from annulusview.core.rules import Rules


@dataclass(frozen=True)
class RiskInputs:
    """What the rules look at; None where not available.

    Attributes
    ----------
    contrast
        Contrast-enhanced study.
    annulus_area_mm2
        Annulus area, mm^2.
    lvot_calcium_mm3, lvot_calcium_lcc_mm3, lvot_calcium_ncc_mm3
        LVOT calcium volume in total and in the LCC / NCC sectors, mm^3.
    leaflet_calcium_850_mm3
        Leaflet calcium volume at 850 HU, mm^3 (contrast CT only).
    max_protrusion_mm
        Largest inward extent of an annulus/LVOT lesion, mm (0 without such lesions).
    min_distance_to_conduction_mm
        Smallest lesion distance to the conduction zone, mm (None without lesions).
    ms_length_mm
        Membranous septum length, mm.
    valve_agatston
        Agatston score of leaflet + annulus (non-contrast only).
    sex
        ``"M"``, ``"F"`` or None.
    valve
        Planned valve.
    """

    contrast: bool
    annulus_area_mm2: float
    lvot_calcium_mm3: float
    lvot_calcium_lcc_mm3: float
    lvot_calcium_ncc_mm3: float
    leaflet_calcium_850_mm3: float | None
    max_protrusion_mm: float
    min_distance_to_conduction_mm: float | None
    ms_length_mm: float | None
    valve_agatston: float | None
    sex: str | None
    valve: PlannedValve


def _not_assessed(rule_id: str, reference: str, reason: str, unit: str = "") -> Flag:
    return Flag(
        rule_id, NOT_ASSESSED, None, None, f"Not assessed: {reason}", reference, unit, reason
    )


def evaluate_flags(inputs: RiskInputs, rules: Rules) -> tuple[Flag, ...]:
    """Evaluate every rule of section 7, in the order of the specification."""
    flags: list[Flag] = []

    def ref(key: str) -> str:
        return str(rules.get(f"flags.{key}.reference"))

    def num(key: str) -> float:
        return rules.number(f"flags.{key}")

    # pvl.lvot_calcium: any LVOT calcium (moderate), > 40 mm^3 (high).
    lvot = inputs.lvot_calcium_mm3
    hi, mod = num("pvl_lvot_calcium.high_gt_mm3"), num("pvl_lvot_calcium.moderate_gt_mm3")
    if lvot > hi:
        flags.append(
            Flag(
                "pvl.lvot_calcium",
                HIGH,
                lvot,
                hi,
                f"LVOT calcium {lvot:.1f} mm^3 > {hi:g} mm^3: high risk of paravalvular leak.",
                ref("pvl_lvot_calcium"),
                "mm3",
            )
        )
    elif lvot > mod:
        flags.append(
            Flag(
                "pvl.lvot_calcium",
                MODERATE,
                lvot,
                mod,
                f"LVOT calcium present ({lvot:.1f} mm^3): raised risk of paravalvular leak.",
                ref("pvl_lvot_calcium"),
                "mm3",
            )
        )
    else:
        flags.append(
            Flag(
                "pvl.lvot_calcium",
                LOW,
                lvot,
                mod,
                "No LVOT calcium.",
                ref("pvl_lvot_calcium"),
                "mm3",
            )
        )

    # pvl.leaflet_calcium_850 (contrast CT only).
    key = "pvl_leaflet_calcium_850"
    if inputs.leaflet_calcium_850_mm3 is None:
        flags.append(
            _not_assessed(
                "pvl.leaflet_calcium_850",
                ref(key),
                "the 850 HU leaflet calcium rule is defined on contrast CT.",
                "mm3",
            )
        )
    else:
        value, hi = inputs.leaflet_calcium_850_mm3, num(f"{key}.high_ge_mm3")
        level = HIGH if value >= hi else LOW
        text = (
            f"Leaflet calcium at 850 HU {value:.1f} mm^3 >= {hi:g} mm^3: high risk of "
            "paravalvular leak."
            if level == HIGH
            else f"Leaflet calcium at 850 HU {value:.1f} mm^3 (< {hi:g} mm^3)."
        )
        flags.append(Flag("pvl.leaflet_calcium_850", level, value, hi, text, ref(key), "mm3"))

    # pvl.protrusion: an annulus/LVOT lesion reaching > 4 mm into the lumen.
    value, hi = inputs.max_protrusion_mm, num("pvl_protrusion.high_gt_mm")
    level = HIGH if value > hi else LOW
    text = (
        f"Annulus/LVOT calcium protrudes {value:.1f} mm into the lumen (> {hi:g} mm): high risk "
        "of paravalvular leak."
        if level == HIGH
        else f"Largest annulus/LVOT calcium protrusion {value:.1f} mm (<= {hi:g} mm)."
    )
    flags.append(Flag("pvl.protrusion", level, value, hi, text, ref("pvl_protrusion"), "mm"))

    # Oversizing rules need a planned valve.
    oversizing = inputs.valve.area_oversizing_pct(inputs.annulus_area_mm2)
    key = "pvl_undersizing_with_lvot_calcium"
    threshold = num(f"{key}.moderate_lt_pct")
    if oversizing is None:
        flags.append(
            _not_assessed(
                "pvl.undersizing_with_lvot_calcium",
                ref(key),
                "no planned valve size (--valve-size).",
                "pct",
            )
        )
    else:
        raised = lvot > 0 and oversizing < threshold
        text = (
            f"Area oversizing {oversizing:.1f} % < {threshold:g} % with LVOT calcium: raised "
            "risk of paravalvular leak."
            if raised
            else f"Area oversizing {oversizing:.1f} %"
            + (" with LVOT calcium." if lvot > 0 else "; no LVOT calcium.")
        )
        flags.append(
            Flag(
                "pvl.undersizing_with_lvot_calcium",
                MODERATE if raised else LOW,
                oversizing,
                threshold,
                text,
                ref(key),
                "pct",
            )
        )

    key = "rupture_lvot_calcium_oversizing"
    threshold = num(f"{key}.high_ge_pct")
    if oversizing is None:
        flags.append(
            _not_assessed(
                "rupture.lvot_calcium_oversizing",
                ref(key),
                "no planned valve size (--valve-size).",
                "pct",
            )
        )
    else:
        # LVOT calcium with >= 20 % area oversizing is the rupture setting (moderate); LVOT
        # calcium in the LCC sector on top of it raises the level to high.
        if lvot > 0 and oversizing >= threshold:
            level = HIGH if inputs.lvot_calcium_lcc_mm3 > 0 else MODERATE
            where = " under the LCC" if level == HIGH else ""
            text = (
                f"LVOT calcium{where} with area oversizing {oversizing:.1f} % >= {threshold:g} %: "
                "risk of annular rupture."
            )
        else:
            level = LOW
            text = f"Area oversizing {oversizing:.1f} %; rupture rule not met."
        flags.append(
            Flag(
                "rupture.lvot_calcium_oversizing",
                level,
                oversizing,
                threshold,
                text,
                ref(key),
                "pct",
            )
        )

    # conduction.ms_length
    key = "conduction_ms_length"
    ms = inputs.ms_length_mm
    if ms is None:
        flags.append(
            _not_assessed(
                "conduction.ms_length", ref(key), "no MS_superior / MS_inferior landmarks.", "mm"
            )
        )
    else:
        hi, lo = num(f"{key}.high_lt_mm"), num(f"{key}.low_gt_mm")
        if ms < hi:
            level, threshold, text = HIGH, hi, f"Short membranous septum {ms:.1f} mm < {hi:g} mm."
        elif ms > lo:
            level, threshold, text = LOW, lo, f"Membranous septum {ms:.1f} mm > {lo:g} mm."
        else:
            level, threshold = MODERATE, lo
            text = f"Membranous septum {ms:.1f} mm ({hi:g}-{lo:g} mm)."
        flags.append(Flag("conduction.ms_length", level, ms, threshold, text, ref(key), "mm"))

    # conduction.delta_msid: MS length minus implant depth.
    key = "conduction_delta_msid"
    depth = inputs.valve.implant_depth_mm
    if ms is None or depth is None:
        missing = "MS landmarks" if ms is None else "planned implant depth (--implant-depth)"
        flags.append(_not_assessed("conduction.delta_msid", ref(key), f"no {missing}.", "mm"))
    else:
        delta, hi = ms - depth, num(f"{key}.high_lt_mm")
        level = HIGH if delta < hi else LOW
        text = f"MS length minus implant depth = {delta:.1f} mm" + (
            f" < {hi:g} mm: high risk of conduction disturbance." if level == HIGH else "."
        )
        flags.append(Flag("conduction.delta_msid", level, delta, hi, text, ref(key), "mm"))

    # conduction.calcium_near_zone
    key = "conduction_calcium_near_zone"
    hi, mod = num(f"{key}.high_le_mm"), num(f"{key}.moderate_le_mm")
    dist = inputs.min_distance_to_conduction_mm
    if dist is not None and dist <= hi:
        level, threshold = HIGH, hi
        text = "Calcium reaches into the conduction zone (below the NCC-RCC commissure)."
    elif dist is not None and dist <= mod:
        level, threshold = MODERATE, mod
        text = f"Calcium {dist:.1f} mm from the conduction zone (<= {mod:g} mm)."
    else:
        level, threshold = LOW, mod
        text = "No calcium." if dist is None else f"Nearest calcium {dist:.1f} mm from the zone."
    flags.append(Flag("conduction.calcium_near_zone", level, dist, threshold, text, ref(key), "mm"))

    # conduction.ncc_lvot_calcium
    key = "conduction_ncc_lvot_calcium"
    value, mod = inputs.lvot_calcium_ncc_mm3, num(f"{key}.moderate_gt_mm3")
    level = MODERATE if value > mod else LOW
    text = (
        f"LVOT calcium below the NCC ({value:.1f} mm^3): raised pacemaker risk."
        if level == MODERATE
        else "No LVOT calcium below the NCC."
    )
    flags.append(Flag("conduction.ncc_lvot_calcium", level, value, mod, text, ref(key), "mm3"))

    # as.agatston: non-contrast, by sex.
    key = "as_agatston"
    if inputs.contrast or inputs.valve_agatston is None:
        flags.append(
            _not_assessed(
                "as.agatston", ref(key), "the Agatston score needs a non-contrast CT.", "AU"
            )
        )
    elif inputs.sex not in ("M", "F"):
        flags.append(
            _not_assessed(
                "as.agatston",
                ref(key),
                "patient sex unknown (no PatientSex; pass --sex M|F).",
                "AU",
            )
        )
    else:
        prefix = "men" if inputs.sex == "M" else "women"
        value = inputs.valve_agatston
        hi, mod = num(f"{key}.{prefix}_high_ge"), num(f"{key}.{prefix}_moderate_ge")
        if value >= hi:
            level, threshold = HIGH, hi
            text = f"Valve Agatston {value:.0f} >= {hi:g} ({prefix}): severe AS very likely."
        elif value >= mod:
            level, threshold = MODERATE, mod
            text = f"Valve Agatston {value:.0f} >= {mod:g} ({prefix}): severe AS likely."
        else:
            level, threshold = LOW, mod
            text = f"Valve Agatston {value:.0f} < {mod:g} ({prefix}): severe AS unlikely."
        flags.append(Flag("as.agatston", level, value, threshold, text, ref(key), "AU"))
    return tuple(flags)
