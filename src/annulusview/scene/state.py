"""What the 3D scene shows: a plain dataclass the window and the off-screen export both fill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.landmarks import Landmarks
from annulusview.core.results import Results
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
    # the FWHM lumen surface of the root and LVOT with the LVOT, sinus and STJ rings: drawn on
    # contrast CT only (never built for non-contrast or indeterminate scans)
    lumen_surface: bool = True
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
        The analysis results (typed; results files are read into ``Results`` elsewhere).
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
    results: Results | None = None
    landmarks: Landmarks | None = None
    toggles: SceneToggles = field(default_factory=SceneToggles)
    color_by: ColorBy = "conduction"
    highlight_lesion: int | None = None
    cache: dict[Any, Any] = field(default_factory=dict)

    @property
    def regions(self) -> RegionGeometry | None:
        """The region geometry: the analysis's when there are results, else previewed from the
        hinge landmarks with the default rules (so the regions show while placing landmarks)."""
        if self.results is not None:
            return self.results.regions
        if self.landmarks is None:
            return None
        # keyed on the (frozen) landmarks object itself, not its id, which a new one may reuse
        if self.cache.get("preview_regions_of") is not self.landmarks:
            self.cache["preview_regions_of"] = self.landmarks
            self.cache["preview_regions"] = RegionGeometry.preview(self.landmarks)
        value: RegionGeometry | None = self.cache["preview_regions"]
        return value
