"""The whole aortic analysis: landmarks -> frame -> annulus -> calcium -> regions -> flags.

:func:`analyze` is the one entry point shared by the command line, the app and scripts. It works
on a crop around the annulus and on the sparse voxels above the calcium threshold, and records
the time of each stage.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import numpy.typing as npt

from annulusview.core.aortic import frame as frame_module
from annulusview.core.aortic.agatston import RegionAgatston, region_agatston
from annulusview.core.aortic.annulus import (
    METHOD_CONTOUR,
    AnnulusMeasurement,
    contour_radius_table,
    measure_annulus,
)
from annulusview.core.aortic.calcium import (
    CONTRAST,
    NON_CONTRAST,
    AnalysisRegion,
    Threshold,
    Voxels,
    choose_threshold,
    contrast_state,
    keep_large_components,
    lumen_sample,
    pixel_area_mm2,
    slice_increment_mm,
    threshold_guard,
    voxels_above,
)
from annulusview.core.aortic.coronary import coronary_inputs
from annulusview.core.aortic.devices import parse_valve_option, sizing_table
from annulusview.core.aortic.frame import CUSPS, AnnulusFrame, check_landmarks
from annulusview.core.aortic.noise_floor import descriptor_on_faint, noise_floor
from annulusview.core.aortic.regions import DISJOINT_REGIONS, OTHER, REGIONS, RegionGeometry
from annulusview.core.aortic.risk import RiskInputs, evaluate_flags
from annulusview.core.aortic.root import measure_root
from annulusview.core.aortic.valve import PlannedValve
from annulusview.core.arrays import FloatArray, IntArray
from annulusview.core.flags import Flag
from annulusview.core.fluoro import plan_fluoro
from annulusview.core.landmarks import AORTIC_REQUIRED, Landmarks
from annulusview.core.lesion_inputs import lvot_calcium_grade, wall_extents, without_faint
from annulusview.core.mitral import MitralResults, analyze_mitral
from annulusview.core.mitral.common import median_hu_in_sphere
from annulusview.core.mitral.neo_lvot import VirtualValve
from annulusview.core.progress import CancelToken, ProgressCallback, check, report
from annulusview.core.results import CalciumSummary, CalciumTotal, Lesion, Results
from annulusview.core.rules import Rules, coerce_rules
from annulusview.core.scan_quality import scan_quality
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)


# Leaflet calcium for pvl.leaflet_calcium_850 is counted at this threshold (rules file).
_LEAFLET_850_KEY = "flags.pvl_leaflet_calcium_850.threshold_hu"


class _Timer:
    def __init__(self) -> None:
        self.times: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.times[name] = self.times.get(name, 0.0) + time.perf_counter() - start


def _first_per_group(groups: IntArray, values: npt.NDArray[np.floating], count: int) -> IntArray:
    """Index of the smallest value in each group 1..count (groups must all be present)."""
    order = np.lexsort((values, groups))
    starts = np.searchsorted(groups[order], np.arange(1, count + 1))
    return order[starts]


def _normalise_sex(sex: str | None, volume: Volume) -> tuple[str | None, str]:
    if sex:
        value, source = sex.strip().upper()[:1], "option"
    else:
        value, source = str(volume.metadata.get("patient_sex", "") or "").upper()[:1], "header"
    return (value, source) if value in ("M", "F") else (None, "unknown")


def _float_or_none(value: object) -> float | None:
    try:
        return None if value is None else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _leaflet_850_gap(
    state: str, calcium_reason: str, lumen_hu: float | None, hu_850: float, rules: Rules
) -> str:
    """Why the 850 HU leaflet rule cannot run (empty when it can)."""
    if state != CONTRAST:
        return "the 850 HU leaflet calcium rule is defined on contrast CTA."
    if calcium_reason:
        return calcium_reason
    margin = rules.number("threshold.min_margin_above_lumen_hu")
    if lumen_hu is not None and hu_850 <= lumen_hu + margin:
        return (
            f"850 HU is not more than {margin:g} HU above the lumen attenuation {lumen_hu:.0f} HU: "
            "contrast blood would be counted as leaflet calcium."
        )
    return ""


def _arc_coverage_deg(theta_deg: npt.NDArray[np.floating], bin_deg: float = 1.0) -> float:
    """The share of the circle that a set of angles occupies, in degrees (1-degree bins)."""
    if len(theta_deg) == 0:
        return 0.0
    bins = np.unique(np.floor(np.asarray(theta_deg) / bin_deg).astype(int) % round(360 / bin_deg))
    return float(len(bins) * bin_deg)


def _lesions(
    vox: Voxels,
    labels: IntArray,
    count: int,
    frame: AnnulusFrame,
    geometry: RegionGeometry,
    voxel_volume: float,
    lesion_agatston: FloatArray | None,
) -> tuple[Lesion, ...]:
    """Per-lesion sizes, regions, cusps, distances and protrusion (sparse, no volume passes)."""
    if count == 0:
        return ()
    masks = geometry.masks(vox.h, vox.r, vox.theta)
    masks[OTHER] = ~(masks["leaflet"] | masks["annulus"] | masks["lvot"])
    cusp = frame.cusp_index(vox.theta)
    n = np.bincount(labels, minlength=count + 1)
    centroid = (
        np.stack(
            [np.bincount(labels, weights=vox.lps[:, a], minlength=count + 1) for a in range(3)],
            axis=1,
        )
        / np.maximum(n, 1)[:, None]
    )
    max_hu = np.full(count + 1, -np.inf)
    np.maximum.at(max_hu, labels, vox.hu)
    by_region = {
        name: np.bincount(labels, weights=mask, minlength=count + 1) * voxel_volume
        for name, mask in masks.items()
    }
    by_cusp = {
        name: np.bincount(labels, weights=cusp == c, minlength=count + 1) * voxel_volume
        for c, name in enumerate(CUSPS)
    }
    d_lvot, h_lvot, r_lvot = geometry.distance_to_lvot(vox.h, vox.r)
    d_cond, h_cond, rho_cond, th_cond = geometry.distance_to_conduction(vox.h, vox.r, vox.theta)
    best_lvot = _first_per_group(labels, d_lvot, count)
    best_cond = _first_per_group(labels, d_cond, count)
    low = vox.h <= geometry.annulus_half_height_mm
    # inward extent against the local lumen boundary R(theta) (section 6)
    inward_vox = geometry.radius_at(vox.theta) - vox.r
    max_in = np.full(count + 1, -np.inf)
    np.maximum.at(max_in, labels[low], inward_vox[low])
    h_min = np.full(count + 1, np.inf)
    h_max = np.full(count + 1, -np.inf)
    np.minimum.at(h_min, labels, vox.h)
    np.maximum.at(h_max, labels, vox.h)
    below = (masks["annulus"] | masks["lvot"]) & (vox.h < 0.0)

    lesions = []
    for lab in range(1, count + 1):
        shares = {name: float(by_region[name][lab]) for name in (*DISJOINT_REGIONS, OTHER)}
        # The largest share among the partition leaflet / annulus / lvot / other (ties: first).
        region = max(shares, key=lambda k: shares[k])
        cusp_shares = {name: float(by_cusp[name][lab]) for name in CUSPS}
        bl, bc = best_lvot[lab - 1], best_cond[lab - 1]
        lvot_point = frame.to_lps(h_lvot[bl], r_lvot[bl], vox.theta[bl])
        cond_point = frame.to_lps(h_cond[bc], rho_cond[bc], th_cond[bc])
        inward = float(max(0.0, max_in[lab])) if np.isfinite(max_in[lab]) else 0.0
        own = labels == lab
        own_low = own & low
        # extent along the wall of its part at h <= 2: arc length at its mean radius
        tangential = (
            float(np.radians(_arc_coverage_deg(vox.theta[own_low])) * np.mean(vox.r[own_low]))
            if own_low.any()
            else 0.0
        )
        nodule = own & below
        extension = float(np.ptp(vox.h[nodule])) if nodule.any() else None
        coverage = _arc_coverage_deg(vox.theta[nodule]) / 3.6 if nodule.any() else None
        lesions.append(
            Lesion(
                id=lab,
                voxel_count=int(n[lab]),
                volume_mm3=float(n[lab] * voxel_volume),
                agatston=None if lesion_agatston is None else float(lesion_agatston[lab]),
                max_hu=float(max_hu[lab]),
                centroid_lps=centroid[lab],
                region=region,
                cusp=max(cusp_shares, key=lambda k: cusp_shares[k]),
                volume_by_region_mm3={
                    name: float(by_region[name][lab]) for name in (*REGIONS, OTHER)
                },
                volume_by_cusp_mm3=cusp_shares,
                distance_to_lvot_mm=float(d_lvot[bl]),
                closest_to_lvot_lps=(vox.lps[bl].copy(), lvot_point),
                distance_to_conduction_mm=float(d_cond[bc]),
                closest_to_conduction_lps=(vox.lps[bc].copy(), cond_point),
                inward_extent_mm=inward,
                h_range_mm=(float(h_min[lab]), float(h_max[lab])),
                tangential_length_mm=tangential,
                lvot_extension_mm=extension,
                lvot_coverage_pct=coverage,
            )
        )
    return tuple(lesions)


def _parameters(
    *,
    rules: Rules,
    thr: Threshold,
    radius: float,
    annulus: AnnulusMeasurement,
    region: AnalysisRegion,
    geometry: RegionGeometry,
    min_lesion: float,
    pixel_area: float,
    increment: float,
    leaflet_850_hu: float,
    voxel_volume: float,
    valve: PlannedValve,
    sex_used: str | None,
    sex_source: str,
    volume: Volume,
    agatston_slab_mm: float | None,
) -> dict[str, object]:
    """Every setting that decided the numbers (recorded in ``Results.parameters``)."""
    return {
        "rules_source": rules.source,
        "rules": rules.to_dict(),
        "contrast_min_hu": rules.number("contrast.contrast_min_hu"),
        "non_contrast_max_hu": rules.number("contrast.non_contrast_max_hu"),
        "threshold": {"hu": thr.hu, "method": thr.method, "reference": thr.reference},
        "annulus_radius_mm": radius,
        "annulus_radius_source": (
            "d_perimeter/2 of the lumen contour"
            if annulus.method == METHOD_CONTOUR
            else "hinge circle radius"
        ),
        "analysis_region": {
            "r_le_mm": region.radius_mm,
            "h_ge_mm": region.h_min_mm,
            "h_le_mm": region.h_max_mm,
            "crop_lo_kji": list(region.lo_kji),
            "crop_hi_kji": list(region.hi_kji),
            "clipped_by_volume": region.clipped,
        },
        "regions": geometry.to_dict(),
        "lesion_connectivity": "26-connected, components < min_lesion_mm3 dropped",
        "min_lesion_mm3": min_lesion,
        "totals": "voxel by voxel over the kept lesions; 'other' = not leaflet/annulus/lvot",
        "agatston": {
            "pixel_area_mm2": pixel_area,
            "slice_increment_mm": increment,
            "connectivity": "8-connected per image slice",
            "lesion_share": "a slice component counts for the lesion holding its peak voxel",
            "slab_mm": agatston_slab_mm,
            "slabs": (
                None
                if agatston_slab_mm is None
                else "consecutive slices averaged into slabs; region masks at each slab's "
                "centre plane, pixels restricted to the region before components"
            ),
        },
        "leaflet_calcium_threshold_hu": leaflet_850_hu,
        "voxel_volume_mm3": voxel_volume,
        "landmark_tolerances_mm": {
            "hinge_min_separation": frame_module.HINGE_MIN_SEPARATION_MM,
            "hinge_min_distance_from_line": frame_module.HINGE_MIN_LINE_DISTANCE_MM,
            "hinge_max_circle_radius": frame_module.HINGE_MAX_RADIUS_MM,
        },
        "valve": valve.to_dict(),
        "sex": {"value": sex_used, "source": sex_source},
        "flags": (
            "Every rule is emitted with a status: met (level moderate or high: the strength of "
            "its evidence), not_met (assessed, the criterion does not hold; not 'low risk'), "
            "indeterminate (the evidence does not decide), not_assessed (see reason)."
        ),
        "membranous_septum": (
            "ms_length_mm is the infra-annular length max(0, -h(MS_inferior)); ms_height_mm is "
            "|MS_superior - MS_inferior| (reported only)."
        ),
        "technique": {
            "kvp": volume.metadata.get("kvp"),
            "slice_thickness_mm": volume.metadata.get("slice_thickness_mm"),
            "slice_increment_mm": increment,
            "agatston_slab_mm": agatston_slab_mm,
        },
    }


def _mark_unconfirmed(
    flags: tuple[Flag, ...], proposed: frozenset[str], zone_from_commissure: bool
) -> tuple[Flag, ...]:
    """Each flag lists the proposed (not yet confirmed) landmarks its rule rests on.

    Every rule but the MAC score stands on the annulus frame, hence on the three hinges (regions,
    distances, the valve plane of the neo-LVOT); the conduction rules also on the NCC-RCC
    commissure when it anchors the zone (no ``MS_inferior``). The membranous septum and mitral
    landmarks are never proposed.
    """
    if not proposed:
        return flags
    hinges = set(AORTIC_REQUIRED) & proposed
    marked = []
    for flag in flags:
        used = set() if flag.id == "mitral.mac_score" else set(hinges)
        if flag.id.startswith("conduction.") and zone_from_commissure:
            used |= {"NCC_RCC_commissure"} & proposed
        marked.append(
            dataclasses.replace(flag, inputs_unconfirmed=tuple(sorted(used))) if used else flag
        )
    return tuple(marked)


def analyze(
    volume: Volume,
    landmarks: Landmarks,
    rules: Rules | str | None = None,
    *,
    threshold: str | float | None = None,
    valve: PlannedValve | str | None = None,
    sex: str | None = None,
    mitral_valve: VirtualValve | None = None,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Results:
    """Run the aortic analysis of clinical-model.md sections 3-7.

    Parameters
    ----------
    volume
        CT volume (HU, LPS affine).
    landmarks
        Landmarks in LPS mm; the three hinges are required.
    rules
        Rules, a path to a user rules file merged over the defaults, or None for the defaults.
    threshold
        Calcium threshold on contrast CT: ``lumen_plus_100`` (default), ``fixed_850``,
        ``by_lumen_450_850`` or a HU value.
    valve
        Planned valve (size mm, type, implant depth mm) for the oversizing, delta-MSID and
        coronary (VTC) rules, or ``"FAMILY:SIZE"`` of a shipped family (``"sapien3:26"``).
    sex
        ``"M"``/``"F"``; overrides the header's PatientSex (needed by ``as.agatston``).
    mitral_valve
        Virtual mitral valve for the neo-LVOT (defaults from the rules file when None).
    progress, cancel
        Progress callback ``(fraction, text)`` and cancellation token.

    Returns
    -------
    Results
        ``Results.to_dict()`` is the ``annulusview.results/1`` JSON.

    Raises
    ------
    LandmarkError
        Missing, coincident or collinear hinges, a landmark outside the volume, or hinges that
        do not lie on an aortic root (hinge circle radius or the HU at its centre).
    RulesError
        An invalid rules file.
    InputError
        An invalid threshold option.
    """
    timer = _Timer()
    total_start = time.perf_counter()
    if isinstance(valve, str):
        valve = parse_valve_option(valve)
    valve = valve or PlannedValve()
    warnings: list[str] = []

    with timer.stage("rules_and_landmarks"):
        report(progress, 0.0, "Checking landmarks")
        rules = coerce_rules(rules)
        warnings.extend(check_landmarks(landmarks, volume))
        frame = AnnulusFrame.from_landmarks(landmarks)
        centre_hu = median_hu_in_sphere(
            volume, frame.origin_lps, rules.number("hinge_plausibility.centre_sphere_radius_mm")
        )
        frame_module.check_on_aortic_root(frame, centre_hu, rules)
        warnings.extend(volume.warnings)
    check(cancel)

    with timer.stage("contrast"):
        report(progress, 0.1, "Measuring lumen attenuation")
        sample = lumen_sample(volume, frame, rules)
        lumen_hu = None if sample is None else float(np.median(sample))
        lumen_sd = None if sample is None else float(np.std(sample))
        state, calcium_reason = contrast_state(lumen_hu, rules)
        contrast = state == CONTRAST
        if calcium_reason:
            warnings.append(f"Calcium not assessed: {calcium_reason}")
        header_contrast = volume.metadata.get("contrast_agent")
        if header_contrast and state == NON_CONTRAST:
            warnings.append(
                "The header names a contrast agent but the lumen reads as non-contrast "
                f"({lumen_hu:.0f} HU): check the series."
            )
    check(cancel)

    with timer.stage("annulus"):
        report(progress, 0.2, "Measuring the annulus")
        annulus, annulus_warnings = measure_annulus(volume, frame, rules, contrast)
        warnings.extend(annulus_warnings)
        d_perimeter = annulus.d_perimeter_mm
        radius = d_perimeter / 2.0 if d_perimeter is not None else frame.hinge_radius_mm
        ms_length = frame_module.infra_annular_ms_length_mm(landmarks, frame)
        ms_height = frame_module.membranous_septum_height_mm(landmarks)
        ms_warning = frame_module.ms_inferior_warning(landmarks, frame)
        if ms_warning:
            warnings.append(ms_warning)
    check(cancel)

    with timer.stage("root"):
        report(progress, 0.3, "Measuring the root and LVOT")
        root, root_warnings = measure_root(volume, frame, landmarks, rules, contrast)
        warnings.extend(root_warnings)
    check(cancel)

    with timer.stage("threshold_and_voxels"):
        report(progress, 0.4, "Finding calcium")
        thr, threshold_warnings = choose_threshold(lumen_hu, contrast, threshold, rules)
        warnings.extend(threshold_warnings)
        if contrast and not calcium_reason:
            calcium_reason = threshold_guard(thr, lumen_hu, rules)
            if calcium_reason:
                warnings.append(f"Calcium not assessed: {calcium_reason}")
        region = AnalysisRegion.around(volume, frame, radius, rules)
        if region.clipped:
            warnings.append(
                "Part of the analysis region lies outside the CT volume; calcium there is not "
                "counted."
            )
        table = contour_radius_table(annulus.contour_lps, frame) if annulus.sized else None
        geometry = RegionGeometry.from_rules(rules, radius, frame, landmarks, table)
        # One pass over the crop at the lowest threshold any count needs; the other
        # thresholds select from these sparse voxels.
        leaflet_850_hu = rules.number(_LEAFLET_850_KEY)
        agatston_hu = rules.number("agatston.threshold_hu")
        base_hu = min(thr.hu, leaflet_850_hu if contrast else agatston_hu)
        if calcium_reason:
            base_hu = np.inf  # nothing is thresholded: no calcium number exists
        candidates = voxels_above(volume, region, base_hu)
        is_calcium = candidates.hu >= thr.hu
        calcium = candidates.subset(is_calcium)
    check(cancel)

    voxel_volume = volume.voxel_volume_mm3
    min_lesion = rules.number("threshold.min_lesion_mm3")
    with timer.stage("lesions"):
        report(progress, 0.55, "Separating lesions")
        labels, keep = keep_large_components(calcium.kji, voxel_volume, min_lesion)
        lesion_vox = calcium.subset(keep)
        lesion_labels = labels[keep]
        lesion_count = int(lesion_labels.max()) if len(lesion_labels) else 0
    check(cancel)

    pixel_area = pixel_area_mm2(volume)
    increment = slice_increment_mm(volume)
    with timer.stage("agatston"):
        report(progress, 0.65, "Agatston score")
        agatston: RegionAgatston | None = None
        if contrast:
            warnings.append("Agatston score not reported: it is defined on non-contrast CT only.")
        elif not calcium_reason:
            agatston = region_agatston(
                volume, candidates, rules, region, geometry, landmarks,
                (lesion_vox, lesion_labels, lesion_count),
            )  # fmt: skip
            if agatston.scoring.slabs is not None:
                warnings.append(agatston.scoring.warning(volume))
        lesion_agatston = None if agatston is None else agatston.by_lesion
        regional_agatston = {} if agatston is None else agatston.by_region
        total_agatston = None if agatston is None else agatston.total
        agatston_slab_mm = None if agatston is None else agatston.scoring.slab_mm
    check(cancel)

    with timer.stage("regions"):
        report(progress, 0.75, "Regions and distances")
        lesions = _lesions(
            lesion_vox, lesion_labels, lesion_count, frame, geometry, voxel_volume, lesion_agatston
        )
        masks = geometry.masks(lesion_vox.h, lesion_vox.r, lesion_vox.theta)
        masks[OTHER] = ~(masks["leaflet"] | masks["annulus"] | masks["lvot"])
        cusp = frame.cusp_index(lesion_vox.theta)

        def total(name: str, mask: npt.NDArray[np.bool_]) -> CalciumTotal:
            if calcium_reason:
                return CalciumTotal(None, None)
            agatston = None if contrast else regional_agatston.get(name, 0.0)
            return CalciumTotal(float(np.count_nonzero(mask) * voxel_volume), agatston)

        by_region = {name: total(name, masks[name]) for name in (*REGIONS, OTHER)}
        by_cusp = {name: total(name, cusp == c) for c, name in enumerate(CUSPS)}
        leaflet_850: float | None = None
        leaflet_850_reason = _leaflet_850_gap(
            state, calcium_reason, lumen_hu, leaflet_850_hu, rules
        )
        if not leaflet_850_reason:
            dense = candidates.subset(candidates.hu >= leaflet_850_hu)
            _, keep_850 = keep_large_components(dense.kji, voxel_volume, min_lesion)
            dense = dense.subset(keep_850)
            in_leaflet = geometry.masks(dense.h, dense.r, dense.theta)["leaflet"]
            leaflet_850 = float(np.count_nonzero(in_leaflet) * voxel_volume)
        calcium_summary = CalciumSummary(
            volume_mm3=None if calcium_reason else float(len(lesion_vox) * voxel_volume),
            agatston=total_agatston,
            by_region=by_region,
            by_cusp=by_cusp,
            valve_agatston=regional_agatston.get("valve"),
            leaflet_volume_850_mm3=leaflet_850,
        )
        grade = None if calcium_reason else lvot_calcium_grade(lesions, rules)
    check(cancel)

    with timer.stage("flags"):
        report(progress, 0.9, "Risk rules")
        sex_used, sex_source = _normalise_sex(sex, volume)
        protrusion, adherent = wall_extents(lesions, geometry.annulus_half_height_mm)
        kvp = volume.metadata.get("kvp")
        coronary = coronary_inputs(
            landmarks,
            frame,
            root.sinus.values.get("diameter_mm") or {},
            valve.size_mm,
            {name: total.volume_mm3 for name, total in by_cusp.items()},
        )
        inputs = RiskInputs(
            contrast_state=state,
            calcium_reason=calcium_reason,
            annulus_area_mm2=annulus.area_mm2 if annulus.sized else None,
            annulus_perimeter_mm=annulus.perimeter_mm if annulus.sized else None,
            lvot_calcium_mm3=by_region["lvot"].volume_mm3,
            lvot_grade=None if grade is None else str(grade["grade"]),
            leaflet_calcium_850_mm3=leaflet_850,
            leaflet_850_reason=leaflet_850_reason,
            protrusion_mm=None if calcium_reason else protrusion,
            adherent_inward_mm=adherent,
            conduction_calcium_mm3=by_region["conduction"].volume_mm3,
            iams_mm=ms_length,
            valve_agatston=calcium_summary.valve_agatston,
            kvp=None if kvp is None else float(kvp),
            agatston_slab_mm=agatston_slab_mm,
            sex=sex_used,
            valve=valve,
            coronary=coronary,
        )
        flags = evaluate_flags(inputs, rules)
        noise = None
        if contrast and not calcium_reason:
            noise = noise_floor(
                lesions,
                lumen_hu,
                lumen_sd,
                region.volume_mm3,
                voxel_volume,
                rules.number("calcium_noise.expected_noise_voxels"),
            )
        if noise is not None and noise.faint:
            flags, grade = without_faint(
                flags, grade, inputs, lesions, noise, geometry.annulus_half_height_mm, rules
            )
            warnings.append(noise.warning(thr.hu))
        if not contrast and sex_used is None:
            warnings.append("Patient sex unknown: the Agatston AS rule is not assessed.")
        if ms_length is None:
            warnings.append(
                "No MS_inferior landmark: the infra-annular membranous septum was not measured; "
                "the conduction zone uses the default depth."
            )
        if not contrast and not calcium_reason and kvp is not None and abs(float(kvp) - 120) > 0.5:
            warnings.append(
                f"Agatston technique: the series was acquired at {float(kvp):g} kVp; the AS "
                "calcium thresholds were validated at 120 kVp (the AS rule is indeterminate)."
            )

    with timer.stage("mitral"):
        # Section 8 on the same threshold and frame; never raises for missing mitral input,
        # it says not_assessed with the reason instead.
        report(progress, 0.95, "Mitral annulus and neo-LVOT")
        mitral: MitralResults = analyze_mitral(
            volume,
            landmarks,
            None if calcium_reason else thr.hu,
            aortic_origin=frame.origin_lps,
            aortic_normal=frame.normal_lps,
            lumen_hu=lumen_hu,
            contrast=contrast,
            calcium_reason=calcium_reason,
            valve=mitral_valve,
            rules=rules,
            cancel=cancel,
        )
        flags = (*flags, *mitral.flags)
        warnings.extend(mitral.warnings)
        if noise is not None and mitral.mac is not None and mitral.mac.lesions:
            flags, mac_warning = descriptor_on_faint(
                flags, "mitral.mac_score", mitral.mac.lesions, noise
            )
            if mac_warning:
                warnings.append(mac_warning)
    check(cancel)
    flags = _mark_unconfirmed(flags, landmarks.proposed, geometry.conduction_estimated)

    parameters = _parameters(
        rules=rules,
        thr=thr,
        radius=radius,
        annulus=annulus,
        region=region,
        geometry=geometry,
        min_lesion=min_lesion,
        pixel_area=pixel_area,
        increment=increment,
        leaflet_850_hu=leaflet_850_hu,
        voxel_volume=voxel_volume,
        valve=valve,
        sex_used=sex_used,
        sex_source=sex_source,
        volume=volume,
        agatston_slab_mm=agatston_slab_mm,
    )
    with timer.stage("fluoroscopy"):
        # Section 9: C-arm views from the annular plane and the hinges (geometry only).
        fluoroscopy = plan_fluoro(frame.normal_lps, {c: landmarks[f"{c}_hinge"] for c in CUSPS})
    timer.times["total"] = time.perf_counter() - total_start
    if landmarks.proposed:
        warnings.append(
            "Proposed landmarks not yet confirmed by a person: "
            f"{', '.join(sorted(landmarks.proposed))}. Review them before using the results."
        )
    scan = scan_quality(
        volume,
        contrast_state=state,
        lumen_hu=lumen_hu,
        lumen_hu_sd=lumen_sd,
        annulus_sized=bool(annulus.sized),
        neo_lvot_read=mitral.neo_lvot is not None and mitral.neo_lvot.area_mm2 is not None,
    )
    warnings.extend(scan.checks)
    report(progress, 1.0, "Done")
    return Results(
        series_instance_uid=volume.series_instance_uid,
        contrast=contrast,
        contrast_state=state,
        calcium_not_assessed_reason=calcium_reason,
        lumen_hu_sd=lumen_sd,
        calcium_noise=None if noise is None else noise.to_dict(),
        threshold_hu=thr.hu,
        threshold_method=thr.method,
        threshold_reference=thr.reference,
        lumen_hu=lumen_hu,
        annulus=annulus,
        root=root,
        scan=scan,
        frame=frame,
        coronary_heights_mm={artery: item.height_mm for artery, item in coronary.items()},
        vtc_mm={artery: item.vtc_mm for artery, item in coronary.items()},
        fluoroscopy=fluoroscopy,
        ms_length_mm=ms_length,
        ms_height_mm=ms_height,
        calcium=calcium_summary,
        lvot_calcium_grade=grade,
        lesions=lesions,
        flags=flags,
        regions=geometry,
        parameters=parameters,
        warnings=tuple(dict.fromkeys(warnings)),
        timings_s=dict(timer.times),
        mitral=mitral,
        sizing=tuple(sizing_table(annulus)),
        landmarks_proposed=tuple(sorted(landmarks.proposed)),
        lesion_voxels_kji=lesion_vox.kji,
        lesion_voxel_ids=lesion_labels,
    )
