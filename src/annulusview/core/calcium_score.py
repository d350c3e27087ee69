"""Calcium scoring of any region of a non-contrast CT: Agatston, volume and mass per component.

``calcium_score(volume, mask=None)`` is the general tool behind the aortic valve score: it
takes the voxels of ``mask`` (the whole volume when None) at or above 130 HU, groups them into
3-D 26-connected components, and reports for each

* the Agatston score (Agatston et al., J Am Coll Cardiol 1990): per image slice, 8-connected
  pixels >= 130 HU with an area >= 1 mm^2, area x peak-HU weight (1-4) x slice increment / 3 mm;
  each slice component counts for the 3-D component that holds its peak pixel; slices thinner
  than 2.5 mm are first averaged into 3 mm slabs (clinical-model.md section 5);
* the volume (voxels x voxel volume);
* the mass, when the caller gives a calibration: ``mass = c * sum(HU) * voxel volume`` with
  ``c = density / HU_calibration`` (mg per HU mm^3) from an insert of known density, e.g. the
  200 mg HA/cm^3 rod of a calibration phantom.

The technique that decides whether the numbers compare with published thresholds (tube voltage,
slice thickness and increment) is reported with the score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from annulusview.core.aortic.calcium import (
    ScoringSlices,
    Voxels,
    agatston_components,
    label_sparse,
    pixel_area_mm2,
    slice_increment_mm,
)
from annulusview.core.arrays import FloatArray
from annulusview.core.errors import InputError
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.volume import Volume


@dataclass(frozen=True)
class CalciumComponent:
    """One 3-D calcium component.

    Attributes
    ----------
    id
        1-based, by decreasing volume.
    voxel_count, volume_mm3
        Size.
    agatston
        Agatston score of the slice components whose peak lies in it.
    peak_hu, mean_hu
        Peak and mean attenuation of its voxels, HU.
    centroid_lps
        Mean voxel centre, LPS mm.
    mass_mg
        Calibrated mass, mg (None without a calibration).
    """

    id: int
    voxel_count: int
    volume_mm3: float
    agatston: float
    peak_hu: float
    mean_hu: float
    centroid_lps: FloatArray
    mass_mg: float | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "voxel_count": self.voxel_count,
            "volume_mm3": self.volume_mm3,
            "agatston": self.agatston,
            "peak_hu": self.peak_hu,
            "mean_hu": self.mean_hu,
            "centroid_lps": [round(float(x), 3) for x in self.centroid_lps],
            "mass_mg": self.mass_mg,
        }


@dataclass(frozen=True)
class CalciumScore:
    """Calcium of a region: components, totals, calibration and technique."""

    threshold_hu: float
    components: tuple[CalciumComponent, ...]
    calibration_mg_per_hu_mm3: float | None
    technique: dict[str, Any]
    warnings: tuple[str, ...]

    @property
    def agatston(self) -> float:
        return float(sum(c.agatston for c in self.components))

    @property
    def volume_mm3(self) -> float:
        return float(sum(c.volume_mm3 for c in self.components))

    @property
    def mass_mg(self) -> float | None:
        if self.calibration_mg_per_hu_mm3 is None:
            return None
        return float(sum(c.mass_mg or 0.0 for c in self.components))

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold_hu": self.threshold_hu,
            "agatston": self.agatston,
            "volume_mm3": self.volume_mm3,
            "mass_mg": self.mass_mg,
            "calibration_mg_per_hu_mm3": self.calibration_mg_per_hu_mm3,
            "technique": dict(self.technique),
            "components": [c.to_dict() for c in self.components],
            "warnings": list(self.warnings),
        }


def _calibration(
    volume: Volume, density_mg_cm3: float | None, mask: npt.NDArray[np.bool_] | None
) -> float | None:
    if density_mg_cm3 is None and mask is None:
        return None
    if density_mg_cm3 is None or mask is None:
        raise InputError(
            "A mass calibration needs both the insert's density and its voxels.",
            "Give calibration_density_mg_cm3 and calibration_mask together (or neither).",
        )
    if mask.shape != volume.shape or not mask.any():
        raise InputError("The calibration mask is empty or not the volume's shape.")
    hu = float(np.mean(volume.hu[mask]))
    if not np.isfinite(density_mg_cm3) or density_mg_cm3 <= 0 or hu <= 0:
        raise InputError(
            f"Calibration density {density_mg_cm3} mg/cm3 at {hu:.0f} HU cannot give a mass.",
            "Use a positive density and an insert brighter than water.",
        )
    return float(density_mg_cm3 / 1000.0 / hu)


def calcium_score(
    volume: Volume,
    mask: npt.NDArray[np.bool_] | None = None,
    *,
    calibration_density_mg_cm3: float | None = None,
    calibration_mask: npt.NDArray[np.bool_] | None = None,
    rules: Rules | None = None,
) -> CalciumScore:
    """Agatston, volume and mass per 3-D calcium component of ``mask`` (non-contrast CT).

    Parameters
    ----------
    volume
        The CT volume (HU).
    mask
        Voxels to score, shape of the volume (None: the whole volume).
    calibration_density_mg_cm3, calibration_mask
        An insert of known density and its voxels, for the mass (both or neither).
    rules
        ``agatston.*`` settings (threshold, minimum area, weights, reference increment).

    Raises
    ------
    InputError
        A mask of the wrong shape, or an unusable calibration.
    """
    rules = coerce_rules(rules)
    threshold = rules.number("agatston.threshold_hu")
    if mask is not None and mask.shape != volume.shape:
        raise InputError(
            f"The mask has shape {mask.shape}, the volume {volume.shape}.",
            "Pass a boolean array of the volume's shape.",
        )
    factor = _calibration(volume, calibration_density_mg_cm3, calibration_mask)
    above = volume.hu >= threshold
    if mask is not None:
        above &= mask
    kji = np.argwhere(above).astype(np.intp)
    hu = volume.hu[above].astype(np.float64)
    lps = volume.index_to_lps(kji[:, ::-1].astype(np.float64))
    zeros = np.zeros(len(hu))
    voxels = Voxels(kji, hu, lps, zeros, zeros, zeros)
    labels, count = label_sparse(kji)
    # Thin slices: Agatston on slabs averaged from consecutive slices (section 5), the mask
    # taken at each slab's centre plane; volume and mass stay on the thin slices.
    scoring = ScoringSlices.choose(
        volume, voxels, rules, lambda slabs: slabs.voxels_above(threshold, mask)
    )
    components = agatston_components(
        scoring.voxels, pixel_area_mm2(volume), scoring.increment_mm, rules
    )
    per_label = scoring.credit(components, kji, labels, hu, volume.shape, count)
    n = np.bincount(labels, minlength=count + 1)
    hu_sum = np.bincount(labels, weights=hu, minlength=count + 1)
    peak = np.full(count + 1, -np.inf)
    np.maximum.at(peak, labels, hu)
    centre = np.stack(
        [np.bincount(labels, weights=lps[:, a], minlength=count + 1) for a in range(3)], axis=1
    )
    voxel_volume = volume.voxel_volume_mm3
    order = sorted(range(1, count + 1), key=lambda lab: (-n[lab], lab))
    out = tuple(
        CalciumComponent(
            id=index,
            voxel_count=int(n[lab]),
            volume_mm3=float(n[lab] * voxel_volume),
            agatston=float(per_label[lab]),
            peak_hu=float(peak[lab]),
            mean_hu=float(hu_sum[lab] / n[lab]),
            centroid_lps=centre[lab] / n[lab],
            mass_mg=None if factor is None else float(factor * hu_sum[lab] * voxel_volume),
        )
        for index, lab in enumerate(order, start=1)
    )
    thickness = volume.metadata.get("slice_thickness_mm")
    kvp = volume.metadata.get("kvp")
    warnings = []
    if kvp is not None and abs(float(kvp) - 120.0) > 0.5:
        warnings.append(f"Acquired at {float(kvp):g} kVp: Agatston thresholds assume 120 kVp.")
    if scoring.slabs is not None:
        warnings.append(scoring.warning(volume))
    elif thickness is not None and abs(float(thickness) - 3.0) > 0.5:
        warnings.append(
            f"Slice thickness {float(thickness):g} mm: the Agatston score is defined on 3 mm "
            "slices."
        )
    return CalciumScore(
        threshold_hu=threshold,
        components=out,
        calibration_mg_per_hu_mm3=factor,
        technique={
            "kvp": kvp,
            "slice_thickness_mm": thickness,
            "slice_increment_mm": slice_increment_mm(volume),
            "agatston_slab_mm": scoring.slab_mm,
        },
        warnings=tuple(warnings),
    )
