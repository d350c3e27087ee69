"""Write a phantom case to disk: a DICOM CT series, ``landmarks.mrk.json`` and ``truth.json``.

With ``phases=N`` (N > 1) the study holds N cardiac phases at ``100 * i / N`` % R-R, written as
real scanners do: one series per phase (own SeriesInstanceUID, shared StudyInstanceUID and
FrameOfReferenceUID, SeriesDescription ``"Cardiac 40%"``, NominalPercentageOfCardiacPhase 40),
all in one folder. The anatomy and voxels are the same in every phase (one patient frame, so the
landmarks hold for all of them). The single-phase output (the default) is unchanged.

The case folder is built in a temporary sibling folder and renamed into place, so a crash
never leaves half a case behind.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import numpy.typing as npt
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    CTImageStorage,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    generate_uid,
)

from annulusview.core.atomic import clean_stale_parts, temporary_prefix, write_error
from annulusview.core.errors import OutputError
from annulusview.core.landmarks import write_landmarks
from annulusview.core.progress import ProgressCallback, report
from annulusview.phantom.case import PhantomCase, make_case

log = logging.getLogger(__name__)

TRANSFER_SYNTAXES = {"explicit": ExplicitVRLittleEndian, "jpeg2000": JPEG2000Lossless}
DICOM_DIRNAME = "dicom"
LANDMARKS_NAME = "landmarks.mrk.json"
TRUTH_NAME = "truth.json"
RESCALE_INTERCEPT = -1024

# A demo identity, clearly fake, so that de-identification can be tested.
IDENTITY = {
    "PatientName": "PHANTOM^DEMO",
    "PatientID": "AV-PHANTOM-001",
    "PatientBirthDate": "19500101",
    "PatientSex": "M",
    "PatientAge": "074Y",
    "AccessionNumber": "ACC0001",
    "InstitutionName": "AnnulusView Phantom Hospital",
    "ReferringPhysicianName": "REFERRER^DEMO",
}


def _uid(seed: int, case: str, size: str, *what: object) -> UID:
    return generate_uid(
        entropy_srcs=["annulusview-phantom", case, size, str(seed), *map(str, what)]
    )


def _ds(value: float) -> str:
    """A DICOM decimal string of at most 16 characters."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("-0", "") else "0"


#: Most phases a study may hold (one per percent of the R-R interval).
MAX_PHASES = 100


def phase_percentages(n_phases: int) -> tuple[float, ...]:
    """The cardiac phases of an ``n_phases`` study, % R-R: ``100 * i / n_phases``, i = 0..N-1.

    Raises
    ------
    ValueError
        ``n_phases`` is not a whole number from 1 to :data:`MAX_PHASES`.
    """
    if isinstance(n_phases, bool) or not isinstance(n_phases, int):
        raise ValueError(f"phases must be a whole number, not {n_phases!r}")
    if not 1 <= n_phases <= MAX_PHASES:
        raise ValueError(f"phases must be from 1 to {MAX_PHASES}, not {n_phases}")
    return tuple(100.0 * i / n_phases for i in range(n_phases))


def _pct_text(pct: float) -> str:
    """``40`` for 40.0, ``33.33`` for 100/3: the percentage as a description shows it."""
    return f"{round(pct, 2):g}"


def phase_series_uid(case: PhantomCase, pct: float) -> UID:
    """SeriesInstanceUID of the ``pct`` % R-R phase of a multi-phase study of ``case``."""
    truth = case.truth
    return _uid(int(truth["seed"]), str(truth["case"]), str(truth["size"]), "series", pct)


