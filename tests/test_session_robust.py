"""Damaged, hostile and future session files: refused with a message naming the field, the
autosave set aside as ``.broken``, and the window never crashes (issue 13)."""

from __future__ import annotations

import copy
import json
import math
import os
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from annulusview.app.session import (
    SESSION_SCHEMA,
    AnalysisSettings,
    NewerSessionError,
    Session,
    SessionError,
    ViewState,
    load_session,
    save_session,
)

LOAD_TIMEOUT_MS = 60000
NEWER = "made by a newer version of AnnulusView (schema 2; this version reads up to 1)"


@pytest.fixture(scope="module")
def good_session(phantom_case) -> dict[str, Any]:
    """A session with every field filled, as the app writes it (parsed back from its file)."""
    session = Session(
        study_path="/nowhere/study/dicom",
        series="1.2.826.0.1.3680043.8.498.1",
        landmarks=phantom_case.landmarks,
        settings=AnalysisSettings(
            threshold=550.0,
            regions={"radial_margin_mm": 4.0},
            valve_size_mm=26.0,
            valve_type="balloon",
            implant_depth_mm=0.0,
            sex="F",
            valve_family="sapien3",
        ),
        view=ViewState(
            crosshair_lps=(1.0, -2.0, 30.0),
            window=(800.0, 300.0),
            color_by="lvot",
            toggles={"calcium": True, "teaching": False},
            camera=((0.0, -400.0, 30.0), (0.0, 0.0, 30.0), (0.0, 0.0, 1.0)),
        ),
    )
    return json.loads(json.dumps(session.to_dict()))


# --- unit: a table of bad sessions ------------------------------------------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Change the field at dotted ``path`` (list items by index) of a session dict."""

    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        node[int(last) if isinstance(node, list) else last] = value

    return change


POINT = "landmarks.markups.0.controlPoints.0"
NAN, INF = float("nan"), float("inf")

