"""Results of an analysis as data: frozen dataclasses, the results JSON and the lesion CSV.

``Results.to_dict()`` is exactly the ``annulusview.results/1`` document of cli-and-files.md,
plus extra fields (contour, closest points, frame, timings, version) that the contract allows.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from annulusview import DISCLAIMER, __version__
from annulusview.core.aortic.annulus import AnnulusMeasurement
from annulusview.core.aortic.frame import AnnulusFrame
from annulusview.core.aortic.regions import RegionGeometry
from annulusview.core.aortic.root import RootMeasurements
from annulusview.core.arrays import FloatArray, IntArray
from annulusview.core.atomic import atomic_write_text
from annulusview.core.flags import Flag
from annulusview.core.scan_quality import ScanQuality

if TYPE_CHECKING:
    from annulusview.core.fluoro import FluoroPlan
    from annulusview.core.mitral import MitralResults

RESULTS_SCHEMA = "annulusview.results/2"
LabelCrop = tuple[npt.NDArray[np.int32], tuple[int, int, int]]


def _point(p: FloatArray) -> list[float]:
    return [round(float(x), 4) for x in p]


def _clean(value: Any) -> Any:
    """JSON-safe copy: numpy scalars to Python, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass(frozen=True, eq=False)
class Lesion:
    """One calcium lesion (3-D 26-connected component in the analysis region).

    Attributes
    ----------
    id
        1-based, by decreasing volume.
    voxel_count, volume_mm3
        Size in voxels and mm^3.
    agatston
        Sum of the Agatston components whose peak lies in the lesion (non-contrast), else None.
    max_hu
        Peak attenuation, HU.
    centroid_lps
        Mean voxel centre, LPS mm.
    region
        ``leaflet``, ``annulus``, ``lvot`` (largest share among these disjoint regions) or
        ``other``.
    cusp
        ``RCC``, ``LCC`` or ``NCC`` (largest share by sector).
    volume_by_region_mm3
        Volume inside each region (``conduction`` overlaps ``annulus``/``lvot``) and ``other``.
    volume_by_cusp_mm3
        Volume inside each cusp sector.
    distance_to_lvot_mm, distance_to_conduction_mm
        Minimum distance from the lesion's voxel centres to the region, mm (0 when inside).
    closest_to_lvot_lps, closest_to_conduction_lps
        (lesion point, region point) realising that distance, LPS mm.
    inward_extent_mm
        ``max(0, R - min r)`` over voxels with ``h <= 2`` mm: protrusion into the lumen, mm.
    h_range_mm
        Lowest and highest ``h`` of its voxels, mm.
    tangential_length_mm
        Its extent along the wall at ``h <= 2``: the arc its voxels cover at their mean radius,
        mm (a lesion protrudes when its inward extent is at least this).
    lvot_extension_mm, lvot_coverage_pct
        For its part in the annulus / LVOT regions below the hinges (``h < 0``): the length
        along ``n`` (mm) and the share of the circumference (%) it covers; None without such a
        part (the inputs of the LVOT calcium grade).
    """

    id: int
    voxel_count: int
    volume_mm3: float
    agatston: float | None
    max_hu: float
    centroid_lps: FloatArray
    region: str
    cusp: str
    volume_by_region_mm3: Mapping[str, float]
    volume_by_cusp_mm3: Mapping[str, float]
    distance_to_lvot_mm: float
    closest_to_lvot_lps: tuple[FloatArray, FloatArray]
    distance_to_conduction_mm: float
    closest_to_conduction_lps: tuple[FloatArray, FloatArray]
    inward_extent_mm: float
    h_range_mm: tuple[float, float]
    tangential_length_mm: float = 0.0
    lvot_extension_mm: float | None = None
    lvot_coverage_pct: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voxel_count": self.voxel_count,
            "volume_mm3": self.volume_mm3,
            "agatston": self.agatston,
            "max_hu": self.max_hu,
            "centroid_lps": _point(self.centroid_lps),
            "region": self.region,
            "cusp": self.cusp,
            "volume_by_region_mm3": dict(self.volume_by_region_mm3),
            "volume_by_cusp_mm3": dict(self.volume_by_cusp_mm3),
            "distance_to_lvot_mm": self.distance_to_lvot_mm,
            "closest_points_lvot_lps": [_point(p) for p in self.closest_to_lvot_lps],
            "distance_to_conduction_mm": self.distance_to_conduction_mm,
            "closest_points_conduction_lps": [_point(p) for p in self.closest_to_conduction_lps],
            "inward_extent_mm": self.inward_extent_mm,
            "h_range_mm": list(self.h_range_mm),
            "tangential_length_mm": self.tangential_length_mm,
            "lvot_extension_mm": self.lvot_extension_mm,
            "lvot_coverage_pct": self.lvot_coverage_pct,
        }