def slice_datasets(
    case: PhantomCase,
    transfer_syntax: str = "explicit",
    phase: tuple[int, float] | None = None,
) -> list[Dataset]:
    """One CT Image Storage dataset per slice, in slice order (k = 0 first).

    ``phase`` = ``(index, percent R-R)`` makes the slices one phase of a multi-phase study (own
    series UID, description ``"Cardiac 40%"``, NominalPercentageOfCardiacPhase, SeriesNumber
    ``2 + index``); None (the default) writes the single-phase series.
    """
    truth = case.truth
    name, seed, size = str(truth["case"]), int(truth["seed"]), str(truth["size"])
    vol = case.volume
    affine = vol.affine
    n_slices, rows, cols = vol.shape
    pixel_mm = float(affine[0, 0])
    slice_mm = float(affine[2, 2])
    contrast = bool(truth["contrast"])
    study_uid = _uid(seed, name, size, "study")
    series_uid = _uid(seed, name, size, "series")
    description = f"AnnulusView phantom {name} seed {seed}"
    series_number = 2
    if phase is not None:
        series_uid = phase_series_uid(case, phase[1])
        description = f"Cardiac {_pct_text(phase[1])}%"
        series_number = 2 + phase[0]
    frame_uid = _uid(seed, name, size, "frame-of-reference")
    stored: npt.NDArray[np.uint16] = (vol.hu.astype(np.int32) - RESCALE_INTERCEPT).astype(np.uint16)
    out = []
    for k in range(n_slices):
        sop_uid = _uid(seed, name, size, "sop", k)
        if phase is not None:
            sop_uid = _uid(seed, name, size, "sop", phase[1], k)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = sop_uid
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = sop_uid
        ds.StudyDate = ds.SeriesDate = ds.ContentDate = "20240101"
        ds.StudyTime = ds.SeriesTime = ds.ContentTime = "120000"
        ds.Modality = "CT"
        ds.Manufacturer = "AnnulusView"
        ds.ManufacturerModelName = "Synthetic phantom"
        ds.StudyDescription = "Cardiac CT (synthetic phantom)"
        ds.SeriesDescription = description
        for key, value in IDENTITY.items():
            setattr(ds, key, value)
        ds.BodyPartExamined = "HEART"
        ds.SliceThickness = _ds(slice_mm)
        ds.SpacingBetweenSlices = _ds(slice_mm)
        ds.KVP = "100"
        ds.PatientPosition = "HFS"
        if contrast:
            ds.ContrastBolusAgent = "Iodinated contrast (synthetic)"
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.StudyID = "1"
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.AcquisitionNumber = 1
        z = float(affine[2, 3] + k * slice_mm)
        ds.ImagePositionPatient = [_ds(affine[0, 3]), _ds(affine[1, 3]), _ds(z)]
        ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
        ds.FrameOfReferenceUID = frame_uid
        if phase is not None:
            ds.NominalPercentageOfCardiacPhase = phase[1]
        ds.PositionReferenceIndicator = ""
        ds.SliceLocation = _ds(z)
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.Rows = rows
        ds.Columns = cols
        ds.PixelSpacing = [_ds(pixel_mm), _ds(pixel_mm)]
        ds.BitsAllocated = 16
        ds.BitsStored = 12
        ds.HighBit = 11
        ds.PixelRepresentation = 0
        ds.WindowCenter = "300" if contrast else "40"
        ds.WindowWidth = "800" if contrast else "400"
        ds.RescaleIntercept = str(RESCALE_INTERCEPT)
        ds.RescaleSlope = "1"
        ds.RescaleType = "HU"
        ds.PixelData = np.ascontiguousarray(stored[k]).tobytes()
        if transfer_syntax == "jpeg2000":
            ds.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        out.append(ds)
    return out


def _write_into(
    folder: Path,
    case: PhantomCase,
    transfer_syntax: str,
    progress: ProgressCallback | None,
    phases: int = 1,
) -> None:
    dicom_dir = folder / DICOM_DIRNAME
    dicom_dir.mkdir(parents=True)
    truth = case.truth
    if phases == 1:
        datasets = slice_datasets(case, transfer_syntax)
        for k, ds in enumerate(datasets):
            ds.save_as(dicom_dir / f"CT{k + 1:04d}.dcm", enforce_file_format=True)
            if k % 16 == 0:
                report(progress, 0.5 + 0.45 * k / len(datasets), "writing DICOM")
    else:
        listed = []
        percentages = phase_percentages(phases)
        for i, pct in enumerate(percentages):
            # One phase in memory at a time: a full-size phase is 160 MB of datasets.
            datasets = slice_datasets(case, transfer_syntax, (i, pct))
            for k, ds in enumerate(datasets):
                ds.save_as(dicom_dir / f"PH{i + 1:02d}_CT{k + 1:04d}.dcm", enforce_file_format=True)
            report(progress, 0.5 + 0.45 * (i + 1) / phases, f"writing DICOM phase {i + 1}/{phases}")
            listed.append(
                {
                    "percent_rr": pct,
                    "series_instance_uid": str(datasets[0].SeriesInstanceUID),
                    "series_description": str(datasets[0].SeriesDescription),
                    "series_number": int(datasets[0].SeriesNumber),
                    "file_prefix": f"PH{i + 1:02d}_",
                }
            )
        truth = {**truth, "cardiac_phases": listed}
    write_landmarks(folder / LANDMARKS_NAME, case.landmarks)
    (folder / TRUTH_NAME).write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")


