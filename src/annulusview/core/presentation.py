"""How results read on every surface: flag titles, level colours and words, units, numbers.

One table for the window's panels, the 3D/2D badges, the PDF report and the command line, so a
flag reads the same wherever it is shown. Colours are ``#RRGGBB`` strings; each toolkit turns
them into its own colour type (VTK floats, ``QColor``, reportlab ``HexColor``).
"""

from __future__ import annotations

import math
from typing import Any

from annulusview.core.flags import HIGH, LOW, MODERATE, NOT_ASSESSED

EMPTY = "—"  # what a missing value prints as, everywhere

LEVEL_COLORS = {
    HIGH: "#CC3311",
    MODERATE: "#EE7733",
    LOW: "#228833",
    NOT_ASSESSED: "#777777",
}
UNKNOWN_LEVEL_COLOR = "#777777"
LEVEL_TEXT = {HIGH: "HIGH", MODERATE: "MODERATE", LOW: "LOW", NOT_ASSESSED: "N/A"}

# Short titles for badges and tables (the report prints the full message and reference).
FLAG_TITLES = {
    "pvl.lvot_calcium": "PVL: LVOT calcium",
    "pvl.leaflet_calcium_850": "PVL: leaflet calcium at 850 HU",
    "pvl.protrusion": "PVL: protruding calcium",
    "pvl.undersizing_with_lvot_calcium": "PVL: undersizing with LVOT calcium",
    "rupture.lvot_calcium_oversizing": "Rupture: LVOT calcium + oversizing",
    "conduction.ms_length": "Conduction: short membranous septum",
    "conduction.delta_msid": "Conduction: implant deeper than MS",
    "conduction.calcium_near_zone": "Conduction: calcium near His zone",
    "conduction.ncc_lvot_calcium": "Conduction: NCC LVOT calcium",
    "as.agatston": "AS: valve Agatston score",
    "mitral.mac_score": "Mitral: MAC CT score",
    "mitral.neo_lvot": "Mitral: neo-LVOT area",
}

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


def level_color(level: str | None) -> str:
    """``#RRGGBB`` of a flag level (grey for anything unknown)."""
    return LEVEL_COLORS.get(str(level), UNKNOWN_LEVEL_COLOR)


def level_text(level: str | None) -> str:
    """The word a badge prints for a level (``HIGH``, ``MODERATE``...)."""
    return LEVEL_TEXT.get(str(level), str(level).upper())


def flag_title(flag_id: str) -> str:
    """A short human title for a rule id; unknown ids read as words, never as raw ids."""
    if flag_id in FLAG_TITLES:
        return FLAG_TITLES[flag_id]
    family, _, rest = flag_id.partition(".")
    words = (rest or family).replace("_", " ")
    return f"{family.capitalize()}: {words}" if rest else words.capitalize()


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
