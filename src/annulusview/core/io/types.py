"""Values the loading layer hands out: what a scan found, and what it left out and why."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

INFO_SCHEMA = "annulusview.info/1"


@dataclass(frozen=True)
class SkippedFile:
    """A file that was not used, with the reason in plain words.

    Attributes
    ----------
    path
        The file (for a zip member: ``archive.zip/member``).
    reason
        Why it was not used: not DICOM, not an image, other modality, unreadable...
    """

    path: str
    reason: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


@dataclass(frozen=True, eq=False)
class SeriesSummary:
    """One loadable stack of CT images, described from headers only.

    Attributes
    ----------
    id
        What ``load(..., series=id)`` and ``--series`` accept: the SeriesInstanceUID, or the UID
        plus ``#n`` when one UID holds several stacks (orientations, sizes or cardiac phases).
    series_instance_uid
        The DICOM SeriesInstanceUID ('' for NIfTI).
    description
        SeriesDescription, plus the phase or stack when the UID was split.
    modality
        'CT'.
    num_images
        Images (slices or frames) used.
    shape
        ``(slices, rows, columns)`` of the volume :func:`load` returns (after any resampling).
    spacing_mm
        ``(slice increment, row spacing, column spacing)`` in mm.
    affine
        4x4 map from ``(column i, row j, slice k, 1)`` to LPS mm.
    contrast
        True when the headers name a contrast agent, None when unknown.
    warnings
        Geometry findings (gaps, tilt, duplicates, resampling...).
    series_number
        SeriesNumber, or None.
    slice_thickness_mm
        SliceThickness (nominal reconstructed thickness, may differ from the increment), or None.
    cardiac_phase
        The cardiac phase in words (``"75%"`` from NominalPercentageOfCardiacPhase, else
        ``"temporal position 2"``, else ``"trigger 350 ms"``), or None when the headers say none.
    cardiac_phase_pct, cardiac_phase_source
        The cardiac phase in percent of the R-R interval and where it came from: ``"header"``
        (NominalPercentageOfCardiacPhase shared by the stack's images) or ``"description"``
        (one percentage in SeriesDescription, ``"Cardiac 70%"``); both None when unknown. Read
        as :func:`annulusview.core.scan_quality.cardiac_phase` reads it for the scan block.
    """

    id: str
    series_instance_uid: str
    description: str
    modality: str
    num_images: int
    shape: tuple[int, int, int]
    spacing_mm: tuple[float, float, float]
    affine: npt.NDArray[np.float64]
    contrast: bool | None
    warnings: tuple[str, ...]
    series_number: int | None = None
    slice_thickness_mm: float | None = None
    cardiac_phase: str | None = None
    cardiac_phase_pct: float | None = None
    cardiac_phase_source: str | None = None

    def __post_init__(self) -> None:
        if (self.cardiac_phase_pct is None) != (self.cardiac_phase_source is None):
            raise ValueError(
                "SeriesSummary: cardiac_phase_pct and cardiac_phase_source go together "
                f"(got {self.cardiac_phase_pct!r} and {self.cardiac_phase_source!r})"
            )
        if self.cardiac_phase_source not in (None, "header", "description"):
            raise ValueError(
                "SeriesSummary: cardiac_phase_source must be 'header', 'description' or None, "
                f"not {self.cardiac_phase_source!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The ``annulusview.info/1`` entry for this series (plus ``id`` and ``series_number``)."""
        return {
            "series_instance_uid": self.series_instance_uid,
            "id": self.id,
            "description": self.description,
            "modality": self.modality,
            "series_number": self.series_number,
            "num_images": self.num_images,
            "shape": list(self.shape),
            "spacing_mm": [round(v, 6) for v in self.spacing_mm],
            "affine": [[round(float(v), 6) for v in row] for row in self.affine],
            "contrast": self.contrast,
            "slice_thickness_mm": self.slice_thickness_mm,
            "cardiac_phase": self.cardiac_phase,
            "cardiac_phase_pct": self.cardiac_phase_pct,
            "cardiac_phase_source": self.cardiac_phase_source,
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class ScanResult:
    """Everything found at a path.

    Attributes
    ----------
    path
        The scanned path as given.
    series
        Loadable series, the default one first.
    skipped
        Files not used, with reasons.
    stacks
        The headers behind each series (in ``series`` order), so that
        :func:`~annulusview.core.io.loader.load_scanned` reads only pixels afterwards; empty
        for NIfTI.
    """

    path: str
    series: tuple[SeriesSummary, ...]
    skipped: tuple[SkippedFile, ...]
    stacks: tuple[Any, ...] = field(default=(), repr=False, compare=False)

    @property
    def default(self) -> SeriesSummary | None:
        """The series :func:`load` picks when none is asked for (the first one)."""
        return self.series[0] if self.series else None

    def to_info_dict(self) -> dict[str, Any]:
        """The ``annulusview info --json`` document."""
        return {
            "schema": INFO_SCHEMA,
            "path": self.path,
            "series": [s.to_dict() for s in self.series],
            "skipped": [s.to_dict() for s in self.skipped],
        }
