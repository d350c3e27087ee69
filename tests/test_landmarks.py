"""Landmark files: 3D Slicer markups JSON in LPS and RAS, round trips and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from annulusview.core.errors import LandmarkError
from annulusview.core.landmarks import Landmarks, read_landmarks, write_landmarks


def _markups(system: str, points: dict[str, list[float]], kind: str = "Fiducial") -> dict:
    return {
        "markups": [
            {
                "type": kind,
                "coordinateSystem": system,
                "controlPoints": [
                    {"id": str(i), "label": name, "position": pos}
                    for i, (name, pos) in enumerate(points.items())
                ],
            }
        ]
    }


def test_ras_file_is_converted_to_lps(tmp_path: Path) -> None:
    path = tmp_path / "ras.mrk.json"
    path.write_text(json.dumps(_markups("RAS", {"RCC_hinge": [10.0, -20.0, 30.0]})))
    lm = read_landmarks(path)
    # RAS -> LPS negates x and y, keeps z.
    np.testing.assert_allclose(lm["RCC_hinge"], [-10.0, 20.0, 30.0])


def test_lps_file_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "lps.mrk.json"
    path.write_text(json.dumps(_markups("LPS", {"LCC_hinge": [1.5, 2.5, -3.5]})))
    np.testing.assert_allclose(read_landmarks(path)["LCC_hinge"], [1.5, 2.5, -3.5])


@pytest.mark.parametrize("system", ["LPS", "RAS"])
def test_round_trip_keeps_positions_and_unknown_labels(tmp_path: Path, system: str) -> None:
    points = {
        "RCC_hinge": [0.0, 0.0, 0.0],
        "LCC_hinge": [10.0, 0.0, 0.0],
        "NCC_hinge": [0.0, 10.0, 0.0],
        "my_note": [1.0, 2.0, 3.0],
        **{f"MA_{i:02d}": [np.cos(i), np.sin(i), 0.5 * i] for i in range(1, 10)},
    }
    lm = Landmarks(points)
    out = write_landmarks(tmp_path / "out.mrk.json", lm, coordinate_system=system)
    back = read_landmarks(out)
    assert set(back.names()) == set(points)
    for name, pos in points.items():
        np.testing.assert_allclose(back[name], pos, atol=1e-4)
    assert back.unknown_names == ("my_note",)
    assert back.mitral_curve.shape == (9, 3)
    np.testing.assert_allclose(back.mitral_curve[0], points["MA_01"], atol=1e-4)
    data = json.loads(out.read_text())
    assert [m["type"] for m in data["markups"]] == ["Fiducial", "ClosedCurve"]


def test_mitral_curve_is_in_numeric_order() -> None:
    lm = Landmarks({"MA_10": [10, 0, 0], "MA_02": [2, 0, 0], "MA_01": [1, 0, 0]})
    np.testing.assert_allclose(lm.mitral_curve[:, 0], [1, 2, 10])


def test_undefined_points_are_ignored(tmp_path: Path) -> None:
    data = _markups("LPS", {"RCC_hinge": [1, 2, 3], "LCC_hinge": [4, 5, 6]})
    data["markups"][0]["controlPoints"][1]["positionStatus"] = "undefined"
    path = tmp_path / "a.mrk.json"
    path.write_text(json.dumps(data))
    assert read_landmarks(path).names() == ("RCC_hinge",)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("not json at all", "not readable as JSON"),
        ('{"a": 1}', "not a 3D Slicer markups"),
        ('{"markups": [{"coordinateSystem": "XYZ", "controlPoints": []}]}', "coordinateSystem"),
        (
            '{"markups": [{"controlPoints": [{"label": "RCC_hinge", "position": [1, 2]}]}]}',
            "invalid",
        ),
        ('{"markups": [{"controlPoints": [{"position": [1, 2, 3]}]}]}', "no label"),
        (
            '{"markups": [{"controlPoints": [{"label": "A", "position": [1, 2, 3]},'
            ' {"label": "A", "position": [1, 2, 3]}]}]}',
            "appears twice",
        ),
    ],
)
def test_bad_files_give_a_plain_message(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "bad.mrk.json"
    path.write_text(content)
    with pytest.raises(LandmarkError) as info:
        read_landmarks(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LandmarkError, match="does not exist"):
        read_landmarks(tmp_path / "nope.mrk.json")


def test_input_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "in.mrk.json"
    raw = json.dumps(_markups("RAS", {"RCC_hinge": [1, 2, 3]}))
    path.write_text(raw)
    read_landmarks(path)
    assert path.read_text() == raw
