"""Landmarks: read and write 3D Slicer markups JSON (``*.mrk.json``), LPS or RAS.

Positions are held in DICOM patient coordinates (LPS, mm) whatever the file used.
Names are exact and case-sensitive (clinical-model.md section 2); unknown labels are kept.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.atomic import atomic_write_text
from annulusview.core.errors import LandmarkError
from annulusview.core.textfile import parse_small_json, read_small_text

AORTIC_REQUIRED = ("RCC_hinge", "LCC_hinge", "NCC_hinge")
AORTIC_OPTIONAL = (
    "RCC_LCC_commissure",
    "LCC_NCC_commissure",
    "NCC_RCC_commissure",
    "LCA_ostium",
    "RCA_ostium",
    "MS_superior",
    "MS_inferior",
)
MITRAL_NAMES = (
    "MV_anterior",
    "MV_posterior",
    "MV_AL_commissure",
    "MV_PM_commissure",
    "L_trigone",
    "R_trigone",
)
KNOWN_NAMES = AORTIC_REQUIRED + AORTIC_OPTIONAL + MITRAL_NAMES
MITRAL_CURVE_PATTERN = re.compile(r"^MA_(\d{2,})$")

# One-line explanations, shown in the checklist and the teaching overlay.
DESCRIPTIONS: Mapping[str, str] = {
    "RCC_hinge": "Nadir (lowest hinge point) of the right coronary cusp",
    "LCC_hinge": "Nadir of the left coronary cusp",
    "NCC_hinge": "Nadir of the non-coronary cusp",
    "RCC_LCC_commissure": "Commissure between the right and left coronary cusps",
    "LCC_NCC_commissure": "Commissure between the left and non-coronary cusps",
    "NCC_RCC_commissure": "Commissure between the non- and right coronary cusps (above the MS)",
    "LCA_ostium": "Lower rim of the left coronary artery ostium",
    "RCA_ostium": "Lower rim of the right coronary artery ostium",
    "MS_superior": "Upper end of the membranous septum (coronal view)",
    "MS_inferior": "Lower end of the membranous septum, near the His bundle (coronal view)",
    "MV_anterior": "Mid anterior mitral annulus (aorto-mitral continuity)",
    "MV_posterior": "Mid posterior mitral annulus",
    "MV_AL_commissure": "Anterolateral mitral commissure",
    "MV_PM_commissure": "Posteromedial mitral commissure",
    "L_trigone": "Left fibrous trigone",
    "R_trigone": "Right fibrous trigone",
}

_SLICER_SCHEMA = (
    "https://raw.githubusercontent.com/slicer/slicer/master/Modules/Loadable/Markups/"
    "Resources/Schema/markups-schema-v1.0.3.json#"
)
_RAS_TO_LPS = np.array([-1.0, -1.0, 1.0])


@dataclass(frozen=True, eq=False)
class Landmarks:
    """Named points in LPS millimetres.

    Attributes
    ----------
    points
        Name -> position, shape (3,), LPS mm. Mitral curve points are ``MA_01``, ``MA_02``...
    source
        The file they were read from, if any.
    proposed
        Names of the points made by the program and not yet confirmed by a person (written as
        ``"proposed": true`` on their markups control points).
    """

    points: Mapping[str, npt.NDArray[np.float64]] = field(default_factory=dict)
    source: str = ""
    proposed: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        clean: dict[str, npt.NDArray[np.float64]] = {}
        for name, pos in self.points.items():
            arr = np.asarray(pos, dtype=np.float64).reshape(3)
            if not np.all(np.isfinite(arr)):
                raise LandmarkError(f"Landmark {name!r} has a non-finite position {arr}.")
            arr.setflags(write=False)
            clean[str(name)] = arr
        object.__setattr__(self, "points", clean)
        object.__setattr__(self, "proposed", frozenset(n for n in self.proposed if n in clean))

    def __contains__(self, name: object) -> bool:
        return name in self.points

    def __getitem__(self, name: str) -> npt.NDArray[np.float64]:
        return self.points[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.points)

    def __len__(self) -> int:
        return len(self.points)

    def get(self, name: str) -> npt.NDArray[np.float64] | None:
        return self.points.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(self.points)

    @property
    def unknown_names(self) -> tuple[str, ...]:
        """Labels that are neither a known landmark nor a mitral curve point."""
        return tuple(
            n for n in self.points if n not in KNOWN_NAMES and not MITRAL_CURVE_PATTERN.match(n)
        )

    @property
    def missing_aortic(self) -> tuple[str, ...]:
        return tuple(n for n in AORTIC_REQUIRED if n not in self.points)

    @property
    def mitral_curve(self) -> npt.NDArray[np.float64]:
        """The ``MA_*`` points in their numeric order, shape (N, 3) (N may be 0)."""
        items = []
        for name, pos in self.points.items():
            match = MITRAL_CURVE_PATTERN.match(name)
            if match:
                items.append((int(match.group(1)), pos))
        items.sort(key=lambda t: t[0])
        return np.array([p for _, p in items], dtype=np.float64).reshape(-1, 3)

    def with_point(self, name: str, position: npt.ArrayLike) -> Landmarks:
        """A copy with ``name`` added or moved (by a person: it is no longer proposed)."""
        new = dict(self.points)
        new[name] = np.asarray(position, dtype=np.float64)
        return Landmarks(new, self.source, self.proposed - {name})

    def without(self, name: str) -> Landmarks:
        """A copy with ``name`` removed."""
        return Landmarks(
            {k: v for k, v in self.points.items() if k != name}, self.source, self.proposed
        )

    def confirmed(self, name: str) -> Landmarks:
        """A copy where ``name`` is no longer marked proposed (a person accepted it)."""
        return Landmarks(self.points, self.source, self.proposed - {name})


#: Largest landmark coordinate accepted (mm): a CT field of view is well under a metre from
#: the scanner origin, so anything past this is a corrupt or foreign file.
MAX_COORDINATE_MM = 10_000.0


def _fail(path: Path, what: str, hint: str = "") -> LandmarkError:
    return LandmarkError(
        f"Landmark file {path}: {what}",
        hint or "Export the landmarks from 3D Slicer (Markups, *.mrk.json) or AnnulusView.",
    )


def parse_markups(data: Any, path: Path | str = "<memory>") -> Landmarks:
    """Build :class:`Landmarks` from parsed markups JSON (a dict)."""
    p = Path(path)
    if not isinstance(data, dict) or not isinstance(data.get("markups"), list):
        raise _fail(p, "not a 3D Slicer markups JSON file (no 'markups' list).")
    points: dict[str, npt.NDArray[np.float64]] = {}
    proposed: set[str] = set()
    for m_index, markup in enumerate(data["markups"]):
        if not isinstance(markup, dict):
            raise _fail(p, f"markup #{m_index + 1} is not an object.")
        system = str(markup.get("coordinateSystem", "LPS")).upper()
        if system not in ("LPS", "RAS"):
            raise _fail(p, f"unsupported coordinateSystem {system!r} (expected LPS or RAS).")
        units = str(markup.get("coordinateUnits", "mm"))
        if units != "mm":
            raise _fail(p, f"coordinateUnits {units!r} is not supported (expected mm).")
        control_points = markup.get("controlPoints", [])
        if not isinstance(control_points, list):
            raise _fail(p, f"markup #{m_index + 1} has no controlPoints list.")
        for c_index, cp in enumerate(control_points):
            if not isinstance(cp, dict):
                raise _fail(p, f"control point #{c_index + 1} is not an object.")
            if cp.get("positionStatus", "defined") != "defined":
                continue  # placeholders Slicer writes for points not yet placed
            label = str(cp.get("label") or "").strip()
            if not label:
                raise _fail(
                    p, f"control point #{c_index + 1} of markup #{m_index + 1} has no label."
                )
            pos = cp.get("position")
            try:
                xyz = np.asarray(pos, dtype=np.float64).reshape(3)
            except (TypeError, ValueError):
                raise _fail(p, f"landmark {label!r} has an invalid position {pos!r}.") from None
            if not np.all(np.isfinite(xyz)):
                raise _fail(p, f"landmark {label!r} has a non-finite position.")
            if np.any(np.abs(xyz) > MAX_COORDINATE_MM):
                raise _fail(
                    p,
                    f"landmark {label!r} lies more than {MAX_COORDINATE_MM / 1000:.0f} m from "
                    "the scanner origin, so it cannot be in any CT.",
                )
            if system == "RAS":
                xyz = xyz * _RAS_TO_LPS
            if label in points:
                raise _fail(p, f"landmark {label!r} appears twice.", "Keep one of them.")
            points[label] = xyz
            if cp.get("proposed") is True:
                proposed.add(label)
    return Landmarks(points, str(path), frozenset(proposed))


def read_landmarks(path: str | Path) -> Landmarks:
    """Read a 3D Slicer markups JSON file into LPS millimetres.

    Raises
    ------
    LandmarkError
        The file is missing, not JSON, not markups, or holds an invalid point.
    """
    p = Path(path).expanduser()
    text = read_small_text(p, "landmarks file", error=LandmarkError, encoding="utf-8-sig")
    data = parse_small_json(text, p, "landmarks file", error=LandmarkError)
    return parse_markups(data, p)


def markups_dict(landmarks: Landmarks, coordinate_system: str = "LPS") -> dict[str, Any]:
    """Markups JSON for ``landmarks``: fiducials in one markup, ``MA_*`` as a closed curve."""
    system = coordinate_system.upper()
    if system not in ("LPS", "RAS"):
        raise ValueError("coordinate_system must be 'LPS' or 'RAS'")
    flip = _RAS_TO_LPS if system == "RAS" else np.ones(3)

    def control_point(index: int, name: str, pos: npt.NDArray[np.float64]) -> dict[str, Any]:
        point = {
            "id": str(index),
            "label": name,
            "description": DESCRIPTIONS.get(name, ""),
            "position": [round(float(v), 4) for v in pos * flip],
            "positionStatus": "defined",
            "locked": False,
            "selected": True,
            "visibility": True,
        }
        if name in landmarks.proposed:
            point["proposed"] = True  # made by the program, not yet confirmed by a person
        return point

    fiducials = [n for n in landmarks.names() if not MITRAL_CURVE_PATTERN.match(n)]
    curve = sorted(
        (n for n in landmarks.names() if MITRAL_CURVE_PATTERN.match(n)),
        key=lambda n: int(n[3:]),
    )
    markups: list[dict[str, Any]] = []
    if fiducials:
        markups.append(
            {
                "type": "Fiducial",
                "name": "AnnulusView landmarks",
                "coordinateSystem": system,
                "coordinateUnits": "mm",
                "controlPoints": [
                    control_point(i + 1, n, landmarks[n]) for i, n in enumerate(fiducials)
                ],
            }
        )
    if curve:
        markups.append(
            {
                "type": "ClosedCurve",
                "name": "MA",
                "coordinateSystem": system,
                "coordinateUnits": "mm",
                "controlPoints": [
                    control_point(i + 1, n, landmarks[n]) for i, n in enumerate(curve)
                ],
            }
        )
    return {"@schema": _SLICER_SCHEMA, "markups": markups}


def write_landmarks(path: str | Path, landmarks: Landmarks, coordinate_system: str = "LPS") -> Path:
    """Write ``landmarks`` as 3D Slicer markups JSON, atomically. Returns the path."""
    p = Path(path).expanduser()
    atomic_write_text(p, json.dumps(markups_dict(landmarks, coordinate_system), indent=2) + "\n")
    return p
