"""CT loading on small series written here with pydicom: geometry and edge cases.

Every expected number is worked out by hand from how the series was written.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    CTImageStorage,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    generate_uid,
)

from annulusview import cli
from annulusview.core.errors import Cancelled, NoSeriesError, SeriesNotFoundError
from annulusview.core.io import load, scan
from annulusview.core.progress import CancelToken

ROWS, COLS = 6, 8
ROW_SPACING, COL_SPACING = 0.5, 0.75  # PixelSpacing = [row spacing, column spacing]
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def write_slice(
    path: Path,
    *,
    series_uid: str,
    position: Sequence[float],
    hu: float | np.ndarray = 0.0,
    orientation: Sequence[float] = AXIAL,
    slope: float = 1.0,
    intercept: float = -1024.0,
    modality: str = "CT",
    instance: int = 1,
    rows: int = ROWS,
    cols: int = COLS,
    image_type: Sequence[str] = ("ORIGINAL", "PRIMARY", "AXIAL"),
    implicit: bool = False,
    **extra: Any,
) -> Path:
    """Write one CT slice whose HU are ``hu`` (stored = (hu - intercept) / slope, uint16)."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ImplicitVRLittleEndian if implicit else ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = "1.2.3.4"
    ds.SeriesInstanceUID = series_uid
    ds.FrameOfReferenceUID = "1.2.3.5"
    ds.Modality = modality
    ds.ImageType = list(image_type)
    ds.PatientName = "Test^Patient"
    ds.PatientID = "P1"
    ds.PatientSex = "F"
    ds.SeriesDescription = "synthetic"
    ds.SeriesNumber = 3
    ds.InstanceNumber = instance
    ds.ImagePositionPatient = [float(v) for v in position]
    ds.ImageOrientationPatient = [float(v) for v in orientation]
    ds.PixelSpacing = [ROW_SPACING, COL_SPACING]
    ds.SliceThickness = 1.0
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 12, 11
    ds.PixelRepresentation = 0
    ds.RescaleSlope = f"{slope:g}"
    ds.RescaleIntercept = f"{intercept:g}"
    for key, value in extra.items():
        setattr(ds, key, value)
    values = np.broadcast_to(np.asarray(hu, dtype=np.float64), (rows, cols))
    stored = np.round((values - intercept) / slope).astype(np.uint16)
    ds.PixelData = stored.tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_series(
    folder: Path, z_positions: Sequence[float], hu_of_z: Any = lambda z: 10.0 * z, **kw: Any
) -> str:
    """Axial slices at the given z (mm), written in a shuffled file order; returns the UID."""
    folder.mkdir(parents=True, exist_ok=True)
    uid = kw.pop("series_uid", generate_uid())
    order = np.random.default_rng(7).permutation(len(z_positions))
    for n, idx in enumerate(order):
        z = z_positions[idx]
        write_slice(
            folder / f"img{n:03d}.dcm",
            series_uid=uid,
            position=(-10.0, 20.0, z),
            hu=hu_of_z(z),
            instance=len(z_positions) - idx,  # deliberately reversed: must not be used
            **kw,
        )
    return uid


def test_axial_series_geometry_and_values(tmp_path: Path) -> None:
    write_series(tmp_path, [5.0, 7.5, 0.0, 2.5, 10.0])
    vol = load(tmp_path)
    assert vol.shape == (5, ROWS, COLS)
    assert vol.hu.dtype == np.int16
    # Sorted by z: 0, 2.5, 5, 7.5, 10 -> HU 0, 25, 50, 75, 100 on every voxel.
    assert vol.hu[:, 0, 0].tolist() == [0, 25, 50, 75, 100]
    assert np.all(vol.hu == vol.hu[:, :1, :1])
    expected = np.array(
        [
            [COL_SPACING, 0, 0, -10.0],
            [0, ROW_SPACING, 0, 20.0],
            [0, 0, 2.5, 0.0],
            [0, 0, 0, 1],
        ]
    )
    np.testing.assert_allclose(vol.affine, expected, atol=1e-9)
    assert vol.spacing_mm == pytest.approx((2.5, ROW_SPACING, COL_SPACING))
    assert vol.warnings == ()
    assert vol.metadata["patient_sex"] == "F"
    assert vol.metadata["contrast_agent"] is None
    assert len(vol.metadata["sop_instance_uids"]) == 5
    assert len(vol.source_paths) == 5


