"""The phantom on disk: DICOM series, landmarks, truth, the command and the demo folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pydicom
import pytest

from annulusview.cli import main
from annulusview.core.errors import OutputError
from annulusview.core.landmarks import read_landmarks
from annulusview.phantom import make_case
from annulusview.phantom import render as phantom_render
from annulusview.phantom.dicom import demo_case_dir, write_case


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_case(tmp_path_factory.mktemp("ph") / "case", "tavr-contrast", seed=3)


def _read_series(folder: Path) -> list[pydicom.Dataset]:
    files = sorted((folder / "dicom").glob("*.dcm"))
    datasets = [pydicom.dcmread(p) for p in files]
    return sorted(datasets, key=lambda d: float(d.ImagePositionPatient[2]))


def test_written_case_has_three_outputs(written: Path) -> None:
    assert (written / "truth.json").is_file()
    assert (written / "landmarks.mrk.json").is_file()
    truth = json.loads((written / "truth.json").read_text())
    assert truth["schema"] == "annulusview.phantom-truth/2" and truth["seed"] == 3
    case = make_case("tavr-contrast", seed=3)
    back = read_landmarks(written / "landmarks.mrk.json")
    for name in case.landmarks:
        assert np.array_equal(back[name], case.landmarks[name])
    assert not list(written.parent.glob(".*.part"))


def test_dicom_headers_geometry_and_pixels(written: Path) -> None:
    case = make_case("tavr-contrast", seed=3)
    series = _read_series(written)
    assert len(series) == case.volume.shape[0]
    aff = case.volume.affine
    first = series[0]
    assert first.file_meta.TransferSyntaxUID == pydicom.uid.ExplicitVRLittleEndian
    assert first.SOPClassUID == pydicom.uid.CTImageStorage
    assert first.PatientName == "PHANTOM^DEMO" and first.PatientID == "AV-PHANTOM-001"
    assert first.PatientBirthDate == "19500101" and first.AccessionNumber == "ACC0001"
    assert first.PatientSex == "M" and first.InstitutionName
    assert first.ContrastBolusAgent
    assert float(first.RescaleSlope) == 1 and float(first.RescaleIntercept) == -1024
    assert len({d.SeriesInstanceUID for d in series}) == 1
    assert len({d.FrameOfReferenceUID for d in series}) == 1
    assert len({d.SOPInstanceUID for d in series}) == len(series)
    for k, ds in enumerate(series):
        iop = np.array(ds.ImageOrientationPatient, dtype=float)
        row_sp, col_sp = (float(x) for x in ds.PixelSpacing)
        ipp = np.array(ds.ImagePositionPatient, dtype=float)
        # position of voxel (i, j, k) from the headers equals the affine's
        for i, j in ((0, 0), (17, 91), (ds.Columns - 1, ds.Rows - 1)):
            header = ipp + i * col_sp * iop[:3] + j * row_sp * iop[3:]
            assert np.allclose(header, case.volume.index_to_lps([i, j, k]), atol=1e-6)
        assert float(ds.SpacingBetweenSlices) == pytest.approx(aff[2, 2])
        hu = ds.pixel_array.astype(np.int32) * int(ds.RescaleSlope) + int(ds.RescaleIntercept)
        assert np.array_equal(hu, case.volume.hu[k])


def test_uids_are_deterministic_by_seed(tmp_path: Path, written: Path) -> None:
    again = write_case(tmp_path / "again", "tavr-contrast", seed=3)
    other = write_case(tmp_path / "other", "tavr-contrast", seed=4)
    a = (written / "dicom" / "CT0010.dcm").read_bytes()
    assert a == (again / "dicom" / "CT0010.dcm").read_bytes()
    b = pydicom.dcmread(other / "dicom" / "CT0010.dcm")
    assert (
        b.SeriesInstanceUID != pydicom.dcmread(written / "dicom" / "CT0010.dcm").SeriesInstanceUID
    )


def test_jpeg2000_round_trip_equals_explicit(tmp_path: Path, written: Path) -> None:
    j2k = write_case(tmp_path / "j2k", "tavr-contrast", seed=3, transfer_syntax="jpeg2000")
    explicit = _read_series(written)
    compressed = _read_series(j2k)
    assert compressed[0].file_meta.TransferSyntaxUID == pydicom.uid.JPEG2000Lossless
    for a, b in zip(explicit, compressed, strict=True):
        assert np.array_equal(a.pixel_array, b.pixel_array)


def test_write_refuses_a_non_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(OutputError):
        write_case(tmp_path / "x")
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_cli_phantom(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    assert main(["phantom", str(out), "--case", "normal", "--seed", "2"]) == 0
    for name in ("dicom", "landmarks.mrk.json", "truth.json"):
        assert (out / name).exists()
    assert json.loads((out / "truth.json").read_text())["case"] == "normal"
    capsys.readouterr()
    assert main(["phantom", str(out)]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "not empty" in err
    assert main(["phantom", str(tmp_path / "neo"), "--case", "neo-lvot"]) == 3
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "neo-lvot" in err
    assert not (tmp_path / "neo").exists()


def test_demo_case_dir_is_made_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_cache_dir", lambda *a, **k: str(tmp_path / "cache"))
    # the demo grid is large; a small grid keeps the test fast and exercises the same path
    monkeypatch.setitem(phantom_render.SIZES, "demo", phantom_render.SIZES["small"])
    calls: list[float] = []
    first = demo_case_dir(progress=lambda f, t: calls.append(f))
    assert (first / "truth.json").is_file() and calls
    stamp = (first / "truth.json").stat().st_mtime_ns
    assert demo_case_dir() == first
    assert (first / "truth.json").stat().st_mtime_ns == stamp
    assert first.name.startswith("demo-")
