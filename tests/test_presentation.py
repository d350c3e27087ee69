"""One table for how results read: titles, levels, units and numbers (core/presentation.py)."""

from __future__ import annotations

import pytest

from annulusview.core import presentation
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


def test_outcomes_have_one_colour_and_word() -> None:
    from annulusview.core.flags import Evidence, Flag

    ev = Evidence("source", verified=True)

    def flag(status, level=None):
        return Flag("x.y", status, level, None, None, "m", ev)

    words = {
        presentation.flag_word(flag("met", "high")),
        presentation.flag_word(flag("met", "moderate")),
        presentation.flag_word(flag("not_met")),
        presentation.flag_word(flag("indeterminate")),
        presentation.flag_word(flag("not_assessed")),
    }
    assert len(words) == 5 and "LOW" not in words
    colours = [
        presentation.flag_color(flag(s, lv))
        for s, lv in (
            ("met", "high"),
            ("met", "moderate"),
            ("met", None),
            ("not_met", None),
            ("indeterminate", None),
            ("not_assessed", None),
        )
    ]
    assert len(set(colours)) == 6  # indeterminate and not assessed are visibly different
    for colour in colours:  # nothing green: not met is not "safe"
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert not (g > r + 30 and g > b + 30)
    ranks = [presentation.flag_rank(flag("met", "high")), presentation.flag_rank(flag("not_met"))]
    assert ranks[0] < ranks[1]
    assert presentation.flag_title("future.new_rule") == "Future: new rule"


def test_badge_text_uses_titles_and_units() -> None:
    from annulusview.core.flags import Evidence, met
    from annulusview.scene.annotate import flag_badge_text

    ev = Evidence("Guerrero 2020", verified=True)
    mitral = met("mitral.neo_lvot", "high", 150.0, 189.4, "neo-LVOT 150 mm2", ev, "mm2")
    text = flag_badge_text(mitral)
    assert "Mitral: neo-LVOT area" in text and "mitral.neo_lvot" not in text
    assert "MET · HIGH" in text and "150.0 mm²" in text
    rupture = met("rupture.lvot_calcium_oversizing", "moderate", 24.0, 20.0, "m", ev, "pct")
    text = flag_badge_text(rupture)
    assert "24.0%" in text and "pct" not in text


def test_mitral_parts_read_as_titles_not_keys():
    """The report and the mitral panel printed 'neo_lvot: not assessed ...'."""
    from annulusview.core.presentation import part_title

    assert part_title("neo_lvot") == "Neo-LVOT"
    assert part_title("mac") == "MAC"
    assert part_title("annulus") == "Mitral annulus"
    assert part_title("new_part") == "New part"
