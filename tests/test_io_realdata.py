"""CT loading on real files from ../shared/data (see its README): decoders, enhanced CT, tilt."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest

from annulusview.core.io import load, scan
from annulusview.core.io.headers import read_frames
from annulusview.core.io.pixels import read_stack
from annulusview.core.io.series import build_stacks
from annulusview.core.io.sources import list_sources

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
EDGE = DATA / "dicom-edge"
TS_DIR = EDGE / "transfer_syntaxes" / "In"
SELECTED = EDGE / "pydicom_selected"
GE = EDGE / "ge_tilt_gaps" / "In" / "GE"
ABDOMEN = DATA / "real" / "abdomen_ct_j2k" / "dicom"
ROOT_CTA = DATA / "real" / "aortic_root_cta" / "ct_cropped.nii.gz"

EXPECTED_TS = {
    "1.dcm": "1.2.840.10008.1.2.1",
    "2.dcm": "1.2.840.10008.1.2",
    "3.dcm": "1.2.840.10008.1.2.2",
    "4.dcm": "1.2.840.10008.1.2.5",
    "5.dcm": "1.2.840.10008.1.2.4.70",
    "6.dcm": "1.2.840.10008.1.2.4.70",  # README says JPEG-LS, the file holds JPEG lossless
    "7.dcm": "1.2.840.10008.1.2.4.80",
    "8.dcm": "1.2.840.10008.1.2.4.80",
    "9.dcm": "1.2.840.10008.1.2.4.90",
}


def _as_ct(src: Path, dst: Path) -> Path:
    """Copy an MR test slice with Modality set to CT (pixel data untouched, same encoding)."""
    ds = pydicom.dcmread(src)
    ds.Modality = "CT"
    ds.save_as(dst)
    return dst


def test_transfer_syntaxes_decode_to_the_same_pixels(tmp_path: Path) -> None:
    # The MR slices are skipped as MR by the loader: that is checked first.
    reasons = {Path(s.path).name: s.reason for s in scan(TS_DIR).skipped}
    assert all(reasons[name] == "modality MR, not CT" for name in EXPECTED_TS)
    volumes = {}
    for name, ts in EXPECTED_TS.items():
        copy = _as_ct(TS_DIR / name, tmp_path / name)
        assert pydicom.dcmread(copy, stop_before_pixels=True).file_meta.TransferSyntaxUID == ts
        volumes[name] = load(copy)
    reference = volumes["1.dcm"]
    # Hand check of the reference itself: raw little-endian uint16 words, no rescale in MR.
    raw = pydicom.dcmread(TS_DIR / "1.dcm")
    words = np.frombuffer(raw.PixelData, dtype="<u2")[: raw.Rows * raw.Columns]
    np.testing.assert_array_equal(reference.hu[0].ravel(), words)
    for name, vol in volumes.items():
        assert vol.shape == reference.shape, name
        np.testing.assert_array_equal(vol.hu, reference.hu, err_msg=name)
        np.testing.assert_allclose(vol.affine, reference.affine, err_msg=name)


def test_enhanced_ct_geometry_and_rescale_from_functional_groups() -> None:
    path = SELECTED / "eCT_Supplemental.dcm"
    vol = load(path)
    assert vol.shape == (2, 512, 512)
    # Shared PlaneOrientation (-1,0,0 / 0,1,0): normal (0,0,-1), so the frame at z=-149 comes
    # before the frame at z=-159; PixelSpacing 0.388672 from PixelMeasuresSequence.
    expected = np.array(
        [
            [-0.388672, 0, 0, 99.5],
            [0, 0.388672, 0, -301.5],
            [0, 0, -10.0, -149.0],
            [0, 0, 0, 1],
        ]
    )
    np.testing.assert_allclose(vol.affine, expected, atol=1e-6)
    # Rescale only in PixelValueTransformationSequence: slope 1, intercept -1024.
    ds = pydicom.dcmread(path)
    stored = ds.pixel_array  # frames in file order: frame 1 at z=-149, frame 2 at z=-159
    z = [
        float(f.PlanePositionSequence[0].ImagePositionPatient[2])
        for f in ds.PerFrameFunctionalGroupsSequence
    ]
    order = np.argsort(z)[::-1]
    np.testing.assert_array_equal(vol.hu, stored[order].astype(np.int32) - 1024)
    assert vol.hu.dtype == np.int16
    # Enhanced CT names its agent in ContrastBolusAgentSequence (Iohexol) -> True.
    assert ds.ContrastBolusAgentSequence[0].CodeMeaning == "Iohexol"
    assert vol.metadata["contrast_agent"] is True


def test_broken_and_foreign_files_give_reasons() -> None:
    reasons = {Path(s.path).name: s.reason for s in scan(SELECTED).skipped}
    assert reasons["emri_small_jpeg_2k_lossless_too_short.dcm"]
    assert reasons["emri_small_big_endian.dcm"] == "modality MR, not CT"
    assert reasons["liver.dcm"] == "modality SEG, not CT"
    assert reasons["JPEG-LL.dcm"] == "modality NM, not CT"
    assert reasons["SOURCE.txt"] == "not a DICOM file"
    # Each file alone: a volume or a clean input error, never anything else.
    for f in sorted(SELECTED.iterdir()):
        try:
            load(f)
        except Exception as exc:
            from annulusview.core.errors import InputError

            assert isinstance(exc, InputError), (f.name, exc)


def test_truncated_jpeg2000_pixels_become_a_reason(tmp_path: Path) -> None:
    # The truncated J2K file is MR; as CT it must fail at decoding with a reason, not a crash.
    copy = tmp_path / "short.dcm"
    raw = (SELECTED / "emri_small_jpeg_2k_lossless_too_short.dcm").read_bytes()
    copy.write_bytes(raw)
    res = scan(copy)
    assert res.series == () and res.skipped[0].reason


def test_ge_tilt_and_gaps_detected_and_positions_true() -> None:
    vol = load(GE)
    text = " | ".join(vol.warnings)
    assert "gantry tilt of 18.5 degrees" in text  # acos(0.9483) = 18.5 (GantryDetectorTilt 18.5)
    assert "uneven slice gaps" in text
    files = sorted(GE.glob("*.dcm"))
    headers = [pydicom.dcmread(f, stop_before_pixels=True) for f in files]
    positions = np.array([[float(v) for v in h.ImagePositionPatient] for h in headers])
    # Every original slice's IPP is a voxel (0, 0, k) of the volume, k fractional and in range.
    ijk = vol.lps_to_index(positions)
    np.testing.assert_allclose(ijk[:, :2], 0.0, atol=1e-6)
    assert ijk[:, 2].min() == pytest.approx(0.0, abs=1e-9)
    assert ijk[:, 2].max() == pytest.approx(vol.shape[0] - 1, abs=1e-6)
    # The first and last slices are grid slices: their HU are the file's, untouched.
    for h, f, k in ((headers[0], files[0], 0), (headers[-1], files[-1], vol.shape[0] - 1)):
        ds = pydicom.dcmread(f)
        hu = ds.pixel_array * float(h.RescaleSlope) + float(h.RescaleIntercept)
        np.testing.assert_allclose(vol.hu[k], hu, atol=1e-3)
    # Uniform step after resampling: (157.776 - 5.836) mm in z over the grid.
    step = vol.affine[:3, 2]
    assert step[2] * (vol.shape[0] - 1) == pytest.approx(157.7760586 - 5.8360586, abs=1e-4)
    assert step[0] == pytest.approx(0.0, abs=1e-9) and step[1] == pytest.approx(0.0, abs=1e-9)


def test_jpeg2000_series_real_ct() -> None:
    vol = load(ABDOMEN)
    assert vol.shape == (20, 512, 512)
    assert vol.spacing_mm == pytest.approx((2.0, 0.9765625, 0.9765625), abs=1e-6)
    assert vol.metadata["slice_thickness_mm"] == pytest.approx(3.0)  # 3 mm thick, 2 mm apart
    assert vol.hu.dtype == np.int16
    assert vol.metadata["contrast_agent"] is True
    # Decoded independently, slice by slice, with pydicom: same HU in the same sorted order.
    files = sorted(ABDOMEN.iterdir())
    dss = [pydicom.dcmread(f) for f in files]
    dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    for k in (0, 9, 19):
        d = dss[k]
        hu = d.pixel_array.astype(np.int32) * int(d.RescaleSlope) + int(d.RescaleIntercept)
        np.testing.assert_array_equal(vol.hu[k], hu)
    # Air outside the patient and soft tissue in the middle.
    assert -1100 < float(np.median(vol.hu[:, :20, :20])) < -900
    # The NIfTI files beside it are a different resampled study (SOURCE.txt): not compared.


def test_pool_and_single_process_decode_agree() -> None:
    sources, _ = list_sources(ABDOMEN)
    frames = [f for s in sources for f in read_frames(s)]
    (stack,), _ = build_stacks(frames)
    one, fail1 = read_stack(stack.plan, workers=1)
    two, fail2 = read_stack(stack.plan, workers=2)
    assert fail1 == [] and fail2 == []
    np.testing.assert_array_equal(one, two)


def test_zip_of_real_series(tmp_path: Path) -> None:
    archive = tmp_path / "abdomen.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(ABDOMEN.iterdir()):
            zf.write(f, f"study/{f.name}")
    np.testing.assert_array_equal(load(archive).hu, load(ABDOMEN).hu)


def test_nifti_loaded_as_lps() -> None:
    vol = load(ROOT_CTA)
    img = nib.load(ROOT_CTA)
    nx, ny, nz = img.shape
    assert vol.shape == (nz, ny, nx) == (164, 126, 120)
    ras = img.affine
    # LPS = RAS with x and y negated.
    np.testing.assert_allclose(vol.affine[0], -ras[0])
    np.testing.assert_allclose(vol.affine[1], -ras[1])
    np.testing.assert_allclose(vol.affine[2], ras[2])
    assert vol.spacing_mm == pytest.approx((1.5, 1.5, 1.5))
    # The file is stored LPS+ (aff2axcodes L, P, S): i runs to the patient's left, so the LPS
    # x step is +1.5 mm.
    assert nib.aff2axcodes(ras) == ("L", "P", "S")
    assert vol.affine[0, 0] == pytest.approx(1.5)
    data = np.asanyarray(img.dataobj)
    for i, j, k in ((0, 0, 0), (10, 20, 30), (119, 125, 163)):
        assert vol.hu[k, j, i] == data[i, j, k]
    assert vol.hu.dtype == np.int16


def test_single_dicom_file_copy(tmp_path: Path) -> None:
    one = tmp_path / "one.dcm"
    shutil.copy(sorted(ABDOMEN.iterdir())[0], one)
    vol = load(one)
    assert vol.shape == (1, 512, 512)
