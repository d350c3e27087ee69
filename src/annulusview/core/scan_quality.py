"""The scan-quality block every result carries (clinical-model v2 section 10).

What a reader checks before trusting any number: which series, which cardiac phase, how it was
acquired (kVp, slice thickness and increment, pixel spacing), whether it was ECG-gated (only when
the header says so), the contrast state and the lumen attenuation. The checks are warnings, never
silent corrections:

- annulus sizing on a phase outside systole: "Systolic measurements are preferred for
  measurement and calculation of device sizing" (strong recommendation), and "reconstructed slice
  thickness <= 1 mm for the root" (strong): Blanke P, Weir-McCall JR, Achenbach S, et al.
  Computed tomography imaging in the context of TAVI/TAVR: an expert consensus document of the
  Society of Cardiovascular Computed Tomography. J Cardiovasc Comput Tomogr 2019;13:1-20
  (recommendation tables checked). Systole is taken as 20-45 % of the R-R interval, the window
  of the contract (the consensus names no percentages);
- a neo-LVOT read on a phase that is not end-systolic: its cut-offs were derived end-systolic
  (Wang et al., Catheter Cardiovasc Interv 2018; Yoon et al., JACC Cardiovasc Interv 2019).
The Agatston technique (non-contrast, 120 kVp, 3 mm) is checked where the score is made
(:mod:`annulusview.core.aortic.agatston` and the analysis), not repeated here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from annulusview.core.aortic.calcium import slice_increment_mm
from annulusview.core.volume import Volume

#: Systolic window for annulus sizing, percent of the R-R interval (contract section 10).
SIZING_PHASE_PCT = (20.0, 45.0)
#: The consensus' reconstructed slice thickness for the aortic root, mm (SCCT 2019).
ROOT_SLICE_THICKNESS_MM = 1.0
#: End-systole for the neo-LVOT read, percent R-R: the systolic window above.
NEO_LVOT_PHASE_PCT = SIZING_PHASE_PCT

SCCT_2019 = "Blanke et al., J Cardiovasc Comput Tomogr 2019 (SCCT TAVI/TAVR CT consensus)"

_PERCENT = re.compile(r"(?<![\d.])(\d{1,3}(?:\.\d+)?)\s*%")
_RANGE = re.compile(r"\d\s*[-\u2013]\s*\d{1,3}(?:\.\d+)?\s*%")


def phase_from_description(description: str) -> float | None:
    """The percent R-R named in a series description (``"CTA 75% 0.6 mm"`` -> 75), else None.

    Only one distinct percentage between 0 and 100 counts: a description with two (``"0-90%
    10 phases"``) names no single phase.
    """
    if _RANGE.search(description or ""):
        return None  # "0-90%": a range of phases, not one
    found = {float(m.group(1)) for m in _PERCENT.finditer(description or "")}
    found = {v for v in found if 0.0 <= v <= 100.0}
    return found.pop() if len(found) == 1 else None


def cardiac_phase(header_pct: Any, description: str) -> tuple[float | None, str | None]:
    """Percent R-R of a series and where it came from, as the scan block reads it.

    ``header_pct`` (NominalPercentageOfCardiacPhase, when finite) wins with source
    ``"header"``; else one percentage in ``description`` (:func:`phase_from_description`) with
    source ``"description"``; else ``(None, None)``: the phase is unknown, never guessed.
    """
    phase = _finite(header_pct)
    if phase is not None:
        return phase, "header"
    phase = phase_from_description(description)
    return (phase, "description") if phase is not None else (None, None)


@dataclass(frozen=True)
class ScanQuality:
    """Section 10's scan block.

    Attributes
    ----------
    series_description
        SeriesDescription as written ("" when absent).
    cardiac_phase_pct, cardiac_phase_source
        Percent of the R-R interval and where it came from: ``"header"``
        (NominalPercentageOfCardiacPhase), ``"description"`` (parsed), or None with the phase
        unknown.
    kvp
        Tube voltage, kV, or None.
    slice_thickness_mm, slice_increment_mm
        Reconstructed thickness from the header (None when absent) and the spacing of slice
        positions along the slice normal.
    pixel_spacing_mm
        In-plane (row, column) spacing, mm.
    ecg_gated
        True / False only when the header states it; None otherwise (never guessed).
    contrast_state, lumen_hu, lumen_hu_sd
        The contrast decision and the lumen attenuation it rests on.
    checks
        Warnings about the scan for the reads made on it (phase, slice thickness).
    """

    series_description: str
    cardiac_phase_pct: float | None
    cardiac_phase_source: str | None
    kvp: float | None
    slice_thickness_mm: float | None
    slice_increment_mm: float
    pixel_spacing_mm: tuple[float, float]
    ecg_gated: bool | None
    contrast_state: str
    lumen_hu: float | None
    lumen_hu_sd: float | None
    checks: tuple[str, ...] = ()

    @property
    def phase_text(self) -> str:
        """``"75 % R-R (header)"`` or ``"unknown"``."""
        if self.cardiac_phase_pct is None:
            return "unknown"
        return f"{round(self.cardiac_phase_pct, 1):g} % R-R ({self.cardiac_phase_source})"

    def to_dict(self) -> dict[str, Any]:
        return {
            "series_description": self.series_description,
            "cardiac_phase_pct": self.cardiac_phase_pct,
            "cardiac_phase_source": self.cardiac_phase_source,
            "kvp": self.kvp,
            "slice_thickness_mm": self.slice_thickness_mm,
            "slice_increment_mm": self.slice_increment_mm,
            "pixel_spacing_mm": list(self.pixel_spacing_mm),
            "ecg_gated": self.ecg_gated,
            "contrast_state": self.contrast_state,
            "lumen_hu": self.lumen_hu,
            "lumen_hu_sd": self.lumen_hu_sd,
            "checks": list(self.checks),
        }


def _finite(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _gated(metadata: Mapping[str, Any]) -> bool | None:
    value = metadata.get("ecg_gated")
    return value if isinstance(value, bool) else None


def scan_quality(
    volume: Volume,
    *,
    contrast_state: str,
    lumen_hu: float | None,
    lumen_hu_sd: float | None,
    annulus_sized: bool,
    neo_lvot_read: bool = False,
) -> ScanQuality:
    """Build the scan block and its checks for one analysed volume.

    Parameters
    ----------
    volume
        The analysed volume; its ``metadata`` holds the header facts.
    contrast_state, lumen_hu, lumen_hu_sd
        From the contrast decision (section 5).
    annulus_sized
        True when the annulus was measured for sizing on this scan (contrast lumen contour).
    neo_lvot_read
        True when a neo-LVOT area was predicted on this scan.
    """
    meta = volume.metadata
    description = str(meta.get("series_description") or volume.description or "")
    phase, source = cardiac_phase(meta.get("cardiac_phase_pct"), description)
    _, row_mm, column_mm = volume.spacing_mm
    increment = slice_increment_mm(volume)
    thickness = _finite(meta.get("slice_thickness_mm"))

    checks: list[str] = []
    lo, hi = SIZING_PHASE_PCT
    if annulus_sized:
        if phase is None:
            checks.append(
                "Cardiac phase unknown: annulus sizing should be read in systole "
                f"({lo:g}-{hi:g} % R-R); check the phase ({SCCT_2019})."
            )
        elif not lo <= phase <= hi:
            checks.append(
                f"Annulus sized on a {phase:g} % R-R phase, outside systole ({lo:g}-{hi:g} %): "
                f"systolic measurements are preferred for device sizing ({SCCT_2019})."
            )
        slab = thickness if thickness is not None else increment
        if slab > ROOT_SLICE_THICKNESS_MM + 1e-6:
            checks.append(
                f"Slices of {slab:.2g} mm: the consensus asks for a reconstructed thickness "
                f"<= {ROOT_SLICE_THICKNESS_MM:g} mm for the aortic root ({SCCT_2019})."
            )
    if neo_lvot_read:
        nlo, nhi = NEO_LVOT_PHASE_PCT
        if phase is None or not nlo <= phase <= nhi:
            where = "an unknown phase" if phase is None else f"a {phase:g} % R-R phase"
            checks.append(
                f"Neo-LVOT predicted on {where}: its cut-offs were derived end-systolic "
                "(Wang 2018, Yoon 2019); read it on a systolic phase."
            )
    return ScanQuality(
        series_description=description,
        cardiac_phase_pct=phase,
        cardiac_phase_source=source,
        kvp=_finite(meta.get("kvp")),
        slice_thickness_mm=thickness,
        slice_increment_mm=float(increment),
        pixel_spacing_mm=(row_mm, column_mm),
        ecg_gated=_gated(meta),
        contrast_state=contrast_state,
        lumen_hu=lumen_hu,
        lumen_hu_sd=lumen_hu_sd,
        checks=tuple(checks),
    )
