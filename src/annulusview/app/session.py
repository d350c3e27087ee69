"""Sessions: the study path, landmarks, settings and view state as one JSON file.

Written atomically (a crash never leaves half a session). The autosave copy lives in the user's
data folder and is offered back after a crash.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from annulusview.core.atomic import atomic_write_text
from annulusview.core.errors import InputError
from annulusview.core.landmarks import Landmarks, markups_dict, parse_markups

SESSION_SCHEMA = "annulusview.session/1"
APP_NAME = "AnnulusView"


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


@dataclass
class Session:
    """Everything needed to reopen a piece of work."""

    study_path: str = ""
    series: str | None = None
    landmarks: Landmarks = field(default_factory=Landmarks)
    settings: AnalysisSettings = field(default_factory=AnalysisSettings)
    view: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": SESSION_SCHEMA,
            "study_path": self.study_path,
            "series": self.series,
            "landmarks": markups_dict(self.landmarks),
            "settings": asdict(self.settings),
            "view": self.view,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "<session>") -> Session:
        if not isinstance(data, dict) or data.get("schema") != SESSION_SCHEMA:
            raise InputError(
                f"{source} is not an AnnulusView session file.",
                "Choose a file saved with File > Save session.",
            )
        raw_settings = data.get("settings") or {}
        known = set(AnalysisSettings.__dataclass_fields__)
        settings = AnalysisSettings(**{k: v for k, v in raw_settings.items() if k in known})
        return cls(
            study_path=str(data.get("study_path") or ""),
            series=data.get("series"),
            landmarks=parse_markups(data.get("landmarks") or {"markups": []}, source),
            settings=settings,
            view=dict(data.get("view") or {}),
        )


def save_session(path: Path, session: Session) -> Path:
    """Write ``session`` as JSON, atomically."""
    atomic_write_text(Path(path), json.dumps(session.to_dict(), indent=2) + "\n")
    return Path(path)


def load_session(path: Path) -> Session:
    """Read a session file.

    Raises
    ------
    InputError
        The file is missing, not JSON, or not a session.
    """
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"Session file {p} does not exist.", "Check the path.") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"Session file {p} cannot be read ({exc.__class__.__name__}).") from None
    return Session.from_dict(data, str(p))


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
