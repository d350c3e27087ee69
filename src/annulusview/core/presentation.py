"""How results read on every surface: flag titles, level colours and words, units, numbers.

One table for the window's panels, the 3D/2D badges, the PDF report and the command line, so a
flag reads the same wherever it is shown. Colours are ``#RRGGBB`` strings; each toolkit turns
them into its own colour type (VTK floats, ``QColor``, reportlab ``HexColor``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from annulusview.core.aortic.root import RootMeasurements, RootPart
from annulusview.core.flags import HIGH, INDETERMINATE, MET, MODERATE, NOT_ASSESSED, NOT_MET, Flag

EMPTY = "—"  # what a missing value prints as, everywhere

# A flag's colour and word come from its status and level. "not met" is grey, never green: it
# says the published criterion does not hold, not that the patient is safe.
STATUS_COLORS = {
    (MET, HIGH): "#CC3311",
    (MET, MODERATE): "#EE7733",
    (MET, None): "#4477AA",  # a met descriptor without a risk level (MAC CT score)
    (NOT_MET, None): "#8C8C8C",
    (INDETERMINATE, None): "#AA3377",
    (NOT_ASSESSED, None): "#4D4D4D",
}
UNKNOWN_COLOR = "#4D4D4D"
STATUS_WORDS = {
    (MET, HIGH): "MET · HIGH",
    (MET, MODERATE): "MET · MODERATE",
    (MET, None): "MET",
    (NOT_MET, None): "NOT MET",
    (INDETERMINATE, None): "INDETERMINATE",
    (NOT_ASSESSED, None): "NOT ASSESSED",
}
# order for tables and reports: what needs attention first
STATUS_ORDER = {
    (MET, HIGH): 0,
    (MET, MODERATE): 1,
    (INDETERMINATE, None): 2,
    (MET, None): 3,
    (NOT_MET, None): 4,
    (NOT_ASSESSED, None): 5,
}

# Short titles for badges and tables (the report prints the full message and reference).
FLAG_TITLES = {
    "pvl.lvot_calcium": "PVL: LVOT calcium",
    "pvl.leaflet_calcium_850": "PVL: leaflet calcium at 850 HU",
    "pvl.protrusion": "PVL: protruding calcium",
    "pvl.undersizing_with_lvot_calcium": "PVL: undersizing with LVOT calcium",
    "rupture.lvot_calcium_oversizing": "Rupture: LVOT calcium + oversizing",
    "conduction.ms_length": "Conduction: short membranous septum (IAMS)",
    "conduction.delta_msid": "Conduction: implant deeper than MS (ΔMSID)",
    "conduction.zone_calcium": "Conduction: calcium in the conduction zone",
    "coronary.obstruction_LCA": "Coronary: left main obstruction (height, sinus, VTC)",
    "coronary.obstruction_RCA": "Coronary: right coronary obstruction (height, sinus, VTC)",
    "as.agatston": "AS: valve Agatston score",
    "mitral.mac_score": "Mitral: MAC CT score",
    "mitral.neo_lvot": "Mitral: neo-LVOT area",
}

# Parts of the mitral analysis (MitralResults.not_assessed keys) as the user reads them.
MITRAL_PART_TITLES = {"annulus": "Mitral annulus", "mac": "MAC", "neo_lvot": "Neo-LVOT"}

UNIT_TEXT = {
    "mm": "mm",
    "mm2": "mm²",
    "mm^2": "mm²",
    "mm3": "mm³",
    "mm^3": "mm³",
    "pct": "%",
    "%": "%",
    "deg": "°",
    "HU": "HU",
    "AU": "AU",
    "points": "points",
}


def flag_color(flag: Flag) -> str:
    """``#RRGGBB`` of a flag (by status and level)."""
    return STATUS_COLORS.get((flag.status, flag.level), UNKNOWN_COLOR)


def flag_word(flag: Flag) -> str:
    """What a badge or table prints for a flag's outcome (``MET · HIGH``, ``NOT MET``...)."""
    return STATUS_WORDS.get((flag.status, flag.level), flag.status.upper())


def flag_rank(flag: Flag) -> int:
    """Sort key: met high first, not assessed last."""
    return STATUS_ORDER.get((flag.status, flag.level), 9)