@dataclass(frozen=True)
class CalciumTotal:
    """Calcium in one region or sector: volume (mm^3; None when calcium was not assessed) and
    Agatston (None on contrast CT)."""

    volume_mm3: float | None
    agatston: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"volume_mm3": self.volume_mm3, "agatston": self.agatston}


@dataclass(frozen=True)
class CalciumSummary:
    """Calcium totals, voxel by voxel over the kept lesions.

    Attributes
    ----------
    volume_mm3, agatston
        Whole analysis region.
    by_region
        ``leaflet``, ``annulus``, ``lvot``, ``conduction`` and ``other`` (not in the first three).
    by_cusp
        ``RCC``, ``LCC``, ``NCC`` sectors.
    valve_agatston
        Agatston of the valve (AVC) region of the AS rule (section 5), None on contrast CT.
    leaflet_volume_850_mm3
        Leaflet calcium volume at 850 HU (contrast CT), None otherwise.
    """

    volume_mm3: float | None
    agatston: float | None
    by_region: Mapping[str, CalciumTotal]
    by_cusp: Mapping[str, CalciumTotal]
    valve_agatston: float | None
    leaflet_volume_850_mm3: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "volume_mm3": self.volume_mm3,
            "agatston": self.agatston,
            "valve_agatston": self.valve_agatston,
            "leaflet_volume_850_mm3": self.leaflet_volume_850_mm3,
            "by_region": {k: v.to_dict() for k, v in self.by_region.items()},
            "by_cusp": {k: v.to_dict() for k, v in self.by_cusp.items()},
        }