def test_non_axial_orientation_affine(tmp_path: Path) -> None:
    # Coronal: rows run along +x, columns along -z; normal = row x col = (0, 1, 0).
    coronal = (1.0, 0.0, 0.0, 0.0, 0.0, -1.0)
    uid = generate_uid()
    for n, y in enumerate([3.0, 1.0, 2.0]):
        write_slice(
            tmp_path / f"c{n}.dcm",
            series_uid=uid,
            position=(0.0, y, 50.0),
            hu=y,
            orientation=coronal,
        )
    vol = load(tmp_path)
    np.testing.assert_allclose(vol.affine[:3, 0], [COL_SPACING, 0, 0])
    np.testing.assert_allclose(vol.affine[:3, 1], [0, 0, -ROW_SPACING])
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 1, 0])
    np.testing.assert_allclose(vol.affine[:3, 3], [0, 1, 50])
    assert vol.hu[:, 0, 0].tolist() == [1, 2, 3]
    assert any("non-axial" in w and "coronal" in w for w in vol.warnings)
    # Voxel (i=2, j=3, k=1) sits at x = 2 * 0.75, y = 2, z = 50 - 3 * 0.5.
    np.testing.assert_allclose(vol.index_to_lps([2, 3, 1]), [1.5, 2.0, 48.5])


def test_gantry_tilt_kept_as_shear(tmp_path: Path) -> None:
    uid = generate_uid()
    # Each slice moves 2 mm in z and 0.5 mm in y: tilt = atan(0.5 / 2) = 14.04 degrees.
    for k in range(4):
        write_slice(tmp_path / f"t{k}.dcm", series_uid=uid, position=(0.0, 0.5 * k, 2.0 * k), hu=k)
    vol = load(tmp_path)
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0.5, 2.0])
    assert any("gantry tilt of 14.0 degrees" in w for w in vol.warnings)
    for k in range(4):
        np.testing.assert_allclose(vol.index_to_lps([0, 0, k]), [0, 0.5 * k, 2.0 * k])


def test_missing_slice_is_interpolated(tmp_path: Path) -> None:
    write_series(tmp_path, [0.0, 1.0, 2.0, 4.0, 5.0])  # z = 3 is missing
    vol = load(tmp_path)
    assert vol.shape[0] == 6
    assert vol.hu.dtype == np.float32
    np.testing.assert_allclose(vol.hu[:, 0, 0], [0, 10, 20, 30, 40, 50], atol=1e-4)
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 1.0])
    assert any("1 missing slice" in w for w in vol.warnings)


def test_uneven_gaps_resampled_to_true_positions(tmp_path: Path) -> None:
    # Gaps 1.0 and 2.5 mm: smallest gap 1 mm -> 3.5 mm / round(3.5) = 4 steps of 0.875 mm.
    write_series(tmp_path, [0.0, 1.0, 3.5], hu_of_z=lambda z: 100.0 * z)
    vol = load(tmp_path)
    assert vol.shape[0] == 5
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 0.875])
    # HU is linear in z here, so linear interpolation gives exactly 100 * z at every grid point.
    np.testing.assert_allclose(vol.hu[:, 0, 0], [0, 87.5, 175, 262.5, 350], atol=1e-3)
    assert any("uneven slice gaps" in w for w in vol.warnings)
    res = scan(tmp_path)
    assert res.series[0].shape == vol.shape
    np.testing.assert_allclose(res.series[0].affine, vol.affine)


def test_duplicate_positions_dropped_with_warning(tmp_path: Path) -> None:
    uid = write_series(tmp_path, [0.0, 1.0, 2.0])
    write_slice(
        tmp_path / "dup.dcm", series_uid=uid, position=(-10.0, 20.0, 1.0), hu=999, instance=99
    )
    vol = load(tmp_path)
    assert vol.shape[0] == 3
    assert vol.hu[:, 0, 0].tolist() == [0, 10, 20]
    assert any("position already taken" in w for w in vol.warnings)
    skipped = {Path(s.path).name: s.reason for s in scan(tmp_path).skipped}
    assert "duplicate slice position" in skipped["dup.dcm"]


