"""Sessions: the study path, landmarks, settings and view state as one JSON file.

Written atomically (a crash never leaves half a session). The autosave copy lives in the user's
data folder and is offered back after a crash.

Every session read is checked against the schema before anything uses it
(:meth:`Session.from_dict`): each field's type and range, the same ranges the settings dialog
and the command line accept.
A damaged file raises :class:`SessionError` naming the field; a file from a newer AnnulusView
raises :class:`NewerSessionError`. Nothing unchecked reaches the window.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import platformdirs

from annulusview.core.aortic.valve import MAX_IMPLANT_DEPTH_MM, VALVE_SIZE_RANGE_MM
from annulusview.core.atomic import atomic_write_text
from annulusview.core.errors import InputError, LandmarkError
from annulusview.core.landmarks import (
    MAX_COORDINATE_MM,
    Landmarks,
    markups_dict,
    parse_markups,
)
from annulusview.core.textfile import parse_small_json, read_small_text

log = logging.getLogger(__name__)

SESSION_SCHEMA_VERSION = 1
SESSION_SCHEMA = f"annulusview.session/{SESSION_SCHEMA_VERSION}"
_SCHEMA_PATTERN = re.compile(r"^annulusview\.session/(\d{1,9})$")
APP_NAME = "AnnulusView"

# Ranges: core.aortic.valve's, shared with the settings dialog and the command line; the
# threshold's are core.aortic.calcium's, the region overrides' the rules schema's.
VALVE_SIZE_MM = VALVE_SIZE_RANGE_MM  # as --valve-size
IMPLANT_DEPTH_MM = (0.0, MAX_IMPLANT_DEPTH_MM)  # as --implant-depth
SEXES = ("M", "F")
#: Window width and level (HU): a CT holds at most 16-bit values; dragging the window in a
#: slice view never makes it narrower than 1 HU.
WINDOW_LIMIT_HU = 65536.0
WINDOW_WIDTH_HU = (1.0, WINDOW_LIMIT_HU)
#: 3D camera coordinates (mm): ten times the farthest landmark any CT can hold.
CAMERA_LIMIT_MM = 10 * MAX_COORDINATE_MM
MAX_LANDMARKS = 2000
MAX_LABEL_CHARS = 64
MAX_PATH_CHARS = 4096
MAX_SERIES_CHARS = 1024


class SessionError(InputError):
    """A session file is unreadable, damaged, or holds a value AnnulusView does not accept.

    Attributes
    ----------
    field
        The dotted name of the offending field (``settings.valve_size_mm``), or ``""`` when
        the file as a whole is unusable.
    """

    def __init__(self, message: str, hint: str = "", field: str = "") -> None:
        super().__init__(message, hint)
        self.field = field


class NewerSessionError(SessionError):
    """A session written by a newer AnnulusView, in a schema this version cannot read."""


@dataclass
class AnalysisSettings:
    """User choices that change the analysis.

    Attributes
    ----------
    threshold
        ``lumen_plus_100``, ``fixed_850``, ``by_lumen_450_850`` or a HU value; None = rules default.
    regions
        Overrides of the ``[regions]`` rules (same keys), empty for the defaults.
    valve_size_mm, valve_type, implant_depth_mm, sex
        Optional planning inputs (implant depth in mm below the annular plane; 0 is allowed).
    valve_family
        Device family of the planned valve (``resources/devices.toml``), or None for a generic
        size and type.
    """

    threshold: str | float | None = None
    regions: dict[str, float] = field(default_factory=dict)
    valve_size_mm: float | None = None
    valve_type: str | None = None
    implant_depth_mm: float | None = None
    sex: str | None = None
    valve_family: str | None = None


Vector3 = tuple[float, float, float]


@dataclass(frozen=True)
class ViewState:
    """How the window looked: restored once the session's study has loaded.

    Attributes
    ----------
    crosshair_lps
        Crosshair position, LPS mm.
    window
        ``(width, level)`` of the slice views, HU (width > 0).
    color_by
        ``conduction`` or ``lvot``: what colours the calcium in 3D.
    toggles
        3D layer visibility by :class:`~annulusview.scene.state.SceneToggles` name.
    camera
        3D camera ``(position, focal point, view up)``, mm.
    """

    crosshair_lps: Vector3 | None = None
    window: tuple[float, float] | None = None
    color_by: str | None = None
    toggles: Mapping[str, bool] = field(default_factory=dict)
    camera: tuple[Vector3, Vector3, Vector3] | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.crosshair_lps is not None:
            out["crosshair_lps"] = list(self.crosshair_lps)
        if self.window is not None:
            out["window"] = list(self.window)
        if self.color_by is not None:
            out["color_by"] = self.color_by
        if self.toggles:
            out["toggles"] = dict(self.toggles)
        if self.camera is not None:
            out["camera"] = [list(v) for v in self.camera]
        return out


@dataclass
class Session:
    """Everything needed to reopen a piece of work."""

    study_path: str = ""
    series: str | None = None
    landmarks: Landmarks = field(default_factory=Landmarks)
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    view: ViewState = field(default_factory=ViewState)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SESSION_SCHEMA,
            "study_path": self.study_path,
            "series": self.series,
            "landmarks": markups_dict(self.landmarks),
            "settings": asdict(self.settings),
            "view": self.view.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<session>") -> Session:
        """Check ``data`` (parsed JSON) against the session schema and build the session.

        Raises
        ------
        NewerSessionError
            The schema is newer than this version reads.
        SessionError
            Not a session, or a field of the wrong type or out of range (named in the message
            and in :attr:`SessionError.field`).
        """
        check = _Checker(source)
        if not isinstance(data, dict):
            raise check.not_a_session()
        _check_schema(data.get("schema"), check)
        check.keys(data, "", ("schema", "study_path", "series", "landmarks", "settings", "view"))
        study_path = data.get("study_path")
        series = data.get("series")
        return cls(
            study_path="" if study_path is None else check.text(study_path, "study_path"),
            series=None if series is None else check.text(series, "series", MAX_SERIES_CHARS),
            landmarks=_landmarks(data.get("landmarks"), check),
            settings=_settings(data.get("settings"), check),
            view=_view(data.get("view"), check),
        )


# --- the schema -------------------------------------------------------------------------------


class _Checker:
    """Builds the :class:`SessionError` for one file: "<file>: <field> must be ..., got ..."."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, name: str, must: str, value: Any = ..., hint: str = "") -> SessionError:
        got = "" if value is ... else f", got {_short_repr(value)}"
        return SessionError(
            f"Session file {self.source}: {name} {must}{got}.",
            hint or "The session file is damaged; it cannot be reopened as it is.",
            field=name,
        )

    def not_a_session(self) -> SessionError:
        return SessionError(
            f"{self.source} is not an AnnulusView session file.",
            "Choose a file saved with File > Save session.",
        )

    def keys(self, data: dict[str, Any], prefix: str, allowed: tuple[str, ...]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(
                    f"{prefix}{str(key)[:40]}",
                    f"is not a session field (known: {', '.join(allowed)})",
                )

    def mapping(self, value: Any, name: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(name, "must be an object", value)
        return value

    def number(self, value: Any, name: str, low: float, high: float, unit: str = "") -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(name, "must be a number", value)
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(name, "must be a finite number", value)
        # compared before float(): a JSON integer may be too large for a float
        if not low <= value <= high:
            raise self.fail(name, f"must be in {low:g}-{high:g}{unit}", value)
        return float(value)

    def vector(self, value: Any, name: str, limit: float) -> Vector3:
        if not isinstance(value, list) or len(value) != 3:
            raise self.fail(name, "must be a list of 3 numbers", value)
        x, y, z = (self.number(v, f"{name}[{i}]", -limit, limit) for i, v in enumerate(value))
        return (x, y, z)

    def text(self, value: Any, name: str, limit: int = MAX_PATH_CHARS) -> str:
        if not isinstance(value, str):
            raise self.fail(name, "must be a string", value)
        if len(value) > limit or "\x00" in value:
            raise self.fail(name, f"must be a text of at most {limit} characters", value)
        return value

    def choice(self, value: Any, name: str, choices: tuple[str, ...]) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in choices:
            raise self.fail(name, f"must be one of {', '.join(choices)}", value)
        return value


def _short_repr(value: Any, limit: int = 40) -> str:
    if isinstance(value, dict | list):  # never repr a deep or huge structure
        return f"a JSON {'object' if isinstance(value, dict) else 'list'}"
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _check_schema(schema: Any, check: _Checker) -> None:
    if schema == SESSION_SCHEMA:
        return
    match = _SCHEMA_PATTERN.match(schema) if isinstance(schema, str) else None
    if match is None or int(match.group(1)) < 1:
        raise check.not_a_session()
    version = int(match.group(1))
    raise NewerSessionError(
        f"The session file {check.source} was made by a newer version of AnnulusView "
        f"(schema {version}; this version reads up to {SESSION_SCHEMA_VERSION}).",
        "Open it with that newer AnnulusView, or update this one.",
        field="schema",
    )


def _landmarks(value: Any, check: _Checker) -> Landmarks:
    """Markups JSON as :func:`markups_dict` writes it; labels are short strings (known names,
    ``MA_NN`` curve points, or others imported from 3D Slicer, which are kept unused)."""
    if value is None:
        return Landmarks()
    data = check.mapping(value, "landmarks")
    markups = data.get("markups")
    if not isinstance(markups, list):
        raise check.fail("landmarks.markups", "must be a list", markups)
    count = 0
    labels: set[str] = set()
    for m, markup in enumerate(markups):
        name = f"landmarks.markups[{m}]"
        markup = check.mapping(markup, name)
        check.choice(
            markup.get("coordinateSystem", "LPS"), f"{name}.coordinateSystem", ("LPS", "RAS")
        )
        check.choice(markup.get("coordinateUnits", "mm"), f"{name}.coordinateUnits", ("mm",))
        points = markup.get("controlPoints", [])
        if not isinstance(points, list):
            raise check.fail(f"{name}.controlPoints", "must be a list", points)
        for c, point in enumerate(points):
            where = f"{name}.controlPoints[{c}]"
            point = check.mapping(point, where)
            if point.get("positionStatus", "defined") != "defined":
                continue  # placeholders Slicer writes for points not yet placed
            label = check.text(point.get("label"), f"{where}.label", MAX_LABEL_CHARS).strip()
            if not label or not label.isprintable():
                raise check.fail(f"{where}.label", "must be a landmark name", label)
            if label in labels:
                raise check.fail(f"{where}.label", "appears twice", label)
            labels.add(label)
            check.vector(point.get("position"), f"landmark {label} position", MAX_COORDINATE_MM)
            count += 1
            if count > MAX_LANDMARKS:
                raise check.fail("landmarks", f"must hold at most {MAX_LANDMARKS} points")
    try:
        return parse_markups(data, check.source)
    except LandmarkError as exc:  # pragma: no cover - the checks above refuse what it refuses
        raise check.fail("landmarks", f"are damaged ({exc.message})") from None


def _settings(value: Any, check: _Checker) -> AnalysisSettings:
    from annulusview.core.aortic.calcium import THRESHOLD_MAX_HU, THRESHOLD_MIN_HU
    from annulusview.core.aortic.devices import load_devices
    from annulusview.core.aortic.valve import VALVE_TYPES
    from annulusview.core.rules_schema import CONTRAST_METHODS, NUMBERS

    data = check.mapping(value, "settings")
    check.keys(data, "settings.", tuple(f.name for f in fields(AnalysisSettings)))
    threshold: str | float | None = data.get("threshold")
    if isinstance(threshold, str):
        check.choice(threshold, "settings.threshold", CONTRAST_METHODS)
    elif threshold is not None:
        threshold = check.number(
            threshold, "settings.threshold", THRESHOLD_MIN_HU, THRESHOLD_MAX_HU, " HU"
        )
    # region overrides: the rules schema's ranges, as the settings dialog's boxes
    bounds = {k.removeprefix("regions."): v for k, v in NUMBERS.items() if k.startswith("regions.")}
    raw_regions = check.mapping(data.get("regions"), "settings.regions")
    check.keys(raw_regions, "settings.regions.", tuple(bounds))
    regions = {
        key: check.number(
            v, f"settings.regions.{key}", bounds[key].low, bounds[key].high, f" {bounds[key].unit}"
        )
        for key, v in raw_regions.items()
    }

    def optional(key: str, low_high: tuple[float, float]) -> float | None:
        v = data.get(key)
        return None if v is None else check.number(v, f"settings.{key}", *low_high, " mm")

    size = optional("valve_size_mm", VALVE_SIZE_MM)
    devices = load_devices()
    family = check.choice(data.get("valve_family"), "settings.valve_family", tuple(devices))
    if family is not None and size is not None:
        try:
            devices[family].size(size)
        except InputError as exc:
            raise check.fail(
                "settings.valve_size_mm", f"is not a size of {family}", size, exc.hint
            ) from None
    return AnalysisSettings(
        threshold=threshold,
        regions=regions,
        valve_size_mm=size,
        valve_type=check.choice(data.get("valve_type"), "settings.valve_type", VALVE_TYPES),
        implant_depth_mm=optional("implant_depth_mm", IMPLANT_DEPTH_MM),
        sex=check.choice(data.get("sex"), "settings.sex", SEXES),
        valve_family=family,
    )


def _view(value: Any, check: _Checker) -> ViewState:
    from annulusview.scene.state import COLOR_BY_FIELD, SceneToggles

    data = check.mapping(value, "view")
    check.keys(data, "view.", ("crosshair_lps", "window", "color_by", "toggles", "camera"))
    crosshair = data.get("crosshair_lps")
    window = data.get("window")
    if window is not None:
        if not isinstance(window, list) or len(window) != 2:
            raise check.fail("view.window", "must be [width, level] in HU", window)
        width = check.number(window[0], "view.window width", *WINDOW_WIDTH_HU, " HU")
        level = check.number(
            window[1], "view.window level", -WINDOW_LIMIT_HU, WINDOW_LIMIT_HU, " HU"
        )
        window = (width, level)
    toggle_names = tuple(f.name for f in fields(SceneToggles))
    raw_toggles = check.mapping(data.get("toggles"), "view.toggles")
    check.keys(raw_toggles, "view.toggles.", toggle_names)
    for key, on in raw_toggles.items():
        if not isinstance(on, bool):
            raise check.fail(f"view.toggles.{key}", "must be true or false", on)
    return ViewState(
        crosshair_lps=(
            None
            if crosshair is None
            else check.vector(crosshair, "view.crosshair_lps", MAX_COORDINATE_MM)
        ),
        window=window,
        color_by=check.choice(data.get("color_by"), "view.color_by", tuple(COLOR_BY_FIELD)),
        toggles=dict(raw_toggles),
        camera=_camera(data.get("camera"), check),
    )


def _camera(value: Any, check: _Checker) -> tuple[Vector3, Vector3, Vector3] | None:
    if value is None:
        return None
    if not isinstance(value, list) or len(value) != 3:
        raise check.fail("view.camera", "must be [position, focal point, view up]", value)
    position, focal, up = (
        check.vector(v, f"view.camera {part}", CAMERA_LIMIT_MM)
        for v, part in zip(value, ("position", "focal point", "view up"), strict=True)
    )
    direction = [p - f for p, f in zip(position, focal, strict=True)]
    if math.hypot(*direction) < 1e-6:
        raise check.fail("view.camera", "must have its position apart from its focal point")
    cross = (
        direction[1] * up[2] - direction[2] * up[1],
        direction[2] * up[0] - direction[0] * up[2],
        direction[0] * up[1] - direction[1] * up[0],
    )
    if math.hypot(*cross) < 1e-9 * max(math.hypot(*direction) * math.hypot(*up), 1e-300):
        raise check.fail("view.camera view up", "must not be zero or along the view direction")
    return position, focal, up


# --- files ------------------------------------------------------------------------------------


def save_session(path: Path, session: Session) -> Path:
    """Write ``session`` as JSON, atomically."""
    atomic_write_text(Path(path), json.dumps(session.to_dict(), indent=2) + "\n")
    return Path(path)


def load_session(path: Path | str) -> Session:
    """Read and check a session file.

    Raises
    ------
    NewerSessionError
        The file was written by a newer AnnulusView.
    SessionError
        The file is missing, not a regular file, too large, not JSON, nested too deeply, not a
        session, or holds a field of the wrong type or out of range.
    """
    p = Path(path)
    text = read_small_text(p, "session file", error=SessionError)
    data = parse_small_json(text, p, "session file", error=SessionError)
    return Session.from_dict(data, str(p))


def set_aside(path: Path, suffix: str = ".broken") -> Path | None:
    """Rename ``path`` to ``NAME.broken`` (``NAME.2.broken``, ... when taken), never
    overwriting an earlier one. Returns the new path, or None when it cannot be moved."""
    path = Path(path)
    for n in range(1, 1000):
        target = path.with_name(f"{path.name}{suffix}" if n == 1 else f"{path.name}.{n}{suffix}")
        try:
            os.link(path, target)  # fails when the target exists: never overwrites
        except FileExistsError:
            continue
        except OSError:
            if target.exists():
                continue
            try:
                path.rename(target)  # no hard links on this file system
                return target
            except OSError:
                log.warning("cannot set aside %s", path, exc_info=True)
                return None
        path.unlink(missing_ok=True)
        return target
    return None


def data_dir(create: bool = True) -> Path:
    """The user's AnnulusView data folder (created unless ``create`` is False)."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def autosave_path(create: bool = True) -> Path:
    """Where the running session is autosaved (its folder created unless ``create`` is False)."""
    return data_dir(create) / "autosave.session.json"


def log_dir() -> Path:
    """The user's AnnulusView log folder (created)."""
    path = Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path
