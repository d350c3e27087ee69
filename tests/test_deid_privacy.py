"""De-identification of the DICOM SEG and SR (issue 13, privacy): PS3.15 basic profile at every
depth, the method recorded, and ``--show-identity`` keeping exactly the patient's name and ID.

A small phantom study is written as DICOM and its headers rewritten to carry a distinctive
identity, also inside nested sequence items and a private block; the SEG and SR are written
through the real command line and read back with pydicom and highdicom.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from annulusview.cli import main
from annulusview.core.outputs.deid import (
    DUMMY_DATE,
    DUMMY_TIME,
    case_identity,
    deidentify_dataset,
)

NAME = "QUOKKA^ZELDA^MARGUERITE"
PATIENT_ID = "QK-48151623"
# Every other identifying value the source carries; none may reach an output.
OTHERS = {
    "PatientBirthDate": "19310417",
    "AccessionNumber": "QKACC77819",
    "InstitutionName": "Quokka Heart Institute",
    "InstitutionAddress": "42 Wallaby Lane, Rottnest",
    "InstitutionalDepartmentName": "Bilby Cardiology",
    "ReferringPhysicianName": "NUMBAT^OTTO",
    "PhysiciansOfRecord": "POSSUM^PAULA",
    "NameOfPhysiciansReadingStudy": "DINGO^DORA",
    "StudyDescription": "Zelda pre-TAVI, bed 7 Bilby ward",
    "OperatorsName": "BANDICOOT^IRMA",
    "StationName": "QKCT-ROOM-9",
    "DeviceSerialNumber": "QKSN-99812",
    "PatientAge": "093Y",
    "PatientComments": "Prefers morning scans, daughter Wilma",
    "StudyDate": "19870623",
    "AcquisitionDate": "19870624",
}
TIMES = {"StudyTime": "231759", "AcquisitionTime": "001122"}
NESTED = {
    "other_id": "QK-OTHER-5550",
    "referrer_institution": "Wombat Nested Clinic",
    "referrer_address": "7 Nested Burrow Road",
    "institution_code_meaning": "Quokka institute code QKI01",
    "issuer": "QUOKKA-RIS-NAMESPACE",
    "equipment_institution": "Platypus Equipment Hospital",
    "equipment_address": "9 Platypus Creek Road",
    "equipment_operator": "KOALA^KIM",
    "private": "Zelda private note",
}
FORBIDDEN_TEXT = [*OTHERS.values(), *NESTED.values()]
# Keywords that must not appear at any depth of a de-identified output.
FORBIDDEN_KEYWORDS = {
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "StationName",
    "OperatorsName",
    "PhysiciansOfRecord",
    "NameOfPhysiciansReadingStudy",
    "ReferringPhysicianIdentificationSequence",
    "IssuerOfAccessionNumberSequence",
    "OtherPatientIDsSequence",
    "StudyDescription",
    "PatientAge",
    "PatientWeight",
    "PatientComments",
    "AcquisitionDate",
    "AcquisitionDateTime",
    "ContributionDateTime",
    "InstanceCreationDate",
    "InstanceCreationTime",
    "TimezoneOffsetFromUTC",
}
TYPE2_EMPTY = (
    "PatientBirthDate",
    "PatientSex",
    "AccessionNumber",
    "ReferringPhysicianName",
    "StudyDate",
    "StudyTime",
    "StudyID",
)


def _code_item(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, scheme, meaning
    return item


def _give_identity(ds: Dataset) -> None:
    """The distinctive identity, at the top level, two levels deep and in a private block."""
    ds.PatientName, ds.PatientID = NAME, PATIENT_ID
    for keyword, value in {**OTHERS, **TIMES}.items():
        setattr(ds, keyword, value)
    ds.PatientWeight = "71.5"
    other = Dataset()
    other.PatientID, other.TypeOfPatientID = NESTED["other_id"], "TEXT"
    ds.OtherPatientIDsSequence = Sequence([other])
    referrer = Dataset()
    referrer.InstitutionName = NESTED["referrer_institution"]
    referrer.InstitutionAddress = NESTED["referrer_address"]
    referrer.InstitutionCodeSequence = Sequence(
        [_code_item("QKI01", "99QK", NESTED["institution_code_meaning"])]
    )
    ds.ReferringPhysicianIdentificationSequence = Sequence([referrer])
    issuer = Dataset()
    issuer.LocalNamespaceEntityID = NESTED["issuer"]
    ds.IssuerOfAccessionNumberSequence = Sequence([issuer])
    equipment = Dataset()
    equipment.Manufacturer = "Acme CT"
    equipment.InstitutionName = NESTED["equipment_institution"]
    equipment.InstitutionAddress = NESTED["equipment_address"]
    equipment.OperatorsName = NESTED["equipment_operator"]
    ds.ContributingEquipmentSequence = Sequence([equipment])
    ds.private_block(0x0011, "QUOKKA PRIVATE", create=True).add_new(0x01, "LO", NESTED["private"])


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from annulusview.phantom.dicom import write_case

    case = write_case(
        tmp_path_factory.mktemp("privacy") / "case", "tavr-contrast", seed=0, size="small"
    )
    for path in sorted((case / "dicom").iterdir()):
        ds = pydicom.dcmread(path)
        _give_identity(ds)
        ds.save_as(path)
    return case


def _export(case_dir: Path, out: Path, *extra: str) -> tuple[Path, Path]:
    """SEG and SR through the command line, with pydicom refusing any invalid value written."""
    seg, sr = out / "seg.dcm", out / "sr.dcm"
    before = config.settings.writing_validation_mode
    config.settings.writing_validation_mode = config.RAISE
    try:
        code = main(
            [
                "export",
                str(case_dir / "dicom"),
                "--landmarks",
                str(case_dir / "landmarks.mrk.json"),
                "--seg",
                str(seg),
                "--sr",
                str(sr),
                *extra,
            ]
        )
    finally:
        config.settings.writing_validation_mode = before
    assert code == 0
    return seg, sr


@pytest.fixture(scope="module")
def default_outputs(case_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _export(case_dir, tmp_path_factory.mktemp("default"))


@pytest.fixture(scope="module")
def identity_outputs(case_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _export(case_dir, tmp_path_factory.mktemp("shown"), "--show-identity")


@pytest.fixture(scope="module")
def source(case_dir: Path) -> list[Dataset]:
    paths = sorted((case_dir / "dicom").iterdir())
    return [pydicom.dcmread(p, stop_before_pixels=True) for p in paths]


def _elements(ds: Dataset) -> Iterator[tuple[int, DataElement]]:
    """Every element of ``ds`` at every depth (file meta included), with its depth."""
    if getattr(ds, "file_meta", None) is not None:
        for elem in ds.file_meta:
            yield 0, elem

    def walk(d: Dataset, depth: int) -> Iterator[tuple[int, DataElement]]:
        for elem in d:
            yield depth, elem
            if elem.VR == "SQ":
                for item in elem.value:
                    yield from walk(item, depth + 1)

    yield from walk(ds, 0)


def _text(elem: DataElement) -> str:
    if elem.VR in ("OB", "OW", "OF", "OD", "OL", "OV", "UN") or elem.VR == "SQ":
        return ""
    value = elem.value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        return "\\".join(str(v) for v in value)
    return str(value)


def _read_strict(path: Path) -> Dataset:
    """Read ``path`` with pydicom raising on any value that breaks its VR."""
    before = config.settings.reading_validation_mode
    config.settings.reading_validation_mode = config.RAISE
    try:
        ds = pydicom.dcmread(path)
        for _, elem in _elements(ds):
            _ = elem.value
    finally:
        config.settings.reading_validation_mode = before
    return ds


def _assert_clean(path: Path, allowed_top: dict[str, str]) -> Dataset:
    """No identifying text or keyword at any depth, nor in the file's bytes; ``allowed_top``
    (keyword -> value) may appear, at the top level only."""
    data = path.read_bytes()
    for text in FORBIDDEN_TEXT:
        assert text.encode("latin-1") not in data, f"{text!r} in the bytes of {path.name}"
    ds = _read_strict(path)
    shown = list(allowed_top.values())
    for depth, elem in _elements(ds):
        where = f"{path.name}: {elem.tag} {elem.keyword} at depth {depth}"
        assert not elem.tag.is_private, where
        assert elem.keyword not in FORBIDDEN_KEYWORDS, where
        text = _text(elem).lower()
        for forbidden in FORBIDDEN_TEXT:
            assert forbidden.lower() not in text, f"{forbidden!r} in {where}"
        if depth == 0 and elem.keyword in allowed_top:
            assert str(elem.value) == allowed_top[elem.keyword], where
        else:
            for value in (NAME, PATIENT_ID, "ZELDA", *shown):
                assert value.lower() not in text, f"{value!r} in {where}"
    return ds


# --- default: the basic profile at every depth -------------------------------------------------


def test_default_seg_sr_hold_no_identity_at_any_depth(default_outputs) -> None:
    for path in default_outputs:
        data = path.read_bytes()
        assert NAME.encode() not in data and PATIENT_ID.encode() not in data
        ds = _assert_clean(path, {})
        assert ds.PatientName == ds.PatientID
        assert str(ds.PatientID).startswith("AV-") and len(str(ds.PatientID)) == 11
        for keyword in TYPE2_EMPTY:  # Type 2: kept, empty
            assert keyword in ds and ds[keyword].value in ("", None), keyword


def test_default_dates_are_removed_or_dummy(default_outputs) -> None:
    dummies = {"DA": {DUMMY_DATE}, "TM": {DUMMY_TIME}, "DT": {DUMMY_DATE + DUMMY_TIME}}
    for path in default_outputs:
        ds = pydicom.dcmread(path)
        for depth, elem in _elements(ds):
            if elem.VR in dummies:
                value = str(elem.value or "")
                assert value == "" or value in dummies[elem.VR], (path.name, elem.keyword, depth)
        assert (ds.ContentDate, ds.ContentTime) == (DUMMY_DATE, DUMMY_TIME)  # Type 1
        assert ds.LongitudinalTemporalInformationModified == "REMOVED"
        assert "SeriesDate" not in ds and "InstanceCreationDate" not in ds


def test_default_records_the_profile_and_keeps_valid_references(default_outputs, source) -> None:
    import highdicom as hd

    seg_path, sr_path = default_outputs
    expected = {
        "113100": "Basic Application Confidentiality Profile",
        "113105": "Clean Descriptors Option",
        "113110": "Retain UIDs Option",
    }
    first = source[0]
    for path, extra in ((seg_path, {}), (sr_path, {"113104": "Clean Structured Content Option"})):
        ds = pydicom.dcmread(path)
        assert ds.PatientIdentityRemoved == "YES"
        method = list(ds.DeidentificationMethod)
        assert method[0].startswith("AnnulusView ")
        assert "PS3.15 Basic Application Level Confidentiality Profile" in method
        got = {i.CodeValue: i.CodeMeaning for i in ds.DeidentificationMethodCodeSequence}
        assert got == {**expected, **extra}
        assert {i.CodingSchemeDesignator for i in ds.DeidentificationMethodCodeSequence} == {"DCM"}
        # Retain UIDs: a new series in the source study, referencing the source series
        assert ds.StudyInstanceUID == first.StudyInstanceUID
        assert ds.SeriesInstanceUID != first.SeriesInstanceUID
        assert ds.SeriesDescription.startswith("AnnulusView ")  # cleaned descriptor, our own

    seg = hd.seg.segread(seg_path)
    assert seg.FrameOfReferenceUID == first.FrameOfReferenceUID
    (series,) = seg.ReferencedSeriesSequence
    assert series.SeriesInstanceUID == first.SeriesInstanceUID
    source_uids = [d.SOPInstanceUID for d in source]
    assert {i.ReferencedSOPInstanceUID for i in series.ReferencedInstanceSequence} == set(
        source_uids
    )
    frames = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=source_uids, segment_numbers=[1], ignore_spatial_locations=True
    )
    assert frames.shape[0] == len(source_uids) and np.any(frames)

    sr = hd.sr.srread(sr_path)
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    assert evidence.StudyInstanceUID == first.StudyInstanceUID
    assert evidence.ReferencedSeriesSequence[0].SeriesInstanceUID == first.SeriesInstanceUID
    assert sr.ContentSequence  # the measurements survive the Clean Structured Content option


# --- --show-identity: exactly the patient's name and ID -----------------------------------------


def test_show_identity_keeps_exactly_name_and_id(identity_outputs) -> None:
    import highdicom as hd

    for path in identity_outputs:
        ds = _assert_clean(path, {"PatientName": NAME, "PatientID": PATIENT_ID})
        assert (str(ds.PatientName), ds.PatientID) == (NAME, PATIENT_ID)
        for keyword in TYPE2_EMPTY:
            assert keyword in ds and ds[keyword].value in ("", None), keyword
        # the object names the patient: not de-identified, and no conformance claimed
        assert ds.PatientIdentityRemoved == "NO"
        assert "DeidentificationMethodCodeSequence" not in ds
        assert any("Name and ID" in line for line in ds.DeidentificationMethod)
    assert hd.seg.segread(identity_outputs[0]).SegmentSequence[0].SegmentLabel == "Calcium"
    assert hd.sr.srread(identity_outputs[1]).ContentSequence


# --- the function itself -----------------------------------------------------------------------


def test_deidentify_dataset_cleans_every_depth() -> None:
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.StudyInstanceUID = NAME, PATIENT_ID, "1.2.3.4"
    leaf = Dataset()
    leaf.InstitutionName = "Deep Quokka Hospital"
    leaf.PersonName = "DEEP^PERSON"
    leaf.Date = "19870623"
    leaf.UID = "1.2.3.4.5"
    middle = Dataset()
    middle.InstitutionAddress = "1 Middle Road"
    middle.ContentSequence = Sequence([leaf])
    middle.private_block(0x0013, "QUOKKA", create=True).add_new(0x01, "LO", "private deep")
    top = Dataset()
    top.Manufacturer = "Acme"
    top.ContributionDescription = "Scanned at Quokka Heart Institute"
    top.ContentSequence = Sequence([middle])
    ds.ContributingEquipmentSequence = Sequence([top])

    ident = case_identity({"study_instance_uid": "1.2.3.4"})
    deidentify_dataset(ds, ident)
    item = ds.ContributingEquipmentSequence[0]
    assert item.Manufacturer == "Acme" and "ContributionDescription" not in item
    inner = item.ContentSequence[0]
    assert "InstitutionAddress" not in inner and not any(e.tag.is_private for e in inner)
    deepest = inner.ContentSequence[0]
    assert "InstitutionName" not in deepest
    assert (str(deepest.PersonName), deepest.Date) == ("ANONYMIZED", DUMMY_DATE)
    assert deepest.UID == "1.2.3.4.5" and ds.StudyInstanceUID == "1.2.3.4"
    assert ds.PatientName == ident.code and ds.PatientIdentityRemoved == "YES"