def write_case(
    outdir: str | Path,
    case: str = "tavr-contrast",
    seed: int = 0,
    size: str = "small",
    transfer_syntax: str = "explicit",
    progress: ProgressCallback | None = None,
    phases: int = 1,
) -> Path:
    """Generate a case and write it to ``outdir`` (created; must be new or empty).

    Writes ``outdir/dicom/CT0001.dcm...`` (one CT Image Storage file per slice, explicit VR
    little endian or JPEG 2000 lossless), ``outdir/landmarks.mrk.json`` (LPS) and
    ``outdir/truth.json``.

    With ``phases`` = N > 1, ``outdir/dicom/`` holds N series, one per cardiac phase at
    ``100 * i / N`` % R-R (files ``PH01_CT0001.dcm``...; see :func:`phase_percentages`), each
    with the same voxels, and ``truth.json`` lists them under ``cardiac_phases`` (percent,
    SeriesInstanceUID, description, SeriesNumber, file name prefix).

    Returns
    -------
    Path
        ``outdir``.

    Raises
    ------
    OutputError
        ``outdir`` exists and is not an empty folder, or cannot be written.
    """
    if transfer_syntax not in TRANSFER_SYNTAXES:
        raise ValueError(f"transfer_syntax must be one of {', '.join(TRANSFER_SYNTAXES)}")
    phase_percentages(phases)  # a bad count fails before minutes of generation
    out = Path(outdir).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise OutputError(f"{out} already exists and is not empty.", "Choose a new folder.")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"Cannot create the folder {parent}: {exc.strerror or exc}.") from exc
    if not os.access(parent, os.W_OK):
        # Say so before minutes of generation, not after.
        raise OutputError(f"The folder {parent} is not writable.", "Choose another folder.")

    def sub(fraction: float, text: str) -> None:
        report(progress, 0.5 * fraction, text)

    phantom = make_case(case, seed, size, sub)
    clean_stale_parts(parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=temporary_prefix(out.name), suffix=".part", dir=parent))
    except OSError as exc:
        raise OutputError(f"Could not write the phantom to {out}: {exc.strerror or exc}.") from exc
    try:
        _write_into(tmp, phantom, transfer_syntax, progress, phases)
        os.chmod(tmp, 0o755)
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise write_error(out, exc) from exc
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    report(progress, 1.0, "done")
    log.info("phantom %s written to %s", case, out)
    return out


# Bump when the phantom's anatomy or landmarks change, so a cached demo of an older generator
# is not reused (the folder name carries it; no phantom import is needed to find it).
DEMO_GENERATION = 2


def demo_folder_name() -> str:
    """``demo-<version>-g<generation>``: the cached demo's folder name."""
    from annulusview import __version__

    return f"demo-{__version__}-g{DEMO_GENERATION}"


def demo_case_dir(progress: ProgressCallback | None = None) -> Path:
    """Folder of the demo case (tavr-contrast, 256 x 256 x 224 at 0.5 mm), made on first use.

    Lives in ``platformdirs.user_cache_dir("annulusview")/demo-<version>/`` and is reused
    once complete (written atomically, so a complete folder is the only kind that exists).
    """
    import platformdirs

    cache = Path(platformdirs.user_cache_dir("annulusview"))
    folder = cache / demo_folder_name()
    if (folder / TRUTH_NAME).is_file():
        return folder
    try:
        return write_case(folder, "tavr-contrast", seed=0, size="demo", progress=progress)
    except OutputError:
        if (folder / TRUTH_NAME).is_file():  # another process finished it first
            return folder
        raise
