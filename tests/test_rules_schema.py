"""Issue 13, rules and landmark plausibility: never accept a value that makes numbers silently
wrong.

Every numeric rules key has a declared range (``core/rules_schema.py``); a value outside it (NaN,
infinity, a negative or zero size, a step size that would allocate without bound) is refused when
the rules are read, naming the key, the value and the range. Rules files that are special files
or break the TOML reader end in one :class:`RulesError`, never a traceback or a hang. Hinges that
cannot lie on an aortic root of this study (RAS landmarks read as LPS, a 36 mm hinge circle) are
refused before any number is measured.
"""

from __future__ import annotations

import dataclasses
import math
import os
import threading
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from annulusview.cli import main
from annulusview.core.analysis import analyze
from annulusview.core.aortic.frame import AnnulusFrame, check_on_aortic_root
from annulusview.core.errors import LandmarkError, RulesError
from annulusview.core.landmarks import AORTIC_OPTIONAL, AORTIC_REQUIRED, Landmarks, write_landmarks
from annulusview.core.rules import load_rules
from annulusview.core.rules_schema import LISTS, NUMBERS, Number, numeric_keys

RAS_TO_LPS = np.diag([-1.0, -1.0, 1.0, 1.0])


def _nested(flat: dict[str, object]) -> dict[str, object]:
    """``{"a.b.c": 1}`` -> ``{"a": {"b": {"c": 1}}}``."""
    out: dict[str, object] = {}
    for key, value in flat.items():
        *tables, name = key.split(".")
        node = out
        for table in tables:
            node = node.setdefault(table, {})  # type: ignore[assignment]
        node[name] = value
    return out


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _toml(flat: dict[str, object]) -> str:
    """A rules file holding the dotted keys of ``flat``."""
    tables: dict[str, list[str]] = {}
    for key, value in flat.items():
        table, _, name = key.rpartition(".")
        tables.setdefault(table, []).append(f"{name} = {_toml_value(value)}")
    return "".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items())


def _refused(flat: dict[str, object]) -> RulesError:
    with pytest.raises(RulesError) as info:
        load_rules(overrides=_nested(flat))
    return info.value


# --- the table covers every key -------------------------------------------------------------


def test_every_numeric_key_of_the_defaults_has_a_declared_range():
    rules = load_rules()
    declared = set(NUMBERS) | set(LISTS)
    numeric = numeric_keys(rules.to_dict())
    assert numeric - declared == set(), "numeric keys without a range"
    assert set(NUMBERS) - numeric == set(), "ranges for keys the defaults do not hold"
    for key in LISTS:
        assert isinstance(rules.get(key), tuple)


def test_calcium_threshold_range_matches_the_threshold_option():
    """One range for a calcium threshold: the rules and ``--threshold`` agree."""
    from annulusview.core.aortic.calcium import THRESHOLD_MAX_HU, THRESHOLD_MIN_HU

    spec = NUMBERS["threshold.fixed_hu"]
    assert (spec.low, spec.high) == (THRESHOLD_MIN_HU, THRESHOLD_MAX_HU)


# --- bad values, key by key -----------------------------------------------------------------


def _bad_values(spec: Number) -> list[tuple[str, object]]:
    span = max(1.0, abs(spec.high), abs(spec.low))
    cases: list[tuple[str, object]] = [
        ("nan", math.nan),
        ("inf", math.inf),
        ("-inf", -math.inf),
        ("below", spec.low - max(1.0, abs(spec.low))),
        ("too_large", spec.high + span),
        ("huge", 1e308),
    ]
    if not spec.low <= 0.0 <= spec.high:
        cases.append(("zero", 0.0))
    if spec.low > 0:
        cases.append(("tiny", spec.low / 1000.0))
    if spec.integer:
        cases.append(("fraction", spec.low + 0.5))
    return cases


BAD_VALUES = [
    pytest.param(key, value, id=f"{key}-{name}")
    for key, spec in NUMBERS.items()
    for name, value in _bad_values(spec)
]


@pytest.mark.parametrize(("key", "value"), BAD_VALUES)
def test_out_of_range_value_is_refused_naming_key_value_and_range(key, value):
    exc = _refused({key: value})
    text = exc.user_text()
    assert repr(key) in text
    assert NUMBERS[key].describe() in text
    assert repr(value) in text


WRONG_TYPES = [
    pytest.param(key, value, id=f"{key}-{name}")
    for key in NUMBERS
    for name, value in (("bool", True), ("string", "4"))
]


