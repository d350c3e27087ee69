"""DICOM outputs with highdicom: a Segmentation of the calcium lesions (and, on a contrast
study, of the aortic root lumen) and a TID 1500 Measurement Report (Comprehensive 3D SR) of the
annulus, calcium and risk flags.

Both reference the source CT series (headers read from ``Volume.source_paths``; highdicom
copies their Patient and Study modules and lists the source's acquisition equipment in
ContributingEquipmentSequence). Once built, each object is de-identified at every depth by
:func:`annulusview.core.outputs.deid.deidentify_dataset` (PS3.15 basic profile, Retain UIDs):
patient name and ID become the case code, or stay the patient's own with ``--show-identity``;
every other identifying attribute, date and free text of the source is removed or emptied
either way; study, series, frame-of-reference and SOP instance UIDs are kept so the
references to the source stay valid.
"""

from __future__ import annotations

import errno
import logging
from collections.abc import Sequence
from pathlib import Path

import highdicom as hd
import numpy as np
import numpy.typing as npt
import pydicom
from highdicom.sr.coding import CodedConcept
from pydicom.dataset import Dataset
from pydicom.sr.codedict import codes

from annulusview import __version__
from annulusview.core.aortic.root_mask import (
    BoolArray,
    LumenCylinder,
    root_lumen_mask,
)
from annulusview.core.atomic import atomic_write_with
from annulusview.core.errors import OutputError
from annulusview.core.outputs.deid import CaseIdentity, deidentify_dataset
from annulusview.core.results import Lesion, Results
from annulusview.core.volume import Volume

log = logging.getLogger(__name__)

MANUFACTURER = "AnnulusView project"
MODEL = "AnnulusView"
SEG_SERIES_NUMBER = 9001
SR_SERIES_NUMBER = 9002
SEG_SERIES_DESCRIPTION = "AnnulusView calcium segmentation"
SR_SERIES_DESCRIPTION = "AnnulusView measurement report"
PRIVATE_SCHEME = "99AVW"  # private coding scheme for concepts without a standard code

# Segment coding (3D Slicer / DCMQI conventions)
CATEGORY = CodedConcept("49755003", "SCT", "Morphologically abnormal structure")
CALCIFICATION = CodedConcept("18115005", "SCT", "Pathologic calcification")
AORTIC_VALVE = CodedConcept("34202007", "SCT", "Aortic valve")
REGION_SITES = {
    "leaflet": CodedConcept("6530003", "SCT", "Cardiac valve leaflet"),
    "annulus": CodedConcept("77583004", "SCT", "Aortic valve ring"),
    "lvot": CodedConcept("13418002", "SCT", "Left ventricle outflow tract"),
    "other": AORTIC_VALVE,
}
# The root lumen segment: CID 7150 "Anatomical Structure" / CID 7151 "Lumen of blood vessel"
# (pydicom's codes.cid7150.AnatomicalStructure, codes.SCT.LumenOfBloodVessel), located by the
# anatomic region "Aortic root" (codes.SCT.AorticRoot, SCT 8128003).
ROOT_LUMEN_LABEL = "Aortic root lumen"
ROOT_LUMEN_CATEGORY = CodedConcept.from_code(codes.cid7150.AnatomicalStructure)
ROOT_LUMEN_TYPE = CodedConcept.from_code(codes.SCT.LumenOfBloodVessel)
AORTIC_ROOT = CodedConcept.from_code(codes.SCT.AorticRoot)
REGION_TEXT = {"leaflet": "Leaflet", "annulus": "Annulus", "lvot": "LVOT", "other": "Other"}
# The outcome of each rule (status, and the level when met); private codes where SNOMED has none.
OUTCOME_CODES = {
    ("met", "high"): CodedConcept("MET_HIGH", PRIVATE_SCHEME, "Criterion met, high"),
    ("met", "moderate"): CodedConcept("MET_MODERATE", PRIVATE_SCHEME, "Criterion met, moderate"),
    ("met", None): CodedConcept("MET", PRIVATE_SCHEME, "Criterion met"),
    ("not_met", None): CodedConcept("NOT_MET", PRIVATE_SCHEME, "Criterion not met"),
    ("indeterminate", None): CodedConcept("INDETERMINATE", PRIVATE_SCHEME, "Indeterminate"),
    ("not_assessed", None): CodedConcept("NOTASSESSED", PRIVATE_SCHEME, "Not assessed"),
}
UCUM = {
    "mm": CodedConcept("mm", "UCUM", "millimeter"),
    "mm2": CodedConcept("mm2", "UCUM", "square millimeter"),
    "mm3": CodedConcept("mm3", "UCUM", "cubic millimeter"),
    "score": CodedConcept("1", "UCUM", "no units"),
}