# (case id, change, field named in the error)
BAD_FIELDS = [
    ("settings-list", _set("settings", [1, 2]), "settings"),
    ("settings-string", _set("settings", "x"), "settings"),
    ("threshold-unknown", _set("settings.threshold", "hot"), "settings.threshold"),
    ("threshold-low", _set("settings.threshold", 50), "settings.threshold"),
    ("threshold-high", _set("settings.threshold", 5000.0), "settings.threshold"),
    ("threshold-bool", _set("settings.threshold", True), "settings.threshold"),
    ("threshold-nan", _set("settings.threshold", NAN), "settings.threshold"),
    ("threshold-huge-int", _set("settings.threshold", 10**400), "settings.threshold"),
    ("regions-list", _set("settings.regions", []), "settings.regions"),
    ("regions-unknown", _set("settings.regions", {"bogus_mm": 1.0}), "settings.regions.bogus"),
    ("region-string", _set("settings.regions.radial_margin_mm", "5"), "settings.regions.radial"),
    ("region-huge", _set("settings.regions.radial_margin_mm", 1e9), "settings.regions.radial"),
    ("region-past-rules", _set("settings.regions.radial_margin_mm", 25), "settings.regions.radial"),
    ("region-wrong-side", _set("settings.regions.lvot_h_min_mm", 5.0), "settings.regions.lvot"),
    ("valve-size-string", _set("settings.valve_size_mm", "26"), "settings.valve_size_mm"),
    ("valve-size-small", _set("settings.valve_size_mm", 5.0), "settings.valve_size_mm"),
    ("valve-size-large", _set("settings.valve_size_mm", 50), "settings.valve_size_mm"),
    ("valve-size-inf", _set("settings.valve_size_mm", INF), "settings.valve_size_mm"),
    ("valve-size-not-family", _set("settings.valve_size_mm", 34.0), "settings.valve_size_mm"),
    ("valve-type", _set("settings.valve_type", "tiny"), "settings.valve_type"),
    ("valve-family", _set("settings.valve_family", "acme"), "settings.valve_family"),
    ("depth-negative", _set("settings.implant_depth_mm", -1.0), "settings.implant_depth_mm"),
    ("depth-deep", _set("settings.implant_depth_mm", 25.0), "settings.implant_depth_mm"),
    ("depth-list", _set("settings.implant_depth_mm", [3]), "settings.implant_depth_mm"),
    ("sex", _set("settings.sex", "X"), "settings.sex"),
    ("settings-unknown", _set("settings.colour", 1), "settings.colour"),
    ("view-string", _set("view", "big"), "view"),
    ("window-string", _set("view.window", "wide"), "view.window"),
    ("window-short", _set("view.window", [800]), "view.window"),
    ("window-zero-width", _set("view.window", [0, 40]), "view.window width"),
    ("window-negative-width", _set("view.window", [-5.0, 40]), "view.window width"),
    ("window-nan-level", _set("view.window", [800, NAN]), "view.window level"),
    ("window-string-level", _set("view.window", [800, "40"]), "view.window level"),
    ("window-huge", _set("view.window", [1e300, 40]), "view.window width"),
    ("crosshair-nan", _set("view.crosshair_lps", [NAN, 0.0, 0.0]), "view.crosshair_lps"),
    ("crosshair-inf", _set("view.crosshair_lps", [0.0, INF, 0.0]), "view.crosshair_lps"),
    ("crosshair-2d", _set("view.crosshair_lps", [1.0, 2.0]), "view.crosshair_lps"),
    ("crosshair-string", _set("view.crosshair_lps", "centre"), "view.crosshair_lps"),
    ("crosshair-far", _set("view.crosshair_lps", [1e9, 0, 0]), "view.crosshair_lps"),
    ("camera-string", _set("view.camera", "front"), "view.camera"),
    ("camera-short", _set("view.camera", [[0, 0, 1], [0, 0, 0]]), "view.camera"),
    ("camera-nan", _set("view.camera", [[NAN, 0, 1], [0, 0, 0], [0, 1, 0]]), "view.camera"),
    ("camera-text", _set("view.camera", [["a", 0, 1], [0, 0, 0], [0, 1, 0]]), "view.camera"),
    ("camera-no-distance", _set("view.camera", [[0, 0, 0], [0, 0, 0], [0, 1, 0]]), "view.camera"),
    ("camera-up-zero", _set("view.camera", [[0, 0, 9], [0, 0, 0], [0, 0, 0]]), "view.camera"),
    ("camera-up-along", _set("view.camera", [[0, 0, 9], [0, 0, 0], [0, 0, 2]]), "view.camera"),
    ("color-by", _set("view.color_by", "red"), "view.color_by"),
    ("toggles-list", _set("view.toggles", ["calcium"]), "view.toggles"),
    ("toggle-string", _set("view.toggles.calcium", "yes"), "view.toggles.calcium"),
    ("toggle-unknown", _set("view.toggles.fireworks", True), "view.toggles.fireworks"),
    ("view-unknown", _set("view.zoom", 2), "view.zoom"),
    ("landmarks-string", _set("landmarks", "RCC"), "landmarks"),
    ("markups-string", _set("landmarks.markups", "x"), "landmarks.markups"),
    ("markup-number", _set("landmarks.markups.0", 3), "landmarks.markups[0]"),
    ("points-dict", _set("landmarks.markups.0.controlPoints", {}), "landmarks.markups[0]"),
    ("position-2d", _set(f"{POINT}.position", [1.0, 2.0]), "landmark RCC_hinge position"),
    ("position-text", _set(f"{POINT}.position", ["1", "2", "3"]), "landmark RCC_hinge"),
    ("position-nan", _set(f"{POINT}.position", [1.0, NAN, 3.0]), "landmark RCC_hinge"),
    ("position-far", _set(f"{POINT}.position", [1e7, 0.0, 0.0]), "landmark RCC_hinge"),
    ("label-number", _set(f"{POINT}.label", 7), "landmarks.markups[0].controlPoints[0].label"),
    ("label-empty", _set(f"{POINT}.label", " "), "landmarks.markups[0].controlPoints[0].label"),
    ("label-long", _set(f"{POINT}.label", "x" * 500), "landmarks.markups[0].controlPoints[0]"),
    (
        "label-twice",
        _set("landmarks.markups.0.controlPoints.1.label", "RCC_hinge"),
        "landmarks.markups[0].controlPoints[1].label",
    ),
    ("units", _set("landmarks.markups.0.coordinateUnits", "cm"), "landmarks.markups[0]"),
    ("study-path-number", _set("study_path", 5), "study_path"),
    ("study-path-nul", _set("study_path", "a\x00b"), "study_path"),
    ("series-list", _set("series", ["a"]), "series"),
    ("top-unknown", _set("patient", "x"), "patient"),
]


