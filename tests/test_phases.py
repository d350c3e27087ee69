"""Multi-phase studies: the phantom writes N cardiac phases, the scan lists them in percent order
with their source, and loading one phase reads that phase's files only.

Every file is real DICOM written to ``tmp_path`` and read back. The phases of a 3-phase study
are ``100 * i / 3`` % R-R: 0, 33.3333 and 66.6667 at the listing's 4 decimals.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

from annulusview.cli import main
from annulusview.commands import phantom as phantom_command
from annulusview.core.io import load, loader, scan
from annulusview.core.io.fastheader import not_in_series
from annulusview.core.io.loader import load_scanned
from annulusview.core.io.sources import list_sources
from annulusview.phantom import make_case
from annulusview.phantom.dicom import phase_percentages, write_case

SEED = 0
THREE_PHASES = [0.0, 33.3333, 66.6667]  # 100 * i / 3, rounded to 4 decimals
SMALL_SLICES = 160  # the small phantom: 160^3 voxels


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_case(tmp_path_factory.mktemp("phases") / "study", seed=SEED, phases=3)


def _first_file_of_each_series(folder: Path) -> dict[str, pydicom.Dataset]:
    found: dict[str, pydicom.Dataset] = {}
    for path in sorted((folder / "dicom").glob("*.dcm")):
        ds = pydicom.dcmread(path, stop_before_pixels=True)
        found.setdefault(str(ds.SeriesInstanceUID), ds)
    return found


# --- the generator ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, (0.0,)),
        (2, (0.0, 50.0)),
        (4, (0.0, 25.0, 50.0, 75.0)),
        (10, (0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0)),
    ],
)
def test_phase_percentages_are_evenly_spaced(n: int, expected: tuple[float, ...]) -> None:
    assert phase_percentages(n) == pytest.approx(expected)


@pytest.mark.parametrize("bad", [0, -1, 101, 2.5, True])
def test_phase_count_out_of_range_is_refused(bad: Any, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="phases"):
        write_case(tmp_path / "out", phases=bad)
    assert not (tmp_path / "out").exists()  # refused before generating


def test_study_holds_one_series_per_phase(study: Path) -> None:
    files = sorted((study / "dicom").glob("*.dcm"))
    assert len(files) == 3 * SMALL_SLICES
    heads = _first_file_of_each_series(study)
    assert len(heads) == 3
    assert len({str(d.StudyInstanceUID) for d in heads.values()}) == 1
    assert len({str(d.FrameOfReferenceUID) for d in heads.values()}) == 1
    by_phase = sorted(heads.values(), key=lambda d: float(d.NominalPercentageOfCardiacPhase))
    assert [d.SeriesDescription for d in by_phase] == [
        "Cardiac 0%",
        "Cardiac 33.33%",
        "Cardiac 66.67%",
    ]
    assert [int(d.SeriesNumber) for d in by_phase] == [2, 3, 4]
    truth = json.loads((study / "truth.json").read_text())
    listed = truth["cardiac_phases"]
    assert [p["percent_rr"] for p in listed] == pytest.approx([0.0, 100 / 3, 200 / 3])
    assert [p["series_instance_uid"] for p in listed] == [
        str(d.SeriesInstanceUID) for d in by_phase
    ]
    assert truth["case"] == "tavr-contrast" and truth["seed"] == SEED


def test_single_phase_default_is_unchanged(tmp_path: Path) -> None:
    folder = write_case(tmp_path / "one", seed=SEED)
    files = sorted((folder / "dicom").glob("*.dcm"))
    assert [f.name for f in files] == [f"CT{k:04d}.dcm" for k in range(1, SMALL_SLICES + 1)]
    ds = pydicom.dcmread(files[0], stop_before_pixels=True)
    assert "NominalPercentageOfCardiacPhase" not in ds
    assert ds.SeriesDescription == f"AnnulusView phantom tavr-contrast seed {SEED}"
    assert int(ds.SeriesNumber) == 2
    assert "cardiac_phases" not in json.loads((folder / "truth.json").read_text())
    summary = scan(folder).series[0]
    assert (summary.cardiac_phase_pct, summary.cardiac_phase_source) == (None, None)


def test_phantom_command_writes_phases(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def args(outdir: Path, phases: int) -> argparse.Namespace:
        return argparse.Namespace(
            outdir=str(outdir),
            case="tavr-contrast",
            seed=SEED,
            size="small",
            transfer_syntax="explicit",
            phases=phases,
        )

    assert phantom_command.run(args(tmp_path / "bad", 0)) == 3
    assert "--phases 0 is out of range" in capsys.readouterr().err
    assert phantom_command.run(args(tmp_path / "two", 2)) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "two")
    assert [s.cardiac_phase_pct for s in scan(tmp_path / "two").series] == [0.0, 50.0]


# --- the listing --------------------------------------------------------------------------------


def test_scan_lists_the_written_phases_in_order(study: Path) -> None:
    result = scan(study)
    assert [s.cardiac_phase_pct for s in result.series] == THREE_PHASES
    assert [s.cardiac_phase_source for s in result.series] == ["header"] * 3
    assert [s.num_images for s in result.series] == [SMALL_SLICES] * 3
    listed = json.loads((study / "truth.json").read_text())["cardiac_phases"]
    assert [s.id for s in result.series] == [p["series_instance_uid"] for p in listed]


def test_info_json_carries_the_phase(study: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["info", "--json", str(study)]) == 0
    series = json.loads(capsys.readouterr().out)["series"]
    assert [s["cardiac_phase_pct"] for s in series] == THREE_PHASES
    assert {s["cardiac_phase_source"] for s in series} == {"header"}


def _write_series(
    folder: Path,
    *,
    description: str,
    series_number: int,
    phase_pct: float | None = None,
    slices: int = 3,
    study_uid: str = "1.2.3.4",
    frame_uid: str = "1.2.3.4.5",
) -> str:
    """A tiny axial series (4 x 4, 1 mm); returns its SeriesInstanceUID."""
    series_uid = generate_uid()
    for k in range(slices):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.FrameOfReferenceUID = frame_uid
        ds.Modality = "CT"
        ds.SeriesDescription = description
        ds.SeriesNumber = series_number
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [0.0, 0.0, float(k)]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [1.0, 1.0]
        ds.Rows = ds.Columns = 4
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        if phase_pct is not None:
            ds.NominalPercentageOfCardiacPhase = phase_pct
        ds.PixelData = np.full((4, 4), 1024 + series_number, dtype=np.uint16).tobytes()
        ds.save_as(folder / f"s{series_number:02d}_{k}.dcm", enforce_file_format=True)
    return series_uid


@pytest.mark.parametrize(
    ("tag_pct", "description", "expected"),
    [
        (40.0, "Cardiac 40%", (40.0, "header")),
        (None, "Cardiac 70%", (70.0, "description")),
        (75.0, "Cardiac 70%", (75.0, "header")),  # the header wins over the description
        (None, "CTA 0.6 mm", (None, None)),
        (None, "0-90% 10 phases", (None, None)),  # a range names no single phase
    ],
)
def test_phase_and_its_source(
    tmp_path: Path,
    tag_pct: float | None,
    description: str,
    expected: tuple[float | None, str | None],
) -> None:
    _write_series(tmp_path, description=description, series_number=1, phase_pct=tag_pct)
    summary = scan(tmp_path).series[0]
    assert (summary.cardiac_phase_pct, summary.cardiac_phase_source) == expected
    entry = scan(tmp_path).to_info_dict()["series"][0]
    assert (entry["cardiac_phase_pct"], entry["cardiac_phase_source"]) == expected


def test_phases_are_ordered_by_percent_not_series_number(tmp_path: Path) -> None:
    # SeriesNumber runs against the phase, and one phase is named by its description only.
    uids = {
        pct: _write_series(tmp_path, description=desc, series_number=number, phase_pct=tag)
        for pct, desc, number, tag in (
            (70.0, "Cardiac 70%", 3, 70.0),
            (40.0, "Cardiac 40%", 5, None),
            (10.0, "Cardiac 10%", 9, 10.0),
        )
    }
    unknown = _write_series(tmp_path, description="CTA", series_number=1, frame_uid="9.9")
    series = scan(tmp_path).series
    # The unknown-phase series ties on size and has the lowest SeriesNumber: it keeps first place;
    # the three phases follow as one block, 10 % first.
    assert [s.id for s in series] == [unknown, uids[10.0], uids[40.0], uids[70.0]]
    assert [s.cardiac_phase_source for s in series] == [None, "header", "description", "header"]


def test_larger_series_still_loads_by_default(tmp_path: Path) -> None:
    small = _write_series(tmp_path, description="Cardiac 10%", series_number=1, phase_pct=10.0)
    large = _write_series(
        tmp_path, description="Cardiac 70%", series_number=2, phase_pct=70.0, slices=5
    )
    series = scan(tmp_path).series
    assert [s.id for s in series] == [large, small]  # more images first, whatever the phase
    assert load(tmp_path).metadata["cardiac_phase_pct"] == 70.0


# --- loading one phase --------------------------------------------------------------------------


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Record the files ``loader.<name>`` is called with (the real function still runs)."""
    real: Callable[..., Any] = getattr(loader, name)
    seen: list[str] = []

    def spy(source: Any, *rest: Any) -> Any:
        seen.append(Path(source.display).name)
        return real(source, *rest)

    monkeypatch.setattr(loader, name, spy)
    return seen


