"""The valve-sizing table in the window and the report (clinical-model v2 7.1), checked
against the ranges the contract prints (not the devices file the code reads)."""

from __future__ import annotations

import math

from annulusview.core.analysis import analyze

# clinical-model.md 7.1, as printed there (mm -> CT range)
SAPIEN3_AREA_MM2 = {20: (273, 345), 23: (338, 430), 26: (430, 546), 29: (540, 683)}
EVOLUT_PERIMETER_MM = {23: (56.5, 62.8), 26: (62.8, 72.3), 29: (72.3, 81.7), 34: (81.7, 94.2)}


def _holding(ranges: dict[int, tuple[float, float]], value: float) -> list[int]:
    return [size for size, (lo, hi) in ranges.items() if lo <= value <= hi]


def test_window_sizing_tab_matches_the_contract(main_window, phantom_results) -> None:
    res = phantom_results
    area, perimeter = res.annulus.area_mm2, res.annulus.perimeter_mm
    panel = main_window.results_panel
    panel.show_results(res)
    table = panel.sizing_table
    rows = {
        table.item(r, 0).text(): [table.item(r, c).text() for c in range(5)]
        for r in range(table.rowCount())
    }
    sapien = rows["SAPIEN 3"]
    (size,) = _holding(SAPIEN3_AREA_MM2, area)  # the phantom's area lies in one range
    assert sapien[1] == "area" and sapien[3].startswith(f"{size} mm")
    over = (math.pi * (size / 2) ** 2 / area - 1) * 100
    assert f"{size} mm {over:.0f}%" in sapien[4]
    evolut = next(v for k, v in rows.items() if k.startswith("Evolut"))
    (esize,) = _holding(EVOLUT_PERIMETER_MM, perimeter)
    assert evolut[1] == "perimeter" and evolut[3].startswith(f"{esize} mm")
    eover = (math.pi * esize / perimeter - 1) * 100
    assert f"{esize} mm {eover:.0f}%" in evolut[4]


def test_window_sizing_not_assessed_on_non_contrast(main_window) -> None:
    from annulusview.phantom import make_case

    case = make_case("tavr-noncontrast", seed=0, size="small")
    res = analyze(case.volume, case.landmarks)
    panel = main_window.results_panel
    panel.show_results(res)
    table = panel.sizing_table
    assert table.rowCount() >= 2
    for r in range(table.rowCount()):
        assert table.item(r, 3).text() == "not assessed"
        assert table.item(r, 4).text()  # the reason is shown, never an empty cell