def evidence_lines(flag: Flag) -> list[tuple[str, str]]:
    """The evidence card of a flag as (label, text) rows, in reading order."""
    e = flag.evidence
    rows = [
        ("Source", e.reference),
        ("Population", e.population),
        ("Device", e.device),
        ("Endpoint", e.endpoint),
        ("Effect", e.effect),
        ("Applies to", e.applies_to),
        ("Verified", "yes (abstract or text read)" if e.verified else "no: level capped"),
        ("Not supported / note", e.note),
    ]
    if flag.inputs_unconfirmed:
        rows.append(("Unconfirmed inputs", ", ".join(flag.inputs_unconfirmed)))
    return [(label, text) for label, text in rows if text]


def flag_title(flag_id: str) -> str:
    """A short human title for a rule id; unknown ids read as words, never as raw ids."""
    if flag_id in FLAG_TITLES:
        return FLAG_TITLES[flag_id]
    family, _, rest = flag_id.partition(".")
    words = (rest or family).replace("_", " ")
    return f"{family.capitalize()}: {words}" if rest else words.capitalize()


def part_title(part: str) -> str:
    """The title of a mitral analysis part (unknown keys read as words)."""
    return MITRAL_PART_TITLES.get(part, part.replace("_", " ").capitalize())


def unit_text(unit: str | None) -> str:
    """A unit as it is printed (``mm3`` -> ``mm³``, ``pct`` -> ``%``)."""
    text = str(unit or "")
    return UNIT_TEXT.get(text, text)


def fmt(value: Any, digits: int = 1, unit: str | None = None) -> str:
    """A value for display: numbers with ``digits`` decimals and the printed unit,
    booleans as yes/no, None and non-finite numbers as :data:`EMPTY`, anything else as text."""
    if value is None:
        return EMPTY
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            return EMPTY
        text = f"{number:.{digits}f}"
        shown = unit_text(unit)
        if not shown:
            return text
        return f"{text}{shown}" if shown in ("%", "°") else f"{text} {shown}"
    return str(value)


def root_rows(
    root: RootMeasurements | None, eccentricity: float | None
) -> list[tuple[str, str, str]]:
    """The root and LVOT numbers (clinical-model.md 4.2) as ``(measure, value, note)`` rows,
    in SCCT order, for the text summary and the report alike; a number not measured prints as
    :data:`EMPTY` with its reason as the note."""
    rows: list[tuple[str, str, str]] = [
        ("Annulus eccentricity", fmt(eccentricity, 2), "1 - Dmin/Dmax")
    ]
    if root is None:
        return rows
    parts = (root.lvot, root.sinus, root.stj, root.ascending)
    if all(p.status == "not_assessed" for p in parts) and len({p.reason for p in parts}) == 1:
        return [*rows, ("Root and LVOT", EMPTY, str(root.lvot.reason))]
    lvot, sinus, stj, asc = root.lvot, root.sinus, root.stj, root.ascending

    said: set[int] = set()

    def note(part: RootPart, where: str) -> str:
        if part.status == "measured":
            return where
        if id(part) in said:  # the reason once per part
            return "see above"
        said.add(id(part))
        return str(part.reason)

    lv = lvot.values
    where = f"h = {lv['level_mm']:+.0f} mm"
    rows += [
        ("LVOT area", fmt(lv["area_mm2"], 1, "mm2"), note(lvot, where)),
        ("LVOT perimeter", fmt(lv["perimeter_mm"], 1, "mm"), note(lvot, where)),
        (
            "LVOT D min / D max",
            f"{fmt(lv['d_min_mm'])} / {fmt(lv['d_max_mm'], 1, 'mm')}",
            note(lvot, where),
        ),
    ]
    sv = sinus.values
    where = "largest area, h = " + fmt(sv["height_mm"], 1, "mm")
    rows.append(("Sinus area", fmt(sv["area_mm2"], 1, "mm2"), note(sinus, where)))
    for cusp, value in sv["diameter_mm"].items():
        rows.append(
            (f"Sinus {cusp} to commissure", fmt(value, 1, "mm"), note(sinus, "chord through O"))
        )
    sj = stj.values
    where = "h = " + fmt(sj["height_mm"], 1, "mm")
    rows += [
        ("STJ height", fmt(sj["height_mm"], 1, "mm"), note(stj, "above the annulus")),
        ("STJ diameter", fmt(sj["diameter_mm"], 1, "mm"), note(stj, f"area-derived, {where}")),
    ]
    for cusp, value in root.sinus_heights_mm.items():
        rows.append((f"Sinus height {cusp}", fmt(value, 1, "mm"), note(stj, "STJ - hinge")))
    av = asc.values
    rows.append(
        (
            "Ascending aorta",
            fmt(av["diameter_mm"], 1, "mm"),
            note(asc, f"area-derived, h = {av['level_mm']:+.0f} mm"),
        )
    )
    return rows


