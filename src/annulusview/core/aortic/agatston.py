"""Agatston scores of the aortic analysis (clinical-model.md section 5): the analysis region,
each lesion, each region and the valve (AVC) region of the AS rule, on the image's slices or on
3 mm slabs averaged from thin slices."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from annulusview.core.aortic.calcium import (
    AnalysisRegion,
    ScoringSlices,
    Slabs,
    Voxels,
    agatston_components,
    pixel_area_mm2,
    voxels_above,
)
from annulusview.core.aortic.frame import CUSPS, AnnulusFrame
from annulusview.core.aortic.regions import OTHER, RegionGeometry
from annulusview.core.arrays import FloatArray, IntArray
from annulusview.core.landmarks import Landmarks
from annulusview.core.rules import Rules
from annulusview.core.volume import Volume


def regional_agatston(
    voxels: Voxels,
    masks: dict[str, npt.NDArray[np.bool_]],
    pixel_area: float,
    increment: float,
    rules: Rules,
) -> dict[str, float]:
    """Agatston of each region: pixels restricted to the region first, then components."""
    return {
        name: agatston_components(voxels.subset(mask), pixel_area, increment, rules).total
        for name, mask in masks.items()
    }


def valve_region(
    vox: Voxels,
    geometry: RegionGeometry,
    landmarks: Landmarks,
    frame: AnnulusFrame,
    rules: Rules,
) -> npt.NDArray[np.bool_]:
    """The aortic valve calcium (AVC) region of the AS rule (section 5): ``-2 <= h <= 20``,
    ``r <= R + 3``, without 5 mm around each coronary ostium landmark (the aortic wall and the
    ostia are not valve calcium)."""
    inside = (
        (vox.h >= rules.number("avc.h_min_mm"))
        & (vox.h <= rules.number("avc.h_max_mm"))
        & (vox.r <= geometry.radius_at(vox.theta) + rules.number("avc.radial_margin_mm"))
    )
    keep_out = rules.number("avc.ostium_exclusion_mm")
    for name in ("LCA_ostium", "RCA_ostium"):
        pos = landmarks.get(name)
        if pos is not None and len(vox):
            inside &= np.linalg.norm(vox.lps - np.asarray(pos), axis=1) > keep_out
    return inside


@dataclass(frozen=True)
class RegionAgatston:
    """The Agatston step's numbers: total, per lesion (index = lesion id) and per region."""

    scoring: ScoringSlices
    total: float
    by_lesion: FloatArray
    by_region: dict[str, float]


def region_agatston(
    volume: Volume,
    candidates: Voxels,
    rules: Rules,
    region: AnalysisRegion,
    geometry: RegionGeometry,
    landmarks: Landmarks,
    lesions: tuple[Voxels, IntArray, int],
) -> RegionAgatston:
    """Agatston of the analysis region, its lesions and its regions (section 5), on the
    slices as they are or on 3 mm slabs averaged from thin slices."""
    frame = region.frame
    threshold = rules.number("agatston.threshold_hu")

    def on_slabs(slabs: Slabs) -> Voxels:
        slab_region = AnalysisRegion.around(slabs.volume, frame, geometry.annulus_radius_mm, rules)
        return voxels_above(slabs.volume, slab_region, threshold)

    box = (region.lo_kji, region.hi_kji)
    scoring = ScoringSlices.choose(volume, candidates, rules, on_slabs, box)
    scored, pixel_area = scoring.voxels, pixel_area_mm2(volume)
    components = agatston_components(scored, pixel_area, scoring.increment_mm, rules)
    lesion_vox, lesion_labels, lesion_count = lesions
    by_lesion = scoring.credit(
        components, lesion_vox.kji, lesion_labels, lesion_vox.hu, volume.shape, lesion_count
    )
    masks = geometry.masks(scored.h, scored.r, scored.theta)
    masks["valve"] = valve_region(scored, geometry, landmarks, frame, rules)
    masks[OTHER] = ~(masks["leaflet"] | masks["annulus"] | masks["lvot"])
    cusp = frame.cusp_index(scored.theta)
    for c, name in enumerate(CUSPS):
        masks[name] = cusp == c
    by_region = regional_agatston(scored, masks, pixel_area, scoring.increment_mm, rules)
    return RegionAgatston(scoring, components.total, by_lesion, by_region)