def test_mixed_rescale_applied_per_slice(tmp_path: Path) -> None:
    uid = generate_uid()
    write_slice(tmp_path / "a.dcm", series_uid=uid, position=(0, 0, 0), hu=-500, intercept=-1024)
    write_slice(
        tmp_path / "b.dcm", series_uid=uid, position=(0, 0, 1), hu=300, slope=2, intercept=-1000
    )
    vol = load(tmp_path)
    assert vol.hu.dtype == np.int16
    assert vol.hu[:, 2, 3].tolist() == [-500, 300]
    assert any("rescale differs" in w for w in vol.warnings)
    write_slice(
        tmp_path / "c.dcm", series_uid=uid, position=(0, 0, 2), hu=10.5, slope=0.5, intercept=0
    )
    vol = load(tmp_path)
    assert vol.hu.dtype == np.float32
    np.testing.assert_allclose(vol.hu[:, 0, 0], [-500, 300, 10.5])


def test_two_orientations_in_one_uid_are_split(tmp_path: Path) -> None:
    uid = write_series(tmp_path / "ax", [0.0, 1.0, 2.0])
    sagittal = (0.0, 1.0, 0.0, 0.0, 0.0, -1.0)
    for n, x in enumerate([0.0, 1.0]):
        write_slice(
            tmp_path / f"sag{n}.dcm", series_uid=uid, position=(x, 0, 0), hu=7, orientation=sagittal
        )
    res = scan(tmp_path)
    ids = [s.id for s in res.series]
    assert ids == [f"{uid}#1", f"{uid}#2"]
    assert res.series[0].num_images == 3
    assert load(tmp_path, series=f"{uid}#2").shape == (2, ROWS, COLS)
    assert load(tmp_path, series=uid).shape == (3, ROWS, COLS)  # bare UID: its largest stack


def test_two_cardiac_phases_are_split(tmp_path: Path) -> None:
    uid = generate_uid()
    for phase, hu in ((40, 100), (75, 200)):
        for k in range(3):
            write_slice(
                tmp_path / f"p{phase}_{k}.dcm",
                series_uid=uid,
                position=(0, 0, k),
                hu=hu,
                NominalPercentageOfCardiacPhase=phase,
            )
    res = scan(tmp_path)
    assert [s.description for s in res.series] == ["synthetic (phase 40%)", "synthetic (phase 75%)"]
    assert [s.cardiac_phase for s in res.series] == ["40%", "75%"]
    assert [s.slice_thickness_mm for s in res.series] == [1.0, 1.0]  # SliceThickness written
    assert all(s.warnings == () for s in res.series)
    assert int(load(tmp_path, series=f"{uid}#2").hu[1, 0, 0]) == 200
    assert int(load(tmp_path, series=f"{uid}#1").hu[1, 0, 0]) == 100


def test_trigger_time_splits_only_repeated_positions(tmp_path: Path) -> None:
    uid = generate_uid()
    for k in range(4):  # one phase, trigger time differs on every slice: one stack
        write_slice(tmp_path / f"s{k}.dcm", series_uid=uid, position=(0, 0, k), TriggerTime=300 + k)
    assert [s.num_images for s in scan(tmp_path).series] == [4]


def test_skip_reasons_for_localizer_sr_and_mr(tmp_path: Path) -> None:
    write_series(tmp_path / "ct", [0.0, 1.0, 2.0])
    write_slice(
        tmp_path / "scout.dcm",
        series_uid=generate_uid(),
        position=(0, 0, 0),
        image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"),
    )
    write_slice(tmp_path / "mr.dcm", series_uid=generate_uid(), position=(0, 0, 0), modality="MR")
    sr = Dataset()
    sr.file_meta = FileMetaDataset()
    sr.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"
    sr.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    sr.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    sr.SOPClassUID = "1.2.840.10008.5.1.4.1.1.88.22"
    sr.SOPInstanceUID = sr.file_meta.MediaStorageSOPInstanceUID
    sr.Modality = "SR"
    sr.save_as(tmp_path / "report.dcm", enforce_file_format=True)
    (tmp_path / "notes.txt").write_text("not dicom")
    res = scan(tmp_path)
    reasons = {Path(s.path).name: s.reason for s in res.skipped}
    assert reasons["scout.dcm"] == "localizer (scout) image"
    assert reasons["mr.dcm"] == "modality MR, not CT"
    assert reasons["report.dcm"].startswith("not an image (no pixel data")
    assert reasons["notes.txt"] == "not a DICOM file"
    assert len(res.series) == 1