def test_loading_one_phase_reads_only_its_files(
    study: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listed = json.loads((study / "truth.json").read_text())["cardiac_phases"]
    wanted = listed[1]  # 33.33 %
    fast = _spy(monkeypatch, "read_native_header")
    full = _spy(monkeypatch, "read_frames")
    vol = load(study, series=wanted["series_instance_uid"])
    assert vol.metadata["cardiac_phase_pct"] == THREE_PHASES[1]
    assert vol.series_instance_uid == wanted["series_instance_uid"]
    assert vol.description == "Cardiac 33.33%"
    assert {Path(p).name[:5] for p in vol.source_paths} == {wanted["file_prefix"]}
    assert len(vol.source_paths) == SMALL_SLICES
    # Headers parsed: this phase's files and the two non-DICOM files (truth, landmarks) only.
    parsed = {n for n in fast + full if n.endswith(".dcm")}
    assert parsed == {Path(p).name for p in vol.source_paths}
    # Same anatomy in every phase: the voxels and geometry of the single-phase phantom.
    case = make_case("tavr-contrast", seed=SEED)
    assert vol.shape == case.volume.shape
    assert np.array_equal(vol.hu, case.volume.hu)
    assert np.allclose(vol.affine, case.volume.affine, atol=1e-6)


def test_load_scanned_picks_the_same_phase(study: Path) -> None:
    result = scan(study)
    last = result.series[-1]
    vol = load_scanned(result, last.id)
    assert vol.metadata["cardiac_phase_pct"] == THREE_PHASES[2]
    assert vol.metadata["series_id"] == last.id
    assert np.array_equal(vol.hu, load(study, series=last.id).hu)


def test_default_load_is_the_first_phase(study: Path) -> None:
    vol = load(study)
    assert vol.metadata["cardiac_phase_pct"] == 0.0
    assert "then the first cardiac phase (0%)" in vol.warnings[0]


def test_unknown_series_still_lists_every_phase(study: Path) -> None:
    from annulusview.core.errors import SeriesNotFoundError

    with pytest.raises(SeriesNotFoundError) as err:
        load(study, series="1.2.3.999")
    for p in json.loads((study / "truth.json").read_text())["cardiac_phases"]:
        assert p["series_instance_uid"] in str(err.value)


def test_other_series_files_are_told_apart_safely(study: Path, tmp_path: Path) -> None:
    sources, _ = list_sources(study / "dicom")
    source = sources[0]
    own = str(pydicom.dcmread(source.path, stop_before_pixels=True).SeriesInstanceUID)
    other = json.loads((study / "truth.json").read_text())["cardiac_phases"][2]
    assert own != other["series_instance_uid"]
    assert not_in_series(source, other["series_instance_uid"])
    assert not not_in_series(source, own)
    assert not not_in_series(source, own[:-3])  # its characters appear: read it in full
    # When the header cannot be shown to end where the pixels run to the end of the file
    # (trailing bytes here, or no DICM preamble), nothing is skipped.
    padded = tmp_path / "padded.dcm"
    padded.write_bytes(source.path.read_bytes() + b"\0\0")
    (tmp_path / "x.dcm").write_bytes(b"\0" * 200)
    extra, _ = list_sources(tmp_path)
    assert {Path(s.display).name for s in extra} == {"padded.dcm", "x.dcm"}
    assert not any(not_in_series(s, other["series_instance_uid"]) for s in extra)
