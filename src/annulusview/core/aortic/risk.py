"""Aortic rules (clinical-model.md section 7.2), each with its value, threshold and evidence.

Every rule is always emitted, so a report shows what was checked as well as what was found
(statuses in :mod:`annulusview.core.flags`). A rule applies only where its evidence applies:
outside the valve types, contrast state or inputs its source covers it says ``not_assessed``
and why. Thresholds and evidence come from the rules file (``[flags.*]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from annulusview.core.aortic.coronary import CoronaryInput, evaluate_coronary
from annulusview.core.aortic.valve import BALLOON, PlannedValve
from annulusview.core.flags import (
    HIGH,
    MODERATE,
    Flag,
    indeterminate,
    met,
    not_assessed,
    not_met,
)
from annulusview.core.rules import Rules

CONTRAST, NON_CONTRAST, INDETERMINATE_CONTRAST = "contrast", "non_contrast", "indeterminate"


@dataclass(frozen=True)
class RiskInputs:
    """What the rules look at; None where not measured.

    Attributes
    ----------
    contrast_state
        ``contrast``, ``non_contrast`` or ``indeterminate`` (section 5).
    calcium_reason
        Empty when calcium was thresholded; else why no calcium number exists (indeterminate
        contrast, a threshold inside the lumen).
    annulus_area_mm2, annulus_perimeter_mm
        Measured annulus (contrast CTA lumen contour); None when not sized.
    lvot_calcium_mm3
        Calcium volume in the ``lvot`` region, mm^3.
    lvot_grade
        LVOT calcium grade (``none``, ``mild``, ``moderate``, ``severe``).
    leaflet_calcium_850_mm3, leaflet_850_reason
        Leaflet calcium at 850 HU, mm^3, or None with the reason.
    protrusion_mm
        Largest inward extent among lesions with ``h <= 2`` that protrude (inward extent at least
        their tangential length), mm; 0 without such lesions.
    adherent_inward_mm
        Largest inward extent among the other (adherent) lesions with ``h <= 2``, mm.
    conduction_calcium_mm3
        Calcium volume in the conduction zone, mm^3.
    iams_mm
        Infra-annular membranous septum length ``max(0, -h(MS_inferior))``, mm, or None.
    valve_agatston
        Agatston score of the valve region (non-contrast only), or None.
    kvp
        Tube voltage of the series (header), or None.
    agatston_slab_mm
        Thickness of the slabs the Agatston score was computed on when thin slices were
        averaged (section 5), or None when scored on the slices themselves.
    sex
        ``"M"``, ``"F"`` or None.
    valve
        Planned valve.
    coronary
        Artery (``LCA``, ``RCA``) -> the coronary rule's inputs (height, sinus, VTC); a missing
        artery is ``not_assessed``.
    """

    contrast_state: str
    calcium_reason: str
    annulus_area_mm2: float | None
    annulus_perimeter_mm: float | None
    lvot_calcium_mm3: float | None
    lvot_grade: str | None
    leaflet_calcium_850_mm3: float | None
    leaflet_850_reason: str
    protrusion_mm: float | None
    adherent_inward_mm: float | None
    conduction_calcium_mm3: float | None
    iams_mm: float | None
    valve_agatston: float | None
    kvp: float | None
    sex: str | None
    valve: PlannedValve
    agatston_slab_mm: float | None = None
    coronary: Mapping[str, CoronaryInput] = field(default_factory=dict)


def _sizing_gap(inputs: RiskInputs) -> str:
    """Why an oversizing rule cannot run (empty when it can)."""
    if inputs.valve.size_mm is None:
        return "no planned valve size (--valve FAMILY:SIZE or --valve-size)."
    if inputs.valve.valve_type is None:
        return "the valve type is unknown (--valve-type balloon|self-expanding)."
    if inputs.valve.valve_type != BALLOON:
        return (
            "the evidence for this rule is on balloon-expandable valves; the planned valve is "
            f"{inputs.valve.valve_type}."
        )
    if inputs.annulus_area_mm2 is None:
        return "the annulus was not measured (sizing needs a contrast CTA lumen contour)."
    return ""


def evaluate_flags(inputs: RiskInputs, rules: Rules) -> tuple[Flag, ...]:
    """Evaluate every aortic rule of section 7.2, in the order of the specification."""

    def num(key: str) -> float:
        return rules.number(f"flags.{key}")

    flags: list[Flag] = []
    calcium_gap = inputs.calcium_reason

    # pvl.lvot_calcium: any LVOT calcium (contrast CT).
    rule, key = "pvl.lvot_calcium", "pvl_lvot_calcium"
    evidence = rules.evidence(f"flags.{key}")
    lvot = inputs.lvot_calcium_mm3
    if inputs.contrast_state != CONTRAST:
        flags.append(not_assessed(rule, "the evidence is on contrast CTA.", evidence, "mm3"))
    elif calcium_gap or lvot is None:
        flags.append(not_assessed(rule, calcium_gap, evidence, "mm3"))
    else:
        limit = num(f"{key}.min_gt_mm3")
        grade = f" (LVOT calcium grade {inputs.lvot_grade})" if inputs.lvot_grade else ""
        if lvot > limit:
            flags.append(
                met(
                    rule,
                    MODERATE,
                    lvot,
                    limit,
                    f"Criterion met: LVOT calcium {lvot:.1f} mm³{grade}; in the source, LVOT "
                    "calcium went with more moderate or worse paravalvular leak (OR 2.8).",
                    evidence,
                    "mm3",
                )
            )
        else:
            flags.append(
                not_met(
                    rule,
                    lvot,
                    limit,
                    "Criterion not met: no calcium in the LVOT region (-10 <= h < -2 mm); "
                    "see the protrusion rule and the LVOT grade for calcium at the hinges.",
                    evidence,
                    "mm3",
                )
            )

    # pvl.leaflet_calcium_850 (contrast CT, 850 HU above the lumen).
    rule, key = "pvl.leaflet_calcium_850", "pvl_leaflet_calcium_850"
    evidence = rules.evidence(f"flags.{key}")
    if inputs.leaflet_calcium_850_mm3 is None:
        flags.append(not_assessed(rule, inputs.leaflet_850_reason, evidence, "mm3"))
    else:
        value, limit = inputs.leaflet_calcium_850_mm3, num(f"{key}.min_ge_mm3")
        if value >= limit:
            flags.append(
                met(
                    rule,
                    MODERATE,
                    value,
                    limit,
                    f"Criterion met: leaflet calcium at 850 HU {value:.1f} mm³ >= {limit:g} mm³ "
                    "(OR 2.8 for moderate or worse leak in the source).",
                    evidence,
                    "mm3",
                )
            )
        else:
            flags.append(
                not_met(
                    rule,
                    value,
                    limit,
                    f"Criterion not met: leaflet calcium at 850 HU {value:.1f} mm³ "
                    f"< {limit:g} mm³.",
                    evidence,
                    "mm3",
                )
            )

    # pvl.protrusion: a lesion at or below the annulus protruding > 4 mm, deeper than long.
    rule, key = "pvl.protrusion", "pvl_protrusion"
    evidence = rules.evidence(f"flags.{key}")
    limit = num(f"{key}.inward_gt_mm")
    if calcium_gap or inputs.protrusion_mm is None:
        flags.append(not_assessed(rule, calcium_gap or "no calcium analysis.", evidence, "mm"))
    elif inputs.protrusion_mm > limit:
        flags.append(
            met(
                rule,
                HIGH,
                inputs.protrusion_mm,
                limit,
                f"Criterion met: calcium at the annulus protrudes {inputs.protrusion_mm:.1f} mm "
                f"into the lumen (> {limit:g} mm, deeper than it is long); protruding calcium "
                "predicted paravalvular regurgitation in the source (c = 0.7).",
                evidence,
                "mm",
            )
        )
    else:
        adherent = inputs.adherent_inward_mm or 0.0
        extra = (
            f"; adherent calcium reaches {adherent:.1f} mm in (adherent calcium did not predict "
            "leak in the source)"
            if adherent > limit
            else ""
        )
        flags.append(
            not_met(
                rule,
                inputs.protrusion_mm,
                limit,
                f"Criterion not met: largest protrusion {inputs.protrusion_mm:.1f} mm "
                f"(<= {limit:g} mm){extra}.",
                evidence,
                "mm",
            )
        )

    # Oversizing rules: balloon-expandable valves on a measured annulus.
    oversizing = (
        None
        if inputs.annulus_area_mm2 is None
        else inputs.valve.area_oversizing_pct(inputs.annulus_area_mm2)
    )
    rule, key = "pvl.undersizing_with_lvot_calcium", "pvl_undersizing_with_lvot_calcium"
    evidence = rules.evidence(f"flags.{key}")
    limit = num(f"{key}.lt_pct")
    gap = _sizing_gap(inputs) or calcium_gap
    if gap or oversizing is None or lvot is None:
        flags.append(not_assessed(rule, gap or "no LVOT calcium measurement.", evidence, "pct"))
    elif lvot > 0 and oversizing < limit:
        flags.append(
            met(
                rule,
                MODERATE,
                oversizing,
                limit,
                f"Criterion met: area oversizing {oversizing:.1f} % < {limit:g} % with LVOT "
                "calcium (mild or worse leak in the source, SAPIEN 3).",
                evidence,
                "pct",
            )
        )
    else:
        why = "no LVOT calcium" if lvot <= 0 else f"oversizing {oversizing:.1f} % >= {limit:g} %"
        flags.append(
            not_met(rule, oversizing, limit, f"Criterion not met: {why}.", evidence, "pct")
        )

    rule, key = "rupture.lvot_calcium_oversizing", "rupture_lvot_calcium_oversizing"
    evidence = rules.evidence(f"flags.{key}")
    limit = num(f"{key}.oversizing_ge_pct")
    gap = _sizing_gap(inputs) or calcium_gap
    if gap or oversizing is None:
        flags.append(not_assessed(rule, gap or "no oversizing.", evidence, "pct"))
    else:
        heavy = inputs.lvot_grade in ("moderate", "severe")
        over = oversizing >= limit
        if heavy and over:
            level, what = HIGH, f"LVOT calcium grade {inputs.lvot_grade} and area oversizing"
        elif heavy or over:
            level = MODERATE
            what = f"LVOT calcium grade {inputs.lvot_grade}" if heavy else "area oversizing alone"
        else:
            level, what = None, ""
        if level is None:
            flags.append(
                not_met(
                    rule,
                    oversizing,
                    limit,
                    f"Criterion not met: area oversizing {oversizing:.1f} % < {limit:g} % and LVOT "
                    f"calcium grade {inputs.lvot_grade or 'none'}.",
                    evidence,
                    "pct",
                )
            )
        else:
            flags.append(
                met(
                    rule,
                    level,
                    oversizing,
                    limit,
                    f"Criterion met: {what} (oversizing {oversizing:.1f} %, limit {limit:g} %); "
                    "both were associated with aortic root rupture in the source "
                    "(balloon-expandable, case-control).",
                    evidence,
                    "pct",
                )
            )

    # conduction.ms_length: infra-annular MS length (Hokken 2021 strata).
    rule, key = "conduction.ms_length", "conduction_ms_length"
    evidence = rules.evidence(f"flags.{key}")
    iams = inputs.iams_mm
    if iams is None:
        flags.append(not_assessed(rule, "no MS_inferior landmark.", evidence, "mm"))
    else:
        high, moderate = num(f"{key}.high_lt_mm"), num(f"{key}.moderate_le_mm")
        if iams < high:
            flags.append(
                met(
                    rule,
                    HIGH,
                    iams,
                    high,
                    f"Criterion met: infra-annular membranous septum {iams:.1f} mm < {high:g} mm "
                    "(30 % new pacemaker at 30 days in the source).",
                    evidence,
                    "mm",
                )
            )
        elif iams <= moderate:
            flags.append(
                met(
                    rule,
                    MODERATE,
                    iams,
                    moderate,
                    f"Criterion met: infra-annular membranous septum {iams:.1f} mm in "
                    f"{high:g}-{moderate:g} mm (15 % new pacemaker in the source).",
                    evidence,
                    "mm",
                )
            )
        else:
            flags.append(
                not_met(
                    rule,
                    iams,
                    moderate,
                    f"Criterion not met: infra-annular membranous septum {iams:.1f} mm > "
                    f"{moderate:g} mm (6 % new pacemaker in the source, the reference group).",
                    evidence,
                    "mm",
                )
            )

    # conduction.delta_msid: IAMS minus implant depth.
    rule, key = "conduction.delta_msid", "conduction_delta_msid"
    evidence = rules.evidence(f"flags.{key}")
    depth = inputs.valve.implant_depth_mm
    if iams is None or depth is None:
        missing = "no MS_inferior landmark" if iams is None else "no planned implant depth"
        flags.append(not_assessed(rule, f"{missing}.", evidence, "mm"))
    else:
        delta, limit = iams - depth, num(f"{key}.lt_mm")
        if delta < limit:
            flags.append(
                met(
                    rule,
                    HIGH,
                    delta,
                    limit,
                    f"Criterion met: the implant ({depth:.1f} mm deep) reaches {-delta:.1f} mm "
                    f"below the membranous septum (ΔMSID {delta:.1f} mm < {limit:g} mm).",
                    evidence,
                    "mm",
                )
            )
        else:
            flags.append(
                not_met(
                    rule,
                    delta,
                    limit,
                    f"Criterion not met: ΔMSID {delta:.1f} mm (implant {depth:.1f} mm deep, "
                    f"membranous septum {iams:.1f} mm below the annulus).",
                    evidence,
                    "mm",
                )
            )

    # conduction.zone_calcium
    rule, key = "conduction.zone_calcium", "conduction_zone_calcium"
    evidence = rules.evidence(f"flags.{key}")
    zone = inputs.conduction_calcium_mm3
    if calcium_gap or zone is None:
        flags.append(not_assessed(rule, calcium_gap or "no calcium analysis.", evidence, "mm3"))
    else:
        limit = num(f"{key}.min_gt_mm3")
        if zone > limit:
            flags.append(
                met(
                    rule,
                    MODERATE,
                    zone,
                    limit,
                    f"Criterion met: {zone:.1f} mm³ of calcium in the conduction zone "
                    "(basal septal calcium OR 4.9 for a pacemaker in the source).",
                    evidence,
                    "mm3",
                )
            )
        else:
            flags.append(
                not_met(
                    rule,
                    zone,
                    limit,
                    "Criterion not met: no calcium in the conduction zone.",
                    evidence,
                    "mm3",
                )
            )

    flags.extend(evaluate_coronary(inputs.coronary, rules))
    flags.append(_as_agatston(inputs, rules))
    return tuple(flags)


def _as_agatston(inputs: RiskInputs, rules: Rules) -> Flag:
    """ESC/EACTS 2021 AVC bands, with the grey zone, on non-contrast 120 kVp CT."""
    rule, key = "as.agatston", "as_agatston"
    evidence = rules.evidence(f"flags.{key}")
    if inputs.contrast_state != NON_CONTRAST:
        return not_assessed(
            rule, "the Agatston score needs a non-contrast ECG-gated CT.", evidence, "AU"
        )
    if inputs.valve_agatston is None:
        return not_assessed(rule, inputs.calcium_reason or "no valve Agatston.", evidence, "AU")
    if inputs.sex not in ("M", "F"):
        return not_assessed(
            rule, "patient sex unknown (no PatientSex; pass --sex M|F).", evidence, "AU"
        )
    value = inputs.valve_agatston
    kvp_needed = rules.number(f"flags.{key}.required_kvp")
    if inputs.kvp is None or abs(inputs.kvp - kvp_needed) > 0.5:
        kvp = "an unstated tube voltage" if inputs.kvp is None else f"{inputs.kvp:g} kVp"
        return indeterminate(
            rule,
            value,
            None,
            f"valve Agatston {value:.0f} on a scan at {kvp}; the thresholds were validated at "
            f"{kvp_needed:g} kVp.",
            evidence,
            "AU",
        )
    slabs = (
        ""
        if inputs.agatston_slab_mm is None
        else f" Scored on {inputs.agatston_slab_mm:g} mm slabs averaged from thinner slices "
        "(a 3 mm reconstruction approximated)."
    )
    who = "men" if inputs.sex == "M" else "women"
    very, likely, unlikely = (
        rules.number(f"flags.{key}.{who}_{band}")
        for band in ("very_likely_ge", "likely_ge", "unlikely_lt")
    )
    if value >= very:
        return met(
            rule,
            HIGH,
            value,
            very,
            f"Criterion met: valve Agatston {value:.0f} >= {very:g} ({who}): severe aortic "
            "stenosis very likely (for discordant grading)." + slabs,
            evidence,
            "AU",
        )
    if value >= likely:
        return met(
            rule,
            MODERATE,
            value,
            likely,
            f"Criterion met: valve Agatston {value:.0f} >= {likely:g} ({who}): severe aortic "
            "stenosis likely (for discordant grading)." + slabs,
            evidence,
            "AU",
        )
    if value >= unlikely:
        return indeterminate(
            rule,
            value,
            likely,
            f"valve Agatston {value:.0f} lies in the grey zone {unlikely:g}-{likely:g} ({who}): "
            "the score neither supports nor excludes severe aortic stenosis." + slabs,
            evidence,
            "AU",
        )
    return not_met(
        rule,
        value,
        unlikely,
        f"Criterion not met: valve Agatston {value:.0f} < {unlikely:g} ({who}): severe aortic "
        "stenosis unlikely by calcium." + slabs,
        evidence,
        "AU",
    )
