"""What the 3D scene shows: a plain dataclass the window and the off-screen export both fill."""

from __future__ import annotations

import copy
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from annulusview.core.landmarks import Landmarks
from annulusview.core.volume import Volume

ColorBy = Literal["conduction", "lvot"]
COLOR_BY_FIELD = {
    "conduction": "distance_to_conduction_mm",
    "lvot": "distance_to_lvot_mm",
}
COLOR_BY_TITLE = {
    "conduction": "To conduction zone (mm)",
    "lvot": "To LVOT (mm)",
}


@dataclass
class SceneToggles:
    """Which layers of the 3D scene are visible."""

    calcium: bool = True
    annulus: bool = True
    lvot: bool = True
    conduction: bool = True
    landmarks: bool = True
    distance_lines: bool = True
    lumen_volume: bool = False
    teaching: bool = False
    orientation_marker: bool = True
    # mitral layers: off unless asked for (the window's Mitral / Virtual valve toggles start on)
    mitral: bool = False  # mitral annulus curve and MAC lesions
    virtual_valve: bool = False  # the virtual mitral valve (neo-LVOT)


@dataclass
class SceneState:
    """Everything :func:`annulusview.scene.build.build_scene` needs.

    Attributes
    ----------
    volume
        The CT volume (may be None before a study is open).
    results
        Analysis results: a ``Results`` object (with ``to_dict()``) or the results JSON dict.
    landmarks
        Current landmarks (LPS mm).
    toggles
        Visible layers.
    color_by
        Colour calcium by distance to the ``"conduction"`` zone or to the ``"lvot"``.
    highlight_lesion
        Id of a lesion to outline, or None.
    cache
        Scratch space kept between rebuilds (surfaces are reused while the results are the same).
    """

    volume: Volume | None = None
    results: Any = None
    landmarks: Landmarks | None = None
    toggles: SceneToggles = field(default_factory=SceneToggles)
    color_by: ColorBy = "conduction"
    highlight_lesion: int | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def results_dict(self) -> dict[str, Any] | None:
        """The results as the JSON-shaped dict (None when there are no results).

        Made once per results object (kept in ``cache``): ``to_dict()`` is not free and every
        scene rebuild needs it. Treat it as read-only.
        """
        if self.results is None:
            return None
        if isinstance(self.results, dict):
            return self.results
        # keyed on the object itself (not its id, which a new object may reuse)
        if self.cache.get("results_dict_of") is not self.results:
            self.cache["results_dict"] = results_as_dict(self.results)
            self.cache["results_dict_of"] = self.results
        value: dict[str, Any] | None = self.cache["results_dict"]
        return value


def results_as_dict(results: Any) -> dict[str, Any] | None:
    """``results.to_dict()`` when it has one, the mapping itself otherwise."""
    if results is None:
        return None
    if hasattr(results, "to_dict"):
        return dict(results.to_dict())
    if isinstance(results, Mapping):
        return dict(results)
    raise TypeError(f"results must be a Results object or a dict, got {type(results).__name__}")


def first_key(mapping: Mapping[str, Any] | None, *names: str) -> Any:
    """The value of the first of ``names`` present (and not None) in ``mapping``."""
    if not mapping:
        return None
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return value
    return None


def as_points(value: Any) -> npt.NDArray[np.float64] | None:
    """``value`` as an ``(N, 3)`` float array, or None when empty or malformed."""
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64).reshape(-1, 3)
    except (TypeError, ValueError):
        return None
    return arr if len(arr) else None


def default_rules() -> dict[str, Any]:
    """The shipped default rules (resources/rules/default.toml) as a dict (a fresh copy; the
    file is parsed once per process, as every scene rebuild needs it)."""
    from annulusview.core.resources import resource_path

    path = resource_path("rules", "default.toml")
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return copy.deepcopy(_parse_rules(str(path), stamp))


@functools.lru_cache(maxsize=2)
def _parse_rules(path: str, stamp: int) -> dict[str, Any]:
    with open(path, "rb") as handle:
        return tomllib.load(handle)
