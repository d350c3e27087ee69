"""What the risk rules read from the lesions (clinical-model.md sections 6 and 7): the LVOT
calcium grade and the wall extents, and the rules read again without the faint lesions (the
noise floor, core/aortic/noise_floor.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from annulusview.core.aortic.noise_floor import NoiseFloor, above_floor, downgrade
from annulusview.core.aortic.risk import RiskInputs, evaluate_flags
from annulusview.core.flags import Flag
from annulusview.core.results import Lesion
from annulusview.core.rules import Rules


def lvot_calcium_grade(lesions: tuple[Lesion, ...], rules: Rules) -> dict[str, object]:
    """The LVOT calcium grade (section 6, after Okuno et al. 2020) from the nodules below the
    hinges: ``none``, ``mild``, ``moderate`` or ``severe``, with each nodule's extension along
    ``n`` and its share of the circumference."""
    nodules = [les for les in lesions if les.lvot_extension_mm is not None]
    ext = [float(les.lvot_extension_mm or 0.0) for les in nodules]
    cov = [float(les.lvot_coverage_pct or 0.0) for les in nodules]
    num = rules.number
    if not nodules:
        grade = "none"
    elif (
        len(nodules) >= num("lvot_grade.severe_min_nodules")
        or max(ext) >= num("lvot_grade.severe_extension_mm")
        or max(cov) >= num("lvot_grade.severe_coverage_pct")
    ):
        grade = "severe"
    elif (
        len(nodules) >= num("lvot_grade.moderate_min_nodules")
        or max(ext) >= num("lvot_grade.moderate_extension_mm")
        or max(cov) >= num("lvot_grade.moderate_coverage_pct")
    ):
        grade = "moderate"
    else:
        grade = "mild"
    return {
        "grade": grade,
        "nodules": [
            {"lesion_id": les.id, "extension_mm": e, "coverage_pct": c}
            for les, e, c in zip(nodules, ext, cov, strict=True)
        ],
        "reference": str(rules.get("lvot_grade.reference")),
        "verified": bool(rules.get("lvot_grade.verified")),
    }


def wall_extents(lesions: Sequence[Lesion], half_height_mm: float) -> tuple[float, float]:
    """``(protrusion_mm, adherent_inward_mm)`` of the rules: the largest inward extent among
    the lesions reaching ``h <= half_height_mm`` that protrude (inward extent at least their
    tangential length), and among the others (adherent); 0 without such lesions."""
    low = [les for les in lesions if les.h_range_mm[0] <= half_height_mm]
    protruding = [
        les.inward_extent_mm for les in low if les.inward_extent_mm >= les.tangential_length_mm
    ]
    adherent = [
        les.inward_extent_mm for les in low if les.inward_extent_mm < les.tangential_length_mm
    ]
    return max(protruding, default=0.0), max(adherent, default=0.0)


def without_faint(
    flags: tuple[Flag, ...],
    grade: dict[str, object] | None,
    inputs: RiskInputs,
    lesions: Sequence[Lesion],
    noise: NoiseFloor,
    half_height_mm: float,
    rules: Rules,
) -> tuple[tuple[Flag, ...], dict[str, object] | None]:
    """The rules read again without the faint lesions: a rule met only through them becomes
    ``indeterminate`` (:func:`noise_floor.downgrade`), and the LVOT grade gains
    ``grade_above_noise_floor``. The lesion-derived inputs are recomputed from the lesions
    above the floor; every other input stays as it was."""
    clear = above_floor(lesions, noise)
    clear_grade = lvot_calcium_grade(tuple(clear), rules)
    protrusion, adherent = wall_extents(clear, half_height_mm)
    clear_inputs = dataclasses.replace(
        inputs,
        lvot_calcium_mm3=sum(les.volume_by_region_mm3.get("lvot", 0.0) for les in clear),
        lvot_grade=str(clear_grade["grade"]),
        protrusion_mm=protrusion,
        adherent_inward_mm=adherent,
        conduction_calcium_mm3=sum(
            les.volume_by_region_mm3.get("conduction", 0.0) for les in clear
        ),
    )
    flags = downgrade(flags, evaluate_flags(clear_inputs, rules), noise)
    if grade is not None:
        grade = {**grade, "grade_above_noise_floor": clear_grade["grade"]}
    return flags, grade
