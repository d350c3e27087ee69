"""One table for how results read: titles, levels, units and numbers (core/presentation.py)."""

from __future__ import annotations

import pytest

from annulusview.core import presentation
from annulusview.core.flags import Flag
from rule_ids import ALL_RULE_IDS


@pytest.mark.parametrize("rule_id", sorted(ALL_RULE_IDS))
def test_every_rule_has_a_title(rule_id: str) -> None:
    # before: the mitral rules had none and their badges printed the raw id
    assert rule_id in presentation.FLAG_TITLES
    assert rule_id not in presentation.flag_title(rule_id)


@pytest.mark.parametrize(
    ("value", "digits", "unit", "text"),
    [
        (12.0, 1, "pct", "12.0%"),  # before: "12.0 pct"
        (66.44, 1, "mm3", "66.4 mm³"),
        (399.6, 0, "mm2", "400 mm²"),
        (3.25, 2, "mm", "3.25 mm"),
        (200.4, 0, "deg", "200°"),
        (7, 0, "points", "7 points"),
        (None, 1, "mm", presentation.EMPTY),
        (float("nan"), 1, "mm", presentation.EMPTY),
        (True, 1, None, "yes"),
        (False, 1, None, "no"),
        ("contour", 1, None, "contour"),
    ],
)
def test_fmt(value, digits, unit, text) -> None:
    assert presentation.fmt(value, digits, unit) == text


def test_levels_have_one_colour_and_word() -> None:
    assert presentation.level_text("not_assessed") == "N/A"
    assert presentation.level_color("high") != presentation.level_color("moderate")
    assert presentation.level_color("something else") == presentation.UNKNOWN_LEVEL_COLOR
    assert presentation.flag_title("future.new_rule") == "Future: new rule"


def test_badge_text_uses_titles_and_units() -> None:
    from annulusview.scene.annotate import flag_badge_text

    mitral = Flag("mitral.mac_score", "high", 8.0, 7.0, "MAC CT score 8", "Guerrero 2020", "points")
    text = flag_badge_text(mitral)
    assert "Mitral: MAC CT score" in text and "mitral.mac_score" not in text
    rupture = Flag("rupture.lvot_calcium_oversizing", "moderate", 24.0, 20.0, "m", "r", "pct")
    text = flag_badge_text(rupture)
    assert "24.0%" in text and "pct" not in text