@dataclass(frozen=True, eq=False)
class Results:
    """Everything an analysis produced; ``to_dict()`` is the results JSON.

    Attributes
    ----------
    series_instance_uid
        Source series ('' for NIfTI).
    contrast
        ``contrast_state == "contrast"`` (kept for schema 1 readers).
    contrast_state
        ``contrast``, ``non_contrast`` or ``indeterminate`` (section 5).
    calcium_not_assessed_reason
        Why no calcium was thresholded (indeterminate contrast, a threshold inside the lumen);
        empty when calcium was assessed. Every calcium number is then None.
    lumen_hu_sd
        Standard deviation of the lumen attenuation sample, HU.
    calcium_noise
        The contrast-CT noise floor and the lesions below it (core/aortic/noise_floor.py);
        None on non-contrast CT or without a lumen sample.
    threshold_hu, threshold_method, threshold_reference
        Calcium threshold T and how it was chosen.
    lumen_hu
        Lumen attenuation LA (HU) in the LVOT sphere, None when it could not be sampled.
    annulus
        Annulus measurement (with contour).
    frame
        The annulus frame.
    coronary_heights_mm
        ``{"LCA": h or None, "RCA": h or None}``.
    ms_length_mm
        Infra-annular membranous septum length ``max(0, -h(MS_inferior))``, mm, or None.
    ms_height_mm
        ``|MS_superior - MS_inferior|``, mm (reported only), or None.
    lvot_calcium_grade
        The LVOT calcium grade with its nodules, or None when calcium was not assessed.
    calcium, lesions, flags
        Calcium totals, lesions (largest first), every risk rule's outcome.
    regions
        The region geometry the lesions were assigned with (its ``frame`` is :attr:`frame`).
    parameters
        Every threshold and region setting used.
    warnings
        What the user must know (fallbacks, missing inputs, unknown landmarks).
    timings_s
        Wall time of each stage, s.
    root
        LVOT, sinus, STJ and ascending aorta (section 4.2); every number None with a reason
        when not assessed (non-contrast) or not measurable. None only for old callers.
    sizing
        Every valve family's suggested size for the measured annulus (section 7.1).
    scan
        The scan-quality block (section 10): series, phase, technique, contrast, and the
        checks on them (:mod:`annulusview.core.scan_quality`). None only for old callers.
    vtc_mm
        ``{"LCA": VTC or None, "RCA": ...}``: ostium distance outside a virtual valve of the
        planned size coaxial with n, mm (section 4.3); None without the ostium or a valve size.
    fluoroscopy
        S-curve table, three-cusp coplanar and cusp-overlap C-arm views (section 9), or None
        only for old callers.
    landmarks_proposed
        Names of the input landmarks made by the program and not yet confirmed by a person
        (``"proposed": true``): the results rest on unconfirmed inputs while this is not empty.
    """

    series_instance_uid: str
    contrast: bool
    contrast_state: str
    calcium_not_assessed_reason: str
    lumen_hu_sd: float | None
    threshold_hu: float
    threshold_method: str
    threshold_reference: str
    lumen_hu: float | None
    annulus: AnnulusMeasurement
    frame: AnnulusFrame
    coronary_heights_mm: Mapping[str, float | None]
    ms_length_mm: float | None
    ms_height_mm: float | None
    calcium: CalciumSummary
    lvot_calcium_grade: Mapping[str, Any] | None
    lesions: tuple[Lesion, ...]
    flags: tuple[Flag, ...]
    regions: RegionGeometry
    parameters: Mapping[str, Any]
    warnings: tuple[str, ...] = ()
    timings_s: Mapping[str, float] = field(default_factory=dict)
    disclaimer: str = DISCLAIMER
    mitral: MitralResults | None = None
    sizing: tuple[Mapping[str, Any], ...] = ()
    landmarks_proposed: tuple[str, ...] = ()
    root: RootMeasurements | None = None
    scan: ScanQuality | None = None
    vtc_mm: Mapping[str, float | None] = field(default_factory=dict)
    fluoroscopy: FluoroPlan | None = None
    calcium_noise: Mapping[str, Any] | None = None
    lesion_voxels_kji: IntArray = field(default_factory=lambda: np.zeros((0, 3), dtype=np.intp))
    lesion_voxel_ids: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))

    @property
    def faint_lesion_ids(self) -> frozenset[int]:
        """Ids of the lesions below the contrast-CT noise floor (empty without one)."""
        if not self.calcium_noise:
            return frozenset()
        return frozenset(int(i) for i in self.calcium_noise["faint_lesion_ids"])

    def lesion_label_crop(self, margin: int = 1) -> LabelCrop:
        """Lesion ids painted into the smallest box that holds every lesion voxel.

        Returns ``(labels[k, j, i], offset_kji)``: ``labels`` holds lesion ids (0 background)
        and ``offset_kji`` is the volume index of ``labels[0, 0, 0]``. The box has ``margin``
        empty voxels on each side (clipped at 0) so surfaces close. Meshes and DICOM SEG use
        this instead of thresholding the volume again.
        """
        if len(self.lesion_voxel_ids) == 0:
            return np.zeros((1, 1, 1), dtype=np.int32), (0, 0, 0)
        lo = np.maximum(self.lesion_voxels_kji.min(axis=0) - margin, 0)
        hi = self.lesion_voxels_kji.max(axis=0) + margin + 1
        labels = np.zeros(tuple(int(v) for v in hi - lo), dtype=np.int32)
        idx = self.lesion_voxels_kji - lo
        labels[idx[:, 0], idx[:, 1], idx[:, 2]] = self.lesion_voxel_ids
        return labels, (int(lo[0]), int(lo[1]), int(lo[2]))

    def lesion_label_volume(self, shape_kji: tuple[int, int, int]) -> npt.NDArray[np.int32]:
        """The lesion ids in an array of the volume's shape (prefer the crop: it is small)."""
        labels, (k0, j0, i0) = self.lesion_label_crop(margin=0)
        out = np.zeros(shape_kji, dtype=np.int32)
        if len(self.lesion_voxel_ids):
            nk, nj, ni = labels.shape
            out[k0 : k0 + nk, j0 : j0 + nj, i0 : i0 + ni] = labels
        return out

    @property
    def raised_flags(self) -> tuple[Flag, ...]:
        """Flags whose criterion is met at level moderate or high."""
        return tuple(f for f in self.flags if f.raised)

    def flag(self, flag_id: str) -> Flag:
        """The outcome of one rule by id."""
        for f in self.flags:
            if f.id == flag_id:
                return f
        raise KeyError(flag_id)

    def to_dict(self) -> dict[str, Any]:
        """The ``annulusview.results/2`` JSON document (a plain dict)."""
        out = {
            "schema": RESULTS_SCHEMA,
            "app_version": __version__,
            "series_instance_uid": self.series_instance_uid,
            "contrast": self.contrast,
            "contrast_state": self.contrast_state,
            "calcium_assessed": not self.calcium_not_assessed_reason,
            "calcium_not_assessed_reason": self.calcium_not_assessed_reason or None,
            "lumen_hu_sd": self.lumen_hu_sd,
            "calcium_noise": None if self.calcium_noise is None else dict(self.calcium_noise),
            "threshold_hu": self.threshold_hu,
            "threshold_method": self.threshold_method,
            "threshold_reference": self.threshold_reference,
            "lumen_hu": self.lumen_hu,
            "annulus": self.annulus.to_dict(),
            "root": None if self.root is None else self.root.to_dict(),
            "frame": self.frame.to_dict(),
            "scan": None if self.scan is None else self.scan.to_dict(),
            "coronary_heights_mm": dict(self.coronary_heights_mm),
            "vtc_mm": {artery: self.vtc_mm.get(artery) for artery in ("LCA", "RCA")},
            "fluoroscopy": None if self.fluoroscopy is None else self.fluoroscopy.to_dict(),
            "ms_length_mm": self.ms_length_mm,
            "ms_height_mm": self.ms_height_mm,
            "calcium": self.calcium.to_dict(),
            "lvot_calcium_grade": None
            if self.lvot_calcium_grade is None
            else dict(self.lvot_calcium_grade),
            "lesions": [lesion.to_dict() for lesion in self.lesions],
            "flags": [f.to_dict() for f in self.flags],
            "parameters": dict(self.parameters),
            "warnings": list(self.warnings),
            "sizing": [dict(row) for row in self.sizing],
            "landmarks_proposed": list(self.landmarks_proposed),
            "mitral": None if self.mitral is None else self.mitral.to_dict(),
            "timings_s": dict(self.timings_s),
            "disclaimer": self.disclaimer,
        }
        cleaned: dict[str, Any] = _clean(out)
        return cleaned

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"