def test_default_series_has_most_images_and_unknown_uid_lists_them(tmp_path: Path) -> None:
    small = write_series(tmp_path / "a", [0.0, 1.0])
    big = write_series(tmp_path / "b", [0.0, 1.0, 2.0, 3.0])
    vol = load(tmp_path)
    assert vol.series_instance_uid == big
    assert load(tmp_path, series=small).shape[0] == 2
    with pytest.raises(SeriesNotFoundError) as err:
        load(tmp_path, series="9.9.9")
    assert small in str(err.value) and big in str(err.value)


def test_implicit_vr_and_single_file(tmp_path: Path) -> None:
    uid = generate_uid()
    path = write_slice(
        tmp_path / "one.dcm", series_uid=uid, position=(1, 2, 3), hu=-7, implicit=True
    )
    vol = load(path)
    assert vol.shape == (1, ROWS, COLS)
    assert int(vol.hu[0, 0, 0]) == -7
    np.testing.assert_allclose(vol.affine[:3, 2], [0, 0, 1.0])  # SliceThickness 1 mm
    assert any("single slice" in w for w in vol.warnings)


def test_zip_input_matches_folder(tmp_path: Path) -> None:
    folder = tmp_path / "series"
    write_series(folder, [0.0, 2.0, 4.0, 6.0])
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.iterdir()):
            zf.write(f, f"deep/dir/{f.name}")
        zf.writestr("readme.txt", "hello")
    from_zip = load(archive)
    from_folder = load(folder)
    np.testing.assert_array_equal(from_zip.hu, from_folder.hu)
    np.testing.assert_allclose(from_zip.affine, from_folder.affine)
    assert all(p.startswith(str(archive)) for p in from_zip.source_paths)
    assert [Path(s.path).name for s in scan(archive).skipped] == ["readme.txt"]


def test_progress_reported_and_cancel_raises(tmp_path: Path) -> None:
    write_series(tmp_path, [float(z) for z in range(20)])
    seen: list[tuple[float, str]] = []
    load(tmp_path, progress=lambda f, t: seen.append((f, t)))
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    token = CancelToken()

    def cancel_halfway(fraction: float, text: str) -> None:
        if fraction > 0.5:
            token.cancel()

    with pytest.raises(Cancelled):
        load(tmp_path, progress=cancel_halfway, cancel=token)


def test_no_series_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoSeriesError):
        load(tmp_path / "empty")
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.dcm").write_bytes(b"\x00" * 300)
    (junk / "b.txt").write_text("hello")
    with pytest.raises(NoSeriesError, match="No usable CT series"):
        load(junk)


@pytest.mark.parametrize("folder", ["empty", "junk"])
def test_info_exit_code_3_without_series(
    tmp_path: Path, folder: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / folder
    target.mkdir()
    if folder == "junk":
        (target / "x.bin").write_bytes(bytes(range(256)) * 4)
    assert cli.main(["info", str(target)]) == 3
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("annulusview: No usable CT series in")
    assert "Traceback" not in err


def test_info_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uid = write_series(tmp_path, [0.0, 1.25, 2.5], ContrastBolusAgent="Iomeprol")
    (tmp_path / "x.txt").write_text("junk")
    assert cli.main(["info", str(tmp_path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema"] == "annulusview.info/1"
    (series,) = doc["series"]
    assert series["series_instance_uid"] == uid
    assert series["modality"] == "CT"
    assert series["num_images"] == 3
    assert series["shape"] == [3, ROWS, COLS]
    assert series["spacing_mm"] == pytest.approx([1.25, ROW_SPACING, COL_SPACING])
    assert series["affine"][2] == pytest.approx([0, 0, 1.25, 0])
    assert series["affine"][0][3] == pytest.approx(-10.0)
    assert series["contrast"] is True
    assert series["warnings"] == []
    assert doc["skipped"] == [{"path": str(tmp_path / "x.txt"), "reason": "not a DICOM file"}]


def test_info_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    uid = write_series(tmp_path, [0.0, 1.0, 3.0])
    assert cli.main(["info", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert uid in out and "1 missing slice" in out
