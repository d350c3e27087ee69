"""De-identification: the one place that decides which identity text an export may show.

Every export (screenshot, PDF report, DICOM SEG/SR, meshes, JSON/CSV) names the case by a
*case label* derived from a one-way hash of the StudyInstanceUID, e.g. ``Case AV-3F9C21A0``.
Patient name, ID, birth date and accession number appear only when the user opts in
(``show_identity=True``, the ``--show-identity`` option). UIDs are kept, so DICOM outputs still
reference their source study and series.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydicom.dataset import Dataset

LABEL_PREFIX = "AV-"

# Volume.metadata keys that identify the patient or the visit.
IDENTITY_KEYS = (
    "patient_name",
    "patient_id",
    "patient_birth_date",
    "accession_number",
    "other_patient_ids",
    "referring_physician_name",
    "institution_name",
    "operators_name",
)

# DICOM attributes replaced or emptied in de-identified outputs (Type 2: kept, made empty).
_DICOM_EMPTY = (
    "PatientBirthDate",
    "PatientBirthTime",
    "AccessionNumber",
    "ReferringPhysicianName",
    "PatientAge",
    "PatientAddress",
    "PatientTelephoneNumbers",
    "PatientMotherBirthName",
    "StudyID",
)
_DICOM_DELETE = (
    "OtherPatientIDs",
    "OtherPatientIDsSequence",
    "OtherPatientNames",
    "PatientBirthName",
    "InstitutionName",
    "InstitutionAddress",
    "InstitutionalDepartmentName",
    "OperatorsName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "RequestingPhysician",
    "IssuerOfPatientID",
)
DEID_METHOD = "AnnulusView: identity replaced by case label; UIDs kept"


def case_code(study_instance_uid: str, fallback: str = "") -> str:
    """``AV-`` plus the first 8 hex digits of SHA-256 of the StudyInstanceUID.

    Parameters
    ----------
    study_instance_uid
        The study UID (one-way hashed, so the code does not reveal it).
    fallback
        Hashed instead when there is no study UID (e.g. the series UID, or a NIfTI file's
        geometry).
    """
    key = study_instance_uid or fallback or "unknown"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:8].upper()
    return f"{LABEL_PREFIX}{digest}"


@dataclass(frozen=True)
class CaseIdentity:
    """What an export may print about whose scan this is.

    Attributes
    ----------
    code
        De-identified case code, ``AV-XXXXXXXX``.
    show_identity
        The user opted in to printing the patient's identity.
    patient_name, patient_id
        The identity, empty unless ``show_identity`` (never kept otherwise).
    """

    code: str
    show_identity: bool = False
    patient_name: str = ""
    patient_id: str = ""

    @property
    def label(self) -> str:
        """``Case AV-XXXXXXXX``: safe to print anywhere."""
        return f"Case {self.code}"

    def display_lines(self) -> list[str]:
        """Lines for a picture or report header: the label, plus name/ID when opted in."""
        lines = [self.label]
        if self.show_identity:
            who = "  ".join(
                part
                for part in (
                    self.patient_name.replace("^", " ").strip(),
                    f"ID {self.patient_id}" if self.patient_id else "",
                )
                if part
            )
            if who:
                lines.append(who)
        return lines

    @property
    def title(self) -> str:
        """Document title (PDF metadata): the label only, never the patient's identity."""
        return self.label


def case_identity(
    metadata: Mapping[str, Any] | None,
    show_identity: bool = False,
    fallback: str = "",
) -> CaseIdentity:
    """The identity an export may use, from :attr:`Volume.metadata`.

    Parameters
    ----------
    metadata
        The volume's metadata (``study_instance_uid``, ``patient_name``, ``patient_id``...).
    show_identity
        Print the patient's name and ID (user opt-in).
    fallback
        Text hashed when there is no study UID (e.g. the series UID).
    """
    meta = metadata or {}
    code = case_code(str(meta.get("study_instance_uid") or ""), fallback)
    if not show_identity:
        return CaseIdentity(code)
    return CaseIdentity(
        code,
        True,
        str(meta.get("patient_name") or ""),
        str(meta.get("patient_id") or ""),
    )


def volume_identity(volume: Any, show_identity: bool = False) -> CaseIdentity:
    """:func:`case_identity` of a :class:`~annulusview.core.volume.Volume`.

    Falls back to the series UID, then to the volume's shape and affine (NIfTI).
    """
    fallback = str(getattr(volume, "series_instance_uid", "") or "")
    if not fallback:
        affine = getattr(volume, "affine", None)
        shape = getattr(volume, "shape", None)
        fallback = f"{shape}|{None if affine is None else affine.round(3).tolist()}"
    return case_identity(getattr(volume, "metadata", None), show_identity, fallback)


def identity_values(metadata: Mapping[str, Any] | None) -> list[str]:
    """The identity strings of a case (non-empty), e.g. to check that outputs do not hold them."""
    meta = metadata or {}
    out: list[str] = []
    for key in IDENTITY_KEYS:
        value = meta.get(key)
        if isinstance(value, str | bytes) and str(value).strip():
            out.append(str(value).strip())
        elif isinstance(value, Iterable) and not isinstance(value, str | bytes):
            out.extend(str(v).strip() for v in value if str(v).strip())
    return out


def deidentify_dataset(ds: Dataset, identity: CaseIdentity) -> Dataset:
    """Replace the patient and visit identity of a DICOM dataset in place (unless opted in).

    PatientName and PatientID become the case code; birth date, accession number and the
    like become empty (Type 2) or are removed. Study, series, frame-of-reference and SOP
    instance UIDs are kept so that references to the source stay valid. PatientSex is kept (the
    risk rules use it). Returns ``ds``.
    """
    if identity.show_identity:
        return ds
    ds.PatientName = identity.code
    ds.PatientID = identity.code
    for keyword in _DICOM_EMPTY:
        if keyword in ds:
            setattr(ds, keyword, "")
    for keyword in _DICOM_DELETE:
        if keyword in ds:
            delattr(ds, keyword)
    ds.PatientIdentityRemoved = "YES"
    ds.DeidentificationMethod = DEID_METHOD
    return ds