@pytest.mark.parametrize("case, change, field", BAD_FIELDS, ids=[c[0] for c in BAD_FIELDS])
def test_bad_field_is_refused_naming_it(good_session, tmp_path, case, change, field):
    data = copy.deepcopy(good_session)
    change(data)
    with pytest.raises(SessionError) as info:
        Session.from_dict(data, "case.session.json")
    assert info.value.field.startswith(field), (case, info.value.field)
    assert field in info.value.message and "case.session.json" in info.value.message
    if not any(isinstance(v, float) and not math.isfinite(v) for v in _leaves(data)):
        # the same through a file, as the window reads it
        path = tmp_path / "case.session.json"
        path.write_text(json.dumps(data), encoding="utf-8")
        with pytest.raises(SessionError) as from_file:
            load_session(path)
        assert from_file.value.field == info.value.field


def _schema_text(body: str) -> str:
    return f'{{"schema": "{SESSION_SCHEMA}", {body}}}'


# (case id, file content, words in the message)
BAD_FILES = [
    ("not-json", "hello", "not readable as JSON"),
    ("empty", "", "not readable as JSON"),
    ("truncated", _schema_text('"view": {"window": [800, 3')[:-3], "not readable as JSON"),
    ("binary", bytes(range(256)) * 8, "not utf-8 text"),
    ("nan-literal", _schema_text('"view": {"window": [NaN, 40]}'), "NaN is not a number"),
    ("infinity-literal", _schema_text('"view": {"crosshair_lps": [Infinity, 0, 0]}'), "Infinity"),
    ("deep-nesting", _schema_text('"view": ' + "[" * 200 + "]" * 200), "nested"),
    ("very-deep-nesting", _schema_text('"view": ' + "[" * 100000 + "]" * 100000), "nested"),
    ("huge-file", _schema_text('"study_path": "' + "x" * (5 * 1024 * 1024) + '"'), "MB"),
    ("json-list", "[1, 2, 3]", "not an AnnulusView session"),
    ("no-schema", '{"study_path": "x"}', "not an AnnulusView session"),
    ("other-schema", '{"schema": "slicer.markups/1"}', "not an AnnulusView session"),
    ("schema-zero", '{"schema": "annulusview.session/0"}', "not an AnnulusView session"),
    ("schema-number", '{"schema": 1}', "not an AnnulusView session"),
    ("huge-integer", _schema_text('"settings": {"valve_size_mm": 1' + "0" * 5000 + "}"), "JSON"),
]


@pytest.mark.parametrize("case, content, words", BAD_FILES, ids=[c[0] for c in BAD_FILES])
def test_bad_file_is_refused_with_a_message(tmp_path, case, content, words):
    path = tmp_path / "case.session.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SessionError) as info:
        load_session(path)
    assert words in info.value.message, info.value.message
    assert "Traceback" not in info.value.user_text()


def test_future_schema_says_newer_version(good_session, tmp_path):
    path = tmp_path / "case.session.json"
    path.write_text(json.dumps({**good_session, "schema": "annulusview.session/2"}))
    with pytest.raises(NewerSessionError) as info:
        load_session(path)
    assert NEWER in info.value.message
    assert path.read_text()  # never deleted by reading


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_folder_and_fifo_are_refused_without_hanging(tmp_path):
    with pytest.raises(SessionError, match="folder"):
        load_session(tmp_path)
    fifo = tmp_path / "pipe.session.json"
    os.mkfifo(fifo)
    with pytest.raises(SessionError, match="not a regular file"):
        load_session(fifo)
    with pytest.raises(SessionError, match="does not exist"):
        load_session(tmp_path / "missing.session.json")


def test_good_session_round_trips(good_session, tmp_path):
    session = Session.from_dict(good_session)
    assert session.settings.valve_size_mm == 26.0 and session.view.window == (800.0, 300.0)
    path = save_session(tmp_path / "s.session.json", session)
    assert load_session(path).to_dict() == session.to_dict()
    # an older, minimal session (only the schema) still opens, with defaults
    assert Session.from_dict({"schema": SESSION_SCHEMA}).view == ViewState()


# --- fuzz: validation only, hundreds of mutated sessions ----------------------------------------

ODD_VALUES: list[Any] = [
    "",
    "x",
    "x" * 5000,
    0,
    -1,
    -1e308,
    1e308,
    10**40,
    True,
    False,
    None,
    [],
    {},
    [1.0, 2.0],
    [1.0, 2.0, 3.0],
    [[0, 0, 1], [0, 0, 0], [0, 1, 0]],
    {"a": 1},
    NAN,
    INF,
    -INF,
]


def _leaves(node: Any) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        else:
            yield item


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _paths(value, (*prefix, index))