def plane_range(values: Sequence[float] | None, unit: str) -> str:
    """``"lo-hi unit"`` of a value over the annulus plane check, or the empty mark."""
    if values is None:
        return EMPTY
    return f"{values[0]:.0f}-{values[1]:.0f} {unit_text(unit)}"


def sizing_rows(sizing: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str, str, str]]:
    """The valve-sizing table (clinical-model.md 7.1) as ``(family, sized by, measured,
    suggested, oversizing per size or the reason)`` rows, for the report and the window alike.
    A family that could not be sized says "not assessed" with its reason, never a size."""
    rows: list[tuple[str, str, str, str, str]] = []
    for row in sizing:
        if row["status"] != "assessed":
            rows.append((row["name"], row["sizing"], EMPTY, "not assessed", str(row["reason"])))
            continue
        size = row["suggested_size_mm"]
        suggested = EMPTY if size is None else f"{size:g} mm"
        if row["borderline"]:
            suggested += " (borderline)"
        over = ", ".join(
            f"{key} mm {fmt(pct, 0, 'pct')}" for key, pct in row["oversizing_pct"].items()
        )
        measured = fmt(row["measured"], 1, row["unit"])
        across = row.get("sizes_within_plane_check") or []
        if across and across != [size]:
            # the size depends on the plane: say which sizes the plane check reaches
            measured += f" ({plane_range(row['measured_within_plane_check'], row['unit'])})"
            suggested += "; plane check reaches " + ", ".join(f"{a:g}" for a in across) + " mm"
        rows.append((row["name"], row["sizing"], measured, suggested, over))
    return rows


def coronary_rows(results: Any) -> list[tuple[str, str, str, str, str]]:
    """Coronary obstruction inputs and outcome per artery (clinical-model.md 4.3, 7.2) as
    ``(artery, ostium height, that sinus, VTC with the planned valve, rule outcome)`` rows, for
    the summary, the report and the window alike."""
    heights = results.coronary_heights_mm
    vtc = results.vtc_mm
    root = results.root
    sinus = {} if root is None else (root.sinus.values.get("diameter_mm") or {})
    size = results.parameters.get("valve", {}).get("size_mm") if results.parameters else None
    rows: list[tuple[str, str, str, str, str]] = []
    for artery, cusp in (("LCA", "LCC"), ("RCA", "RCC")):
        try:
            outcome = flag_word(results.flag(f"coronary.obstruction_{artery}"))
        except KeyError:
            outcome = EMPTY
        vtc_text = fmt(vtc.get(artery), 1, "mm")
        if vtc.get(artery) is not None and size is not None:
            vtc_text += f" ({size:g} mm valve)"
        elif size is None:
            vtc_text = "no planned valve"
        rows.append(
            (
                artery,
                fmt(heights.get(artery), 1, "mm"),
                f"{cusp} {fmt(sinus.get(cusp), 1, 'mm')}",
                vtc_text,
                outcome,
            )
        )
    return rows


def fluoro_rows(results: Any) -> list[tuple[str, str, str]]:
    """The two named C-arm views (clinical-model.md 9) as ``(view, angles, what it shows)``
    rows; a view that could not be found prints its reason."""
    plan = results.fluoroscopy
    if plan is None:
        return []
    rows = []
    for title, view, shows in (
        ("Three-cusp coplanar", plan.coplanar, "RCC hinge midway between LCC and NCC"),
        ("Cusp overlap", plan.cusp_overlap, "RCC and LCC superimposed, NCC isolated"),
    ):
        label = view.to_dict()["label"]
        rows.append((title, label or EMPTY, shows if label else str(view.reason)))
    return rows