def _algorithm() -> hd.AlgorithmIdentificationSequence:
    """Threshold, 26-connected components and region rules, run on user-placed landmarks."""
    return hd.AlgorithmIdentificationSequence(
        name="AnnulusView calcium",
        family=codes.cid7162.HistogramAnalysis,
        version=__version__,
    )


def _root_algorithm() -> hd.AlgorithmIdentificationSequence:
    """FWHM threshold in the analysis cylinder, the component at the LVOT sphere, holes filled
    (:func:`annulusview.core.aortic.root_mask.root_lumen_mask`)."""
    return hd.AlgorithmIdentificationSequence(
        name="AnnulusView root lumen",
        family=codes.cid7162.HistogramAnalysis,
        version=__version__,
        parameters={"rule": "FWHM edge <= HU < calcium threshold, seeded at O - 5 mm n"},
    )


def read_source_datasets(volume: Volume) -> list[Dataset]:
    """The source CT headers in slice order (pixels skipped), checked against the volume.

    Raises
    ------
    OutputError
        The volume was not read from a DICOM series, or it was resampled (tilt, gaps), so its
        slices no longer match the source images one to one.
    """
    paths = list(volume.source_paths)
    if not paths:
        raise OutputError(
            "DICOM outputs need a DICOM source series.", "Load the study from DICOM files."
        )
    if volume.metadata.get("resampled") or len(paths) != volume.shape[0]:
        raise OutputError(
            "The volume was resampled from its source images (tilt or uneven gaps), so a DICOM "
            "Segmentation cannot reference them slice by slice.",
            "Use the STL/PLY meshes or the results JSON instead.",
        )
    datasets: list[Dataset] = [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]
    return datasets


def _segments(
    labels: npt.NDArray[np.int32], lesions: Sequence[Lesion], per_region: bool
) -> tuple[npt.NDArray[np.uint8], list[hd.seg.SegmentDescription]]:
    """Binary masks (frames, rows, cols, segments) and their descriptions."""
    if per_region:
        groups: dict[str, list[int]] = {}
        for les in lesions:
            groups.setdefault(les.region, []).append(les.id)
        names = [n for n in ("leaflet", "annulus", "lvot", "other") if n in groups]
        masks = [np.isin(labels, groups[n]) for n in names]
        titles = [f"Calcium ({REGION_TEXT[n]})" for n in names]
        sites = [REGION_SITES[n] for n in names]
    else:
        masks = [labels > 0]
        titles = ["Calcium"]
        sites = [AORTIC_VALVE]
    descriptions = [
        hd.seg.SegmentDescription(
            segment_number=i + 1,
            segment_label=title,
            segmented_property_category=CATEGORY,
            segmented_property_type=CALCIFICATION,
            algorithm_type=hd.seg.SegmentAlgorithmTypeValues.SEMIAUTOMATIC,
            algorithm_identification=_algorithm(),
            tracking_uid=hd.UID(),
            tracking_id=title,
            anatomic_regions=[site],
        )
        for i, (title, site) in enumerate(zip(titles, sites, strict=True))
    ]
    stack = np.stack(masks, axis=-1).astype(np.uint8)
    return stack, descriptions


def root_lumen_cylinder(results: Results) -> LumenCylinder:
    """The analysis cylinder (``analysis_region`` of the results), from its bottom up to
    +45 mm: the part of the frame the 3D view's lumen surface covers."""
    return LumenCylinder.from_region(
        results.parameters.get("analysis_region") or {}, results.regions.annulus_radius_mm
    )


def root_lumen_from_results(volume: Volume, results: Results) -> tuple[BoolArray | None, str]:
    """The root lumen mask of an analysed study, or None and why (see
    :func:`~annulusview.core.aortic.root_mask.root_lumen_mask`).

    Contrast studies only. The edge is the annulus measurement's FWHM level when it sampled
    one, else half the LVOT sphere's lumen attenuation (FWHM against water); calcium starts at
    the analysis threshold.
    """
    if results.contrast_state != "contrast":
        return None, (
            f"the study is not contrast-enhanced ({results.contrast_state}): there is no "
            "contrast lumen to segment"
        )
    if results.annulus.edge_hu is not None:
        edge_hu = float(results.annulus.edge_hu)
    elif results.lumen_hu is not None:
        edge_hu = 0.5 * float(results.lumen_hu)
    else:
        return None, "the lumen attenuation was not sampled: there is no FWHM edge"
    return root_lumen_mask(
        volume, results.frame, edge_hu, results.threshold_hu, root_lumen_cylinder(results)
    )