LESION_CSV_COLUMNS = (
    "id",
    "volume_mm3",
    "agatston",
    "max_hu",
    "centroid_x_lps_mm",
    "centroid_y_lps_mm",
    "centroid_z_lps_mm",
    "region",
    "cusp",
    "volume_leaflet_mm3",
    "volume_annulus_mm3",
    "volume_lvot_mm3",
    "volume_conduction_mm3",
    "volume_other_mm3",
    "distance_to_lvot_mm",
    "distance_to_conduction_mm",
    "inward_extent_mm",
)


def lesions_csv(results: Results) -> str:
    """The lesion table as CSV text (one row per lesion, units in the column names)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LESION_CSV_COLUMNS)
    for lesion in results.lesions:
        by_region = lesion.volume_by_region_mm3
        writer.writerow(
            [
                lesion.id,
                f"{lesion.volume_mm3:.3f}",
                "" if lesion.agatston is None else f"{lesion.agatston:.2f}",
                f"{lesion.max_hu:.0f}",
                *(f"{c:.2f}" for c in lesion.centroid_lps),
                lesion.region,
                lesion.cusp,
                *(
                    f"{by_region.get(k, 0.0):.3f}"
                    for k in ("leaflet", "annulus", "lvot", "conduction", "other")
                ),
                f"{lesion.distance_to_lvot_mm:.3f}",
                f"{lesion.distance_to_conduction_mm:.3f}",
                f"{lesion.inward_extent_mm:.3f}",
            ]
        )
    return buffer.getvalue()


def write_lesions_csv(path: str | Path, results: Results) -> Path:
    """Write the lesion table CSV atomically; returns the path."""
    p = Path(path).expanduser()
    atomic_write_text(p, lesions_csv(results))
    return p


def write_results_json(path: str | Path, results: Results) -> Path:
    """Write the results JSON atomically; returns the path."""
    p = Path(path).expanduser()
    atomic_write_text(p, results.to_json())
    return p