@pytest.mark.parametrize(("key", "value"), WRONG_TYPES)
def test_wrong_type_is_refused_naming_the_key(key, value):
    assert repr(key) in _refused({key: value}).user_text()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("agatston.weight_edges_hu", [130.0, 300.0, 200.0, 400.0]),  # not ascending
        ("agatston.weight_edges_hu", [130.0, math.nan, 300.0, 400.0]),
        ("agatston.weight_edges_hu", [130.0, 200.0, 300.0, math.inf]),
        ("agatston.weight_edges_hu", [-130.0, 200.0, 300.0, 400.0]),
        ("mitral.score_thickness_edges_mm", [10.0, 5.0]),
        ("mitral.score_thickness_edges_mm", [0.0, 10.0]),
        ("mitral.score_extent_edges_deg", [180.0, 1e9]),
        ("mitral.score_extent_edges_deg", [math.nan, 270.0]),
    ],
)
def test_bad_list_is_refused(key, value):
    text = _refused({key: value}).user_text()
    assert repr(key) in text and "ascending" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, "a HU value must be"), (-5.0, "a HU value must be"), (1e6, "a HU value must be"),
     ("lumen_plus_50", "one of lumen_plus_100")],
)  # fmt: skip
def test_contrast_method_is_a_known_method_or_a_plausible_hu(value, expected):
    text = _refused({"threshold.contrast_method": value}).user_text()
    assert "'threshold.contrast_method'" in text and expected in text
    assert (
        load_rules(overrides=_nested({"threshold.contrast_method": 550})).get(
            "threshold.contrast_method"
        )
        == 550
    )


@pytest.mark.parametrize(
    ("flat", "keys"),
    [
        # the analysis cylinder must hold every region it counts calcium for
        ({"regions.radial_margin_mm": 15.0}, ("regions.radial_margin_mm",
                                              "analysis_region.radial_margin_mm")),
        ({"analysis_region.h_min_mm": -8.0}, ("analysis_region.h_min_mm",
                                              "regions.lvot_h_min_mm")),
        ({"analysis_region.h_max_mm": 15.0}, ("regions.leaflet_h_max_mm",
                                              "analysis_region.h_max_mm")),
        # leaflet and annulus bands overlap: the same voxel counted twice
        ({"regions.leaflet_h_min_mm": 1.0}, ("regions.annulus_half_height_mm",
                                             "regions.leaflet_h_min_mm")),
        ({"regions.lvot_h_min_mm": -1.5}, ("regions.lvot_h_min_mm",
                                           "regions.annulus_half_height_mm")),
        # Agatston pixels from 130 to 199 HU would weigh 0
        ({"agatston.weight_edges_hu": [200.0, 300.0, 400.0, 500.0]},
         ("agatston.weight_edges_hu", "agatston.threshold_hu")),
        ({"lvot_grade.moderate_min_nodules": 4}, ("lvot_grade.moderate_min_nodules",
                                                  "lvot_grade.severe_min_nodules")),
        ({"flags.as_agatston.men_likely_ge": 3500.0}, ("flags.as_agatston.men_likely_ge",
                                                       "flags.as_agatston.men_very_likely_ge")),
        ({"neo_lvot.step_mm": 3.0}, ("neo_lvot.step_mm", "neo_lvot.coarse_step_mm")),
        ({"mitral.crop_margin_mm": 4.0}, ("mitral.mac_max_distance_mm", "mitral.crop_margin_mm")),
        ({"mitral.grade_moderate_min": 7}, ("mitral.grade_moderate_min",
                                            "mitral.grade_severe_min")),
        ({"hinge_plausibility.radius_max_mm": 30.0}, ("hinge_plausibility.radius_max_mm",
                                                      "annulus.max_radius_mm")),
        ({"contrast.non_contrast_max_hu": 150.0, "contrast.contrast_min_hu": 150.0,
          "neo_lvot.myocardium_hu": 160.0}, ("neo_lvot.myocardium_hu",
                                             "contrast.contrast_min_hu")),
    ],
)  # fmt: skip
def test_keys_out_of_order_are_refused_naming_both(flat, keys):
    text = _refused(flat).user_text()
    for key in keys:
        assert key in text