def _root_segment(
    volume: Volume, results: Results, segment_number: int
) -> tuple[npt.NDArray[np.uint8] | None, hd.seg.SegmentDescription | None, str]:
    """The root lumen mask ``(frames, rows, cols)``, its description and the rule; or None,
    None and why it is left out."""
    mask, reason = root_lumen_from_results(volume, results)
    if mask is None:
        return None, None, reason
    description = hd.seg.SegmentDescription(
        segment_number=segment_number,
        segment_label=ROOT_LUMEN_LABEL,
        segmented_property_category=ROOT_LUMEN_CATEGORY,
        segmented_property_type=ROOT_LUMEN_TYPE,
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.AUTOMATIC,
        algorithm_identification=_root_algorithm(),
        tracking_uid=hd.UID(),
        tracking_id=ROOT_LUMEN_LABEL,
        anatomic_regions=[AORTIC_ROOT],
    )
    return mask.astype(np.uint8), description, reason


def build_segmentation(
    volume: Volume,
    results: Results,
    identity: CaseIdentity,
    per_region: bool = False,
    source: Sequence[Dataset] | None = None,
    include_root_lumen: bool = True,
    left_out: list[str] | None = None,
) -> hd.seg.Segmentation:
    """A binary DICOM Segmentation of the calcium lesions (segments 1..) and the aortic root
    lumen (last segment) referencing the source CT.

    Parameters
    ----------
    volume
        The analysed volume (its slices must be the source images, in order).
    results
        The analysis results.
    identity
        De-identification decision (see :func:`~annulusview.core.outputs.deid.deidentify_dataset`:
        the case code replaces name and ID unless opted in; the rest is cleaned either way).
    per_region
        One segment per lesion region (``Calcium (LVOT)``...) instead of one ``Calcium``.
    source
        The source headers (read from ``volume.source_paths`` when None).
    include_root_lumen
        Add the ``Aortic root lumen`` segment when the study has a contrast lumen (see
        :func:`root_lumen_from_results`). Without one the segment is
        left out: the reason is logged as a warning and appended to ``left_out``.
    left_out
        When given, receives one line per segment asked for but left out, with the reason.
    """
    datasets = list(source) if source is not None else read_source_datasets(volume)
    labels = results.lesion_label_volume(volume.shape)
    masks, descriptions = _segments(labels, results.lesions, per_region)
    if not masks.any():
        raise OutputError("There is no calcium to segment.", "Nothing was written.")
    content = "Calcium lesions (AnnulusView)"
    if include_root_lumen:
        root, root_description, reason = _root_segment(volume, results, len(descriptions) + 1)
        if root is None or root_description is None:
            note = f"{ROOT_LUMEN_LABEL} left out of the DICOM Segmentation: {reason}."
            log.warning(note)
            if left_out is not None:
                left_out.append(note)
        else:
            masks = np.concatenate([masks, root[..., None]], axis=-1)
            descriptions.append(root_description)
            content = "Calcium lesions and aortic root lumen (AnnulusView)"
    seg = hd.seg.Segmentation(
        source_images=datasets,
        pixel_array=masks,
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY,
        segment_descriptions=descriptions,
        series_instance_uid=hd.UID(),
        series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        manufacturer_model_name=MODEL,
        software_versions=__version__,
        device_serial_number="none",
        content_description=content,
        content_label="CALCIUM",
        series_description=SEG_SERIES_DESCRIPTION,
    )
    deidentify_dataset(seg, identity, safe_descriptors={SEG_SERIES_DESCRIPTION})
    return seg


def _code(value: str, meaning: str) -> CodedConcept:
    return CodedConcept(value, PRIVATE_SCHEME, meaning[:64])


def _measurement(
    name: CodedConcept,
    value: float | None,
    unit: str,
    derivation: CodedConcept | None = None,
    method: CodedConcept | None = None,
) -> hd.sr.Measurement | None:
    if value is None or not np.isfinite(value):
        return None
    return hd.sr.Measurement(
        name=name, value=float(value), unit=UCUM[unit], derivation=derivation, method=method
    )


def _group(
    label: str,
    site: CodedConcept,
    measurements: Sequence[hd.sr.Measurement | None],
    evaluations: Sequence[hd.sr.QualitativeEvaluation] = (),
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(uid=hd.UID(), identifier=label),
        finding_sites=[hd.sr.FindingSite(site)],
        measurements=[m for m in measurements if m is not None] or None,
        qualitative_evaluations=list(evaluations) or None,
    )