def _at(root: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        root = root[key]
    return root


def mutate(data: dict[str, Any], rng: random.Random, keep_study: bool = False) -> dict | str:
    """One to three random changes to a session dict; sometimes the result is JSON text cut
    short. ``keep_study``: never change ``study_path`` (the window must not scan a real
    folder such as ``/``)."""
    data = copy.deepcopy(data)
    for _ in range(rng.randint(1, 3)):
        paths = [p for p in _paths(data) if p and not (keep_study and p[0] == "study_path")]
        path = rng.choice(paths)
        parent, key = _at(data, path[:-1]), path[-1]
        op = rng.choice(("delete", "swap", "swap", "number", "nest", "unknown"))
        value = parent[key]
        if op == "delete":
            del parent[key]
        elif op == "swap":
            parent[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        elif op == "number":
            numbers = [p for p in _paths(value) if isinstance(_at(value, p), int | float)]
            if not numbers or numbers == [()]:
                parent[key] = rng.choice([NAN, -1.0, 1e300, 10**400, rng.uniform(-50, 50)])
            else:
                spot = rng.choice([p for p in numbers if p])
                _at(value, spot[:-1])[spot[-1]] = rng.choice(
                    [NAN, INF, -INF, -1.0, 0.0, 1e300, -1e6, 10**400, rng.uniform(-500, 500)]
                )
        elif op == "nest":
            deep: Any = "bottom"
            for _ in range(rng.randint(5, 400)):
                deep = [deep] if rng.random() < 0.5 else {"k": deep}
            parent[key] = deep
        elif isinstance(value, dict):
            value[rng.choice(("extra", "zoom", "x" * 60))] = rng.choice(ODD_VALUES[:12])
    if rng.random() < 0.15:
        text = json.dumps(data)
        return text[: rng.randint(0, len(text) - 1)]
    return data


def _check_refusal(exc: SessionError) -> None:
    assert exc.message and "Traceback" not in exc.user_text()
    if exc.field:
        assert exc.field in exc.message


def test_fuzz_validation_only_refuses_with_a_typed_error(good_session, tmp_path):
    rng = random.Random(13)
    accepted = refused = 0
    path = tmp_path / "fuzz.session.json"
    for case in range(500):
        mutated = mutate(good_session, rng)
        if isinstance(mutated, dict):
            try:
                session = Session.from_dict(mutated, "fuzz")
            except SessionError as exc:
                _check_refusal(exc)
                refused += 1
            else:
                accepted += 1
                # what was accepted is a session the app can write and read back unchanged
                again = Session.from_dict(json.loads(json.dumps(session.to_dict())))
                assert again.to_dict() == session.to_dict(), case
            text = json.dumps(mutated, allow_nan=True)  # NaN written as JSON can't hold it
        else:
            text = mutated
        path.write_text(text, encoding="utf-8")
        try:
            load_session(path)
        except SessionError as exc:
            _check_refusal(exc)
    assert accepted > 20 and refused > 200, (accepted, refused)


# --- the window: damaged autosaves and sessions -------------------------------------------------


def _open_phantom(qtbot, window, phantom_dir: Path) -> None:
    window.open_path(phantom_dir / "dicom", landmarks=phantom_dir / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)


def _settle(qtbot, window) -> None:
    """Wait for the session's study to load and for the analysis it starts."""
    qtbot.waitUntil(lambda: window.sessions.pending is None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(
        lambda: (
            (window.load_task is None or not window.load_task.running)
            and not window.analysis.timer.isActive()
            and (window.analysis_task is None or not window.analysis_task.running)
        ),
        timeout=LOAD_TIMEOUT_MS,
    )


def _assert_usable(window) -> None:
    """The window holds a state it can save and read back, and it still takes input."""
    session = window.sessions.current()
    Session.from_dict(json.loads(json.dumps(session.to_dict())))
    axial = window.views["axial"]
    assert axial.window_width > 0 and math.isfinite(axial.window_level)
    if window.volume is not None:
        centre = window.volume.index_to_lps((np.array(window.volume.shape[::-1]) - 1) / 2.0)
        window.set_crosshair(centre)
        np.testing.assert_allclose(axial.crosshair_lps, centre)
    window.apply_window_preset(1)
    assert axial.window_width == window.presets[1][1]


def _broken(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.broken"))


def _close(box) -> None:
    if box is not None:
        box.done(0)


def test_damaged_autosave_is_set_aside_once_and_the_next_start_is_clean(
    qtbot, main_window, good_session, user_dirs
):
    from annulusview.app.messages import message_text
    from annulusview.app.session import autosave_path

    window = main_window
    path = autosave_path()
    earlier = path.with_name(path.name + ".broken")
    earlier.write_text("an earlier broken autosave")
    damaged = {**good_session, "settings": [1], "view": {"window": "wide"}}
    path.write_text(json.dumps(damaged))
    with qtbot.captureExceptions() as exceptions:
        box = window.sessions.offer_recovery()
    assert not exceptions
    assert box is not None and window.last_message is box
    text = message_text(box)
    assert "damaged" in text and "starts clean" in text and "settings" in text
    assert not path.exists()
    assert earlier.read_text() == "an earlier broken autosave"  # never overwritten
    kept = path.with_name(path.name + ".2.broken")
    assert kept.is_file() and json.loads(kept.read_text()) == damaged
    assert str(kept) in text
    _close(box)
    # the next start has nothing to recover and says nothing
    window.last_message = None
    assert window.sessions.offer_recovery() is None and window.last_message is None
    _assert_usable(window)


def test_future_autosave_is_kept_and_explained(qtbot, main_window, good_session, user_dirs):
    from annulusview.app.messages import message_text
    from annulusview.app.session import autosave_path

    path = autosave_path()
    path.write_text(json.dumps({**good_session, "schema": "annulusview.session/2"}))
    box = main_window.sessions.offer_recovery()
    assert box is not None and NEWER in message_text(box)
    assert "not an AnnulusView session" not in message_text(box)
    assert not path.exists()
    (kept,) = _broken(path.parent)
    assert json.loads(kept.read_text())["schema"] == "annulusview.session/2"
    _close(box)


def test_opened_session_with_bad_values_says_which_and_keeps_the_file(
    qtbot, main_window, good_session, tmp_path
):
    from annulusview.app.messages import message_text

    window = main_window
    window.ask_study_location = lambda missing: None  # "Cancel" in the folder dialog
    for field, value in (
        ("settings", {"valve_size_mm": "26"}),
        ("view", {"window": ["wide", 40]}),
        ("view", {"crosshair_lps": [1e300, 0, 0]}),
        ("view", {"camera": "front"}),
    ):
        path = tmp_path / "case.session.json"
        path.write_text(json.dumps({**good_session, field: value}, allow_nan=True))
        window.last_message = None
        with qtbot.captureExceptions() as exceptions:
            window.sessions.open(path)
        assert not exceptions
        text = message_text(window.last_message)
        assert "Something went wrong" not in text
        assert f"{field}." in text, text
        assert path.is_file()  # a file the user chose is never renamed
        _close(window.last_message)
    _assert_usable(window)


def test_fuzz_autosaves_in_the_window(qtbot, main_window, phantom_dir, user_dirs):
    """Mutated autosaves of a real session, recovered into one window: each ends in a message
    or a clean load, nothing raises inside Qt, and a refused autosave is set aside."""
    from annulusview.app.messages import message_text
    from annulusview.app.session import autosave_path

    window = main_window
    window.ask_study_location = lambda missing: None  # "Cancel" in the folder dialog
    _open_phantom(qtbot, window, phantom_dir)
    _settle(qtbot, window)
    window.set_color_by("lvot")
    base = json.loads(json.dumps(window.sessions.current().to_dict()))
    assert base["view"]["camera"] and base["landmarks"]["markups"]
    applied: list[Any] = []  # view states that reached the window (the Qt-slot path)
    apply_view_state = window.sessions.apply_view_state
    window.sessions.apply_view_state = lambda view: (applied.append(view), apply_view_state(view))
    path = autosave_path()
    rng = random.Random(2024)
    outcomes = {"refused": 0, "restored": 0}
    for case in range(40):
        mutated = mutate(base, rng, keep_study=True)
        text = mutated if isinstance(mutated, str) else json.dumps(mutated, allow_nan=True)
        path.write_text(text, encoding="utf-8")
        broken_before = len(_broken(path.parent))
        window.last_message = None
        with qtbot.captureExceptions() as exceptions:
            box = window.sessions.offer_recovery()
            assert box is not None, case
            if "did not close normally" in message_text(box):
                outcomes["restored"] += 1
                box.accept()
                _settle(qtbot, window)
                assert not path.exists(), case  # recovered: the autosave is done with
            else:
                outcomes["refused"] += 1
                assert "starts clean" in message_text(box), case
                assert not path.exists() and len(_broken(path.parent)) == broken_before + 1
                assert window.sessions.offer_recovery() is None  # the next start is clean
            _close(window.last_message)
            _close(box)
            _assert_usable(window)
        assert not exceptions, (case, text[:300], [str(e[1]) for e in exceptions])
    assert outcomes["refused"] >= 5 and outcomes["restored"] >= 5, outcomes
    assert len(applied) >= 3, outcomes