def test_file_values_are_checked_naming_the_file(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[contrast]\nlumen_sphere_radius_mm = nan\n")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    text = info.value.user_text()
    assert "'contrast.lumen_sphere_radius_mm' is nan" in text and str(path) in text


# --- rules files that are not rules files ---------------------------------------------------


def _load_error(path: Path) -> str:
    with pytest.raises(RulesError) as info:
        load_rules(path)
    return info.value.user_text()


def test_deeply_nested_file(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    assert "nested too deeply" in _load_error(path)


def test_integer_too_long_to_read(tmp_path):
    path = tmp_path / "digits.toml"
    path.write_text("[contrast]\nlumen_sphere_radius_mm = " + "9" * 5000 + "\n")
    text = _load_error(path)
    assert str(path) in text and "integer" in text


def test_long_integer_is_out_of_range_and_shown_short(tmp_path):
    path = tmp_path / "digits.toml"
    path.write_text("[neo_lvot]\nmax_depth_mm = " + "9" * 4000 + "\n")
    text = _load_error(path)
    assert "'neo_lvot.max_depth_mm'" in text and "4000 digits" in text and len(text) < 400


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
def test_dev_zero():
    assert "not a regular file" in _load_error(Path("/dev/zero"))


def test_folder(tmp_path):
    assert "is a folder, not a file" in _load_error(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_fifo_is_refused_without_hanging(tmp_path):
    fifo = tmp_path / "rules.toml"
    os.mkfifo(fifo)
    outcome: list[BaseException | None] = []

    def load() -> None:
        try:
            load_rules(fifo)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(timeout=20)
    if worker.is_alive():
        # free the reader blocked in open() so the thread ends, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("reading a FIFO as a rules file hung")
    assert isinstance(outcome[0], RulesError)
    assert "not a regular file" in outcome[0].user_text()


# --- command line ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def placed_case(tmp_path_factory):
    """The small contrast phantom placed in scanner coordinates so that its landmarks,
    mirrored as RAS read as LPS (x, y -> -x, -y), still lie inside the volume (the world
    origin 15 mm toward the patient's right and anterior of the volume centre), written as
    NIfTI with its landmark file."""
    from annulusview.phantom import make_case

    case = make_case("tavr-contrast", seed=0, size="small")
    volume = case.volume
    far = np.array([volume.shape[2] - 1, volume.shape[1] - 1, volume.shape[0] - 1], dtype=float)
    centre = (volume.index_to_lps(np.zeros(3)) + volume.index_to_lps(far)) / 2
    shift = -np.array([centre[0] - 15.0, centre[1] - 15.0, 0.0])
    affine = volume.affine.copy()
    affine[:3, 3] += shift
    placed = dataclasses.replace(volume, affine=affine)
    landmarks = Landmarks({k: np.asarray(p) + shift for k, p in case.landmarks.points.items()})
    folder = tmp_path_factory.mktemp("placed")
    nifti = folder / "ct.nii.gz"
    nib.save(nib.Nifti1Image(placed.hu.transpose(2, 1, 0), RAS_TO_LPS @ affine), nifti)
    lm_path = write_landmarks(folder / "case.mrk.json", landmarks)
    return placed, landmarks, nifti, lm_path


def _mirrored(landmarks: Landmarks) -> Landmarks:
    """RAS coordinates read as LPS."""
    return Landmarks({k: (-p[0], -p[1], p[2]) for k, p in landmarks.points.items()})


def _cli(capsys, *argv) -> tuple[int, list[str]]:
    """Exit code and the error lines on stderr (progress lines left out)."""
    code = main(["analyze", *map(str, argv)])
    _, err = capsys.readouterr()
    return code, [line for line in err.splitlines() if line.startswith("annulusview:")]


@pytest.mark.parametrize(
    "flat",
    [
        {"contrast.lumen_sphere_radius_mm": 0.0},  # contrast CT read as non-contrast
        {"agatston.reference_increment_mm": 0.0},  # ZeroDivisionError
        {"neo_lvot.coarse_step_mm": 1e-6},  # terabytes of section planes
        {"neo_lvot.pixel_mm": 1e-4},  # 17.5 GB of section pixels
        {"analysis_region.h_max_mm": math.nan},
    ],
    ids=lambda flat: next(iter(flat)),
)
def test_cli_bad_rules_exit_3_with_one_line_naming_the_key(placed_case, tmp_path, capsys, flat):
    _, _, nifti, lm_path = placed_case
    rules = tmp_path / "bad.toml"
    rules.write_text(_toml(flat))
    code, lines = _cli(capsys, nifti, "--landmarks", lm_path, "--rules", rules)
    assert code == 3
    assert len(lines) == 1 and next(iter(flat)) in lines[0]


# --- hinge plausibility ---------------------------------------------------------------------


def test_placed_case_itself_is_analysed(placed_case):
    """The control: the placement alone changes nothing."""
    volume, landmarks, _, _ = placed_case
    assert analyze(volume, landmarks).contrast_state == "contrast"


def test_ras_landmarks_read_as_lps_are_refused(placed_case):
    volume, landmarks, _, _ = placed_case
    mirrored = _mirrored(landmarks)
    # still inside the volume: the outside-the-volume check cannot catch them
    assert all(
        volume.contains_lps(mirrored[name])
        for name in AORTIC_REQUIRED + AORTIC_OPTIONAL
        if name in mirrored
    )
    with pytest.raises(LandmarkError) as info:
        analyze(volume, mirrored)
    text = info.value.user_text()
    assert "do not lie on an aortic root" in text and "LPS (not RAS)" in text
    assert "HU" in text and "fat, lung or air" in text


def test_cli_ras_landmarks_read_as_lps_exit_3(placed_case, tmp_path, capsys):
    _, landmarks, nifti, _ = placed_case
    path = write_landmarks(tmp_path / "ras-as-lps.mrk.json", _mirrored(landmarks))
    code, lines = _cli(capsys, nifti, "--landmarks", path)
    assert code == 3
    assert len(lines) == 1 and "LPS (not RAS)" in lines[0]


def _scaled_hinges(landmarks: Landmarks, factor: float) -> Landmarks:
    frame = AnnulusFrame.from_landmarks(landmarks)
    points = dict(landmarks.points)
    for name in AORTIC_REQUIRED:
        points[name] = frame.origin_lps + factor * (np.asarray(points[name]) - frame.origin_lps)
    return Landmarks(points)


@pytest.mark.parametrize(("factor", "radius"), [(3.0, "36"), (0.4, "5")])
def test_hinge_circle_radius_outside_an_adult_annulus_is_refused(placed_case, factor, radius):
    volume, landmarks, _, _ = placed_case
    base = AnnulusFrame.from_landmarks(landmarks).hinge_radius_mm
    scaled = _scaled_hinges(landmarks, factor)
    assert all(volume.contains_lps(scaled[name]) for name in AORTIC_REQUIRED)
    with pytest.raises(LandmarkError) as info:
        analyze(volume, scaled)
    text = info.value.user_text()
    assert f"radius of {factor * base:.1f} mm" in text and radius == f"{factor * base:.0f}"
    assert "7-20 mm" in text and "LPS (not RAS)" in text


@pytest.mark.parametrize(
    ("centre_hu", "refused"),
    [(40.0, False), (-20.0, False), (450.0, False), (900.0, False), (None, False),
     (-79.0, True), (-800.0, True), (1500.0, True)],
)  # fmt: skip
def test_annulus_centre_attenuation(phantom_case, centre_hu, refused):
    """Blood without contrast (30-60 HU) and any CTA lumen pass; fat, lung, bone do not."""
    frame = AnnulusFrame.from_landmarks(phantom_case.landmarks)
    rules = load_rules()
    if refused:
        with pytest.raises(LandmarkError, match="aortic root"):
            check_on_aortic_root(frame, centre_hu, rules)
    else:
        check_on_aortic_root(frame, centre_hu, rules)


# --- property: accepted rules always give a finished analysis with finite numbers -----------

SAMPLED_KEYS = (
    "contrast.lumen_sphere_radius_mm",
    "contrast.lumen_sphere_offset_mm",
    "threshold.min_lesion_mm3",
    "threshold.lumen_plus_offset_hu",
    "analysis_region.radial_margin_mm",
    "analysis_region.h_min_mm",
    "regions.radial_margin_mm",
    "annulus.reformat_pixel_mm",
    "agatston.reference_increment_mm",
    "neo_lvot.coarse_step_mm",
    "neo_lvot.step_mm",
    "neo_lvot.pixel_mm",
    "mitral.curve_sample_step_mm",
    "hinge_plausibility.centre_min_hu",
)


def _value(key: str) -> st.SearchStrategy[float]:
    spec = NUMBERS[key]
    valid = st.floats(spec.low, spec.high, allow_nan=False)
    invalid = st.sampled_from(
        [math.nan, math.inf, -math.inf, 0.0, -1.0, 1e-6, spec.high * 10 + 1, 1e300]
    )
    return st.one_of(valid, valid, valid, invalid)  # 3 in 4 valid: both outcomes are common


@st.composite
def _overrides(draw: st.DrawFn) -> dict[str, float]:
    keys = draw(st.lists(st.sampled_from(SAMPLED_KEYS), min_size=1, max_size=4, unique=True))
    return {key: draw(_value(key)) for key in keys}


def _non_finite(value: object, path: str = "") -> list[str]:
    if isinstance(value, float):
        return [] if math.isfinite(value) else [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _non_finite(v, f"{path}.{k}")]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _non_finite(v, f"{path}[{i}]")]
    return []


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(flat=_overrides())
def test_accepted_rules_finish_with_finite_numbers_rejected_exit_3(
    flat, phantom_case, placed_case, tmp_path, capsys
):
    try:
        rules = load_rules(overrides=_nested(flat))
    except RulesError:
        rules = None
    event("accepted" if rules is not None else "rejected")
    if rules is not None:
        assert _non_finite(rules.to_dict()) == []
        results = analyze(phantom_case.volume, phantom_case.landmarks, rules)
        assert _non_finite(results.to_dict()) == []
        return
    _, _, nifti, lm_path = placed_case
    path = tmp_path / "property.toml"
    path.write_text(_toml(flat))
    code, lines = _cli(capsys, nifti, "--landmarks", lm_path, "--rules", path)
    assert code == 3
    assert len(lines) == 1 and any(key in lines[0] for key in flat), lines