def build_measurement_report(
    volume: Volume,
    results: Results,
    identity: CaseIdentity,
    source: Sequence[Dataset] | None = None,
) -> hd.sr.Comprehensive3DSR:
    """A TID 1500 Measurement Report of the annulus, calcium by region and the risk flags.

    Annulus: perimeter, area, minimum/maximum diameter, area- and perimeter-derived diameters.
    Calcium: total and per-region volume (mm^3), Agatston when reported. Risk flags: one
    qualitative evaluation each (name = rule, value = High/Moderate/Low/Not assessed).
    """
    datasets = list(source) if source is not None else read_source_datasets(volume)
    a = results.annulus
    method_area = _code("AREADERIVED", "Area-derived diameter 2*sqrt(area/pi)")
    method_perim = _code("PERIMDERIVED", "Perimeter-derived diameter perimeter/pi")
    annulus = _group(
        "Aortic annulus",
        REGION_SITES["annulus"],
        [
            _measurement(codes.SCT.Perimeter, a.perimeter_mm, "mm"),
            _measurement(codes.SCT.Area, a.area_mm2, "mm2"),
            _measurement(codes.SCT.Diameter, a.d_min_mm, "mm", codes.SCT.Minimum),
            _measurement(codes.SCT.Diameter, a.d_max_mm, "mm", codes.SCT.Maximum),
            _measurement(codes.SCT.Diameter, a.d_area_mm, "mm", None, method_area),
            _measurement(codes.SCT.Diameter, a.d_perimeter_mm, "mm", None, method_perim),
        ],
    )
    ca = results.calcium
    groups = [annulus]
    calcium_total = [_measurement(codes.SCT.Volume, ca.volume_mm3, "mm3")]
    if ca.agatston is not None:
        calcium_total.append(_measurement(codes.DCM.CalciumScore, ca.agatston, "score"))
    groups.append(_group("Calcium (all)", AORTIC_VALVE, calcium_total))
    for name, total in ca.by_region.items():
        site = REGION_SITES.get(
            name, CodedConcept("CONDUCTIONZONE", PRIVATE_SCHEME, "Conduction zone")
        )
        items = [_measurement(codes.SCT.Volume, total.volume_mm3, "mm3")]
        if total.agatston is not None:
            items.append(_measurement(codes.DCM.CalciumScore, total.agatston, "score"))
        groups.append(_group(f"Calcium ({REGION_TEXT.get(name, name)})", site, items))
    evaluations = [
        hd.sr.QualitativeEvaluation(
            name=_code(f.id, f"Risk flag {f.id}"),
            value=OUTCOME_CODES.get((f.status, f.level), OUTCOME_CODES[("not_assessed", None)]),
        )
        for f in results.flags
    ]
    groups.append(_group("Risk flags", AORTIC_VALVE, [], evaluations))
    observer = hd.sr.ObservationContext(
        observer_device_context=hd.sr.ObserverContext(
            observer_type=codes.DCM.Device,
            observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
                uid=hd.UID(), name=MODEL, manufacturer_name=MANUFACTURER, model_name=__version__
            ),
        )
    )
    report = hd.sr.MeasurementReport(
        observation_context=observer,
        procedure_reported=CodedConcept("241547009", "SCT", "CT of heart"),
        imaging_measurements=groups,
    )
    sr = hd.sr.Comprehensive3DSR(
        evidence=datasets,
        content=report,
        series_instance_uid=hd.UID(),
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=hd.UID(),
        instance_number=1,
        manufacturer=MANUFACTURER,
        series_description=SR_SERIES_DESCRIPTION,
    )
    deidentify_dataset(sr, identity, safe_descriptors={SR_SERIES_DESCRIPTION})
    return sr


def _write_dataset(tmp: Path, ds: Dataset) -> None:
    """Save ``ds`` to the temporary file (the step a full disk would break)."""
    ds.save_as(tmp, enforce_file_format=True)


def _save(path: str | Path, ds: Dataset) -> Path:
    p = Path(path).expanduser()
    try:
        atomic_write_with(p, lambda tmp: _write_dataset(tmp, ds))
    except OSError as exc:  # pragma: no cover - atomic_write_with already maps OSError
        full = exc.errno == errno.ENOSPC
        raise OutputError(f"Could not write {p}.", "Free space." if full else "") from exc
    return p


def write_segmentation(
    path: str | Path,
    volume: Volume,
    results: Results,
    identity: CaseIdentity,
    per_region: bool = False,
    include_root_lumen: bool = True,
    left_out: list[str] | None = None,
) -> Path:
    """Build the calcium (and root lumen) SEG and write it atomically. Returns the path.

    ``include_root_lumen`` and ``left_out`` as in :func:`build_segmentation`.
    """
    seg = build_segmentation(
        volume,
        results,
        identity,
        per_region,
        include_root_lumen=include_root_lumen,
        left_out=left_out,
    )
    return _save(path, seg)


def write_measurement_report(
    path: str | Path, volume: Volume, results: Results, identity: CaseIdentity
) -> Path:
    """Build the TID 1500 SR and write it atomically. Returns the path."""
    return _save(path, build_measurement_report(volume, results, identity))
