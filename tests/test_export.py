"""Exports (issue 5): de-identification, screenshots, PDF report, meshes, DICOM SEG/SR, bad output.

Every format is produced from a small phantom written as DICOM with a set patient identity
(PHANTOM^DEMO / AV-PHANTOM-001 / 19500101 / ACC0001), read back, and scanned for that identity.
"""

from __future__ import annotations

import errno
import re
from pathlib import Path

import numpy as np
import pytest

from annulusview.cli import main
from annulusview.core.errors import OutputError
from annulusview.core.outputs.deid import case_identity, deidentify_dataset, volume_identity
from export_helpers import assert_no_identity, pdf_all_bytes, pdf_text, png_chunks

# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def case_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from annulusview.phantom.dicom import write_case

    return write_case(
        tmp_path_factory.mktemp("exp") / "case", "tavr-contrast", seed=0, size="small"
    )


@pytest.fixture(scope="module")
def loaded(case_dir: Path):
    import annulusview as av

    volume = av.load(case_dir / "dicom")
    landmarks = av.read_landmarks(case_dir / "landmarks.mrk.json")
    return volume, landmarks, av.analyze(volume, landmarks)


def _cli(case_dir: Path, command: str, *extra: str) -> int:
    return main(
        [
            command,
            str(case_dir / "dicom"),
            "--landmarks",
            str(case_dir / "landmarks.mrk.json"),
            *extra,
        ]
    )


# --- 1. de-identification -----------------------------------------------------------------------


def test_case_label_is_a_hash_of_the_study_uid_and_hides_identity(loaded) -> None:
    volume, _, _ = loaded
    ident = volume_identity(volume)
    assert re.fullmatch(r"Case AV-[0-9A-F]{8}", ident.label)
    assert ident.display_lines() == [ident.label]
    assert volume.metadata["study_instance_uid"] not in ident.label
    shown = volume_identity(volume, show_identity=True).display_lines()
    assert shown[0] == ident.label and "PHANTOM DEMO" in shown[1] and "AV-PHANTOM-001" in shown[1]
    # the label is stable and depends on the study only
    assert (
        case_identity({"study_instance_uid": "1.2.3"}).code
        == case_identity({"study_instance_uid": "1.2.3", "patient_name": "X"}).code
    )


def test_deidentify_dataset_keeps_uids() -> None:
    from pydicom.dataset import Dataset

    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = "PHANTOM^DEMO", "AV-PHANTOM-001", "19500101"
    ds.AccessionNumber, ds.StudyInstanceUID = "ACC0001", "1.2.3.4"
    ident = case_identity({"study_instance_uid": "1.2.3.4"})
    deidentify_dataset(ds, ident)
    assert ds.PatientName == ident.code and ds.PatientID == ident.code
    assert ds.PatientBirthDate == "" and ds.AccessionNumber == ""
    assert ds.StudyInstanceUID == "1.2.3.4" and ds.PatientIdentityRemoved == "YES"


# --- 2. screenshots -----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["3d", "annulus", "lvot", "axial", "coronal", "sagittal"])
def test_screenshot_every_view(case_dir, tmp_path, artifacts_dir, view) -> None:
    from PIL import Image

    out = tmp_path / f"{view}.png"
    assert _cli(case_dir, "screenshot", "--out", str(out), "--view", view, "--size", "960x540") == 0
    data = out.read_bytes()
    assert_no_identity(data, out.name)
    assert set(png_chunks(data)) <= {"IHDR", "IDAT", "IEND"}  # no text chunks at all
    (artifacts_dir / f"export-{view}.png").write_bytes(data)
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert img.shape == (540, 960, 3)
    h, w, _ = img.shape
    # disclaimer strip along the bottom: text pixels, bright on dark
    strip = img[h - 16 :, w // 4 : 3 * w // 4]
    assert (strip.max(axis=2) > 150).mean() > 0.01
    # legend (bottom centre) holds the bright yellow 0 mm end of the colour map
    legend = img[h - 60 : h - 16, int(0.3 * w) : int(0.7 * w)]
    assert ((legend[..., 0] > 200) & (legend[..., 1] > 180) & (legend[..., 2] < 120)).sum() > 30
    # a raised-flag badge (high = #CC3311) in the right half
    badge = img[:, w // 2 :]
    red = (abs(badge[..., 0] - 0xCC) < 20) & (abs(badge[..., 1] - 0x33) < 20) & (badge[..., 2] < 60)
    assert red.sum() > 200


def test_screenshot_3d_shows_lesion_colours_and_scale(case_dir, loaded, tmp_path) -> None:
    """--scale 2 doubles the size; calcium colours of the lesions appear in the 3D picture."""
    from PIL import Image

    from annulusview.scene.annotate import distance_color

    out = tmp_path / "3d.png"
    assert _cli(case_dir, "screenshot", "--out", str(out), "--size", "640x360", "--scale", "2") == 0
    img = np.asarray(Image.open(out).convert("RGB")).astype(int)
    assert img.shape == (720, 1280, 3)
    _, _, results = loaded
    centre = img[100:560, 300:980]
    for lesion in results.lesions:
        target = np.array(distance_color(lesion.distance_to_conduction_mm)) * 255
        close = np.abs(centre - target).max(axis=2) < 60
        assert close.sum() > 20, f"lesion {lesion.id} colour not found"


def test_screenshot_show_identity_is_opt_in(case_dir, tmp_path) -> None:
    from annulusview.core.outputs.deid import CaseIdentity
    from annulusview.scene.annotate import ViewInfo, add_annotations
    from annulusview.scene.render import offscreen_plotter

    plotter = offscreen_plotter((640, 360))
    try:
        add_annotations(
            plotter, None, CaseIdentity("AV-1", True, "PHANTOM^DEMO", "X1"), ViewInfo("3d", "t")
        )
        texts = [a.GetInput() for a in plotter.renderer.actors.values() if hasattr(a, "GetInput")]
    finally:
        plotter.close()
    assert any("PHANTOM DEMO" in t and "ID X1" in t for t in texts)
    assert (
        _cli(
            case_dir,
            "screenshot",
            "--out",
            str(tmp_path / "a.png"),
            "--size",
            "320x180",
            "--show-identity",
        )
        == 0
    )


# --- 3. PDF report ------------------------------------------------------------------------------


def test_report_pdf(case_dir, loaded, tmp_path, artifacts_dir) -> None:
    out = tmp_path / "report.pdf"
    assert _cli(case_dir, "report", "--out", str(out)) == 0
    data = out.read_bytes()
    (artifacts_dir / "export-report.pdf").write_bytes(data)
    assert data.startswith(b"%PDF")
    assert_no_identity(pdf_all_bytes(data), "report.pdf")
    text = pdf_text(data)
    _, _, results = loaded
    res = results.to_dict()
    assert f"{res['annulus']['area_mm2']:.1f} mm²" in text
    assert f"{res['annulus']['perimeter_mm']:.1f} mm" in text
    for flag in results.raised_flags:
        assert flag.id in text
    # the heart-team numbers: coronary table and the two C-arm views with their angles
    assert "Coronary arteries" in text and "C-arm views" in text
    for view in ("three_cusp", "cusp_overlap"):
        assert res["fluoroscopy"][view]["label"] in text
    pages = len(re.findall(rb"/Type /Page\b", data))
    # heart-team page, pictures, calcium, rules with their evidence cards, parameters: 4 A4
    # pages at most (issue 11)
    assert 1 <= pages <= 4
    assert text.count("Decision support for procedural planning") == pages  # every page
    label = volume_identity(loaded[0]).label
    assert f"/Title ({label})".encode() in data
    assert len(re.findall(rb"/Subtype /Image", pdf_all_bytes(data))) >= 3


def test_report_with_valve_fits_four_pages(case_dir, tmp_path) -> None:
    """A planned valve makes the most rules say something (both coronary rules met, oversizing
    judged): still at most 4 A4 pages, and the two coronary rules, which rest on one body of
    evidence, share one evidence card."""
    out = tmp_path / "valve.pdf"
    assert _cli(case_dir, "report", "--valve", "sapien3:26", "--out", str(out)) == 0
    data = out.read_bytes()
    pages = len(re.findall(rb"/Type /Page\b", data))
    assert 1 <= pages <= 4
    text = pdf_text(data)
    assert text.count("Decision support for procedural planning") == pages
    assert "(coronary.obstruction_LCA, coronary.obstruction_RCA)" in " ".join(text.split())
    cards = re.findall(r"Ribeiro HB et al\. 2013; card (\d+)", " ".join(text.split()))
    assert len(cards) == 2 and cards[0] == cards[1], cards


def test_report_uncompressed_mode_and_identity_opt_in(loaded) -> None:
    from annulusview.core.outputs.pdf_report import build_report_pdf

    volume, _, results = loaded
    plain = build_report_pdf(results, volume_identity(volume), compress=False)
    assert b"Decision support" in plain  # readable without inflating
    assert_no_identity(plain, "uncompressed report")
    shown = build_report_pdf(results, volume_identity(volume, True), compress=False)
    assert b"AV-PHANTOM-001" in shown
    assert b"/Title (Case AV-" in shown  # the title never carries the identity


def test_report_mitral_section_matches_mac_truth() -> None:
    """On the MAC phantom the report states the MAC CT score and grade of the truth."""
    from annulusview.core.analysis import analyze
    from annulusview.core.outputs.pdf_report import build_report_pdf
    from annulusview.phantom import make_case

    case = make_case("mac")
    results = analyze(case.volume, case.landmarks)
    text = pdf_text(build_report_pdf(results, volume_identity(case.volume), compress=False))
    score = case.truth["mitral"]["mac"]["score"]
    assert "Mitral annulus, MAC and neo-LVOT" in text
    assert f"{score['total']} ({score['grade']})" in text


# --- 4. meshes ----------------------------------------------------------------------------------


def test_meshes_stl_ply(case_dir, loaded, tmp_path) -> None:
    import pyvista as pv

    stl, ply, folder = tmp_path / "ca.stl", tmp_path / "ca.ply", tmp_path / "meshes"
    args = ["--stl", str(stl), "--ply", str(ply), "--meshes-dir", str(folder)]
    assert _cli(case_dir, "export", *args) == 0
    _, _, results = loaded
    total = sum(les.volume_mm3 for les in results.lesions)
    for path in (stl, ply):
        mesh = pv.read(path)
        assert_no_identity(path.read_bytes(), path.name)
        assert mesh.volume == pytest.approx(total, rel=0.15)
        # LPS mm: the mesh sits around the lesion centroids
        centroids = np.array([les.centroid_lps for les in results.lesions])
        assert np.all(mesh.bounds[::2] <= centroids.min(axis=0) + 1e-6)
    for lesion in results.lesions:
        mesh = pv.read(folder / f"calcium_lesion_{lesion.id:02d}.stl")
        assert mesh.is_manifold
        assert mesh.volume == pytest.approx(lesion.volume_mm3, rel=0.15)
        assert np.linalg.norm(np.array(mesh.center_of_mass()) - lesion.centroid_lps) < 1.0
    assert (folder / "region_lvot.ply").exists() and (folder / "region_conduction.stl").exists()


# --- 5. DICOM SEG and SR ------------------------------------------------------------------------


def test_dicom_seg_and_sr(case_dir, loaded, tmp_path) -> None:
    import highdicom as hd
    import pydicom

    seg_path, sr_path = tmp_path / "seg.dcm", tmp_path / "sr.dcm"
    assert _cli(case_dir, "export", "--seg", str(seg_path), "--sr", str(sr_path)) == 0
    volume, _, results = loaded
    source = pydicom.dcmread(volume.source_paths[0], stop_before_pixels=True)
    for path in (seg_path, sr_path):
        assert_no_identity(path.read_bytes(), path.name)
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == source.StudyInstanceUID
        assert ds.PatientID.startswith("AV-") and ds.PatientBirthDate == ""

    # SEG: frames equal the lesion mask, coded per DCMQI conventions
    labels = results.lesion_label_volume(volume.shape)
    for lesion in results.lesions:
        assert (labels == lesion.id).sum() == lesion.voxel_count
    seg = hd.seg.segread(seg_path)
    desc = seg.SegmentSequence[0]
    assert desc.SegmentLabel == "Calcium"
    assert desc.SegmentedPropertyCategoryCodeSequence[0].CodeValue == "49755003"
    assert desc.SegmentedPropertyTypeCodeSequence[0].CodeValue == "18115005"
    assert desc.SegmentAlgorithmType == "SEMIAUTOMATIC"
    assert seg.FrameOfReferenceUID == source.FrameOfReferenceUID
    uids = list(volume.metadata["sop_instance_uids"])
    got = seg.get_pixels_by_source_instance(
        source_sop_instance_uids=uids, segment_numbers=[1], ignore_spatial_locations=True
    )[..., 0]
    assert np.array_equal(got.astype(bool), labels > 0)

    # SR: values equal the results JSON
    sr = hd.sr.srread(sr_path)
    res = results.to_dict()
    values: dict[str, list[float]] = {}

    def walk(items, site=None):
        for item in items:
            if item.ValueType == "NUM":
                name = item.ConceptNameCodeSequence[0].meaning
                values.setdefault(name, []).append(
                    float(item.MeasuredValueSequence[0].NumericValue)
                )
            if "ContentSequence" in item:
                walk(item.ContentSequence)

    walk(sr.ContentSequence)
    a = res["annulus"]
    assert values["Perimeter"] == [pytest.approx(a["perimeter_mm"], rel=1e-6)]
    assert values["Area"] == [pytest.approx(a["area_mm2"], rel=1e-6)]
    for key in ("d_min_mm", "d_max_mm", "d_area_mm", "d_perimeter_mm"):
        assert any(v == pytest.approx(a[key], rel=1e-6) for v in values["Diameter"])
    volumes = values["Volume"]
    assert any(v == pytest.approx(res["calcium"]["volume_mm3"], rel=1e-6) for v in volumes)
    assert any(
        v == pytest.approx(res["calcium"]["by_region"]["lvot"]["volume_mm3"], rel=1e-6)
        for v in volumes
    )
    codes = [
        (item.ConceptNameCodeSequence[0].value, item.ConceptCodeSequence[0].meaning)
        for item in sr.ContentSequence[-1].ContentSequence[-1].ContentSequence
        if item.ValueType == "CODE"
    ]
    meanings = {
        ("met", "high"): "Criterion met, high",
        ("met", "moderate"): "Criterion met, moderate",
        ("met", None): "Criterion met",
        ("not_met", None): "Criterion not met",
        ("indeterminate", None): "Indeterminate",
        ("not_assessed", None): "Not assessed",
    }
    assert results.raised_flags
    for flag in results.flags:
        assert (flag.id, meanings[(flag.status, flag.level)]) in codes


def test_seg_per_region(loaded) -> None:
    from annulusview.core.outputs.dicom import build_segmentation

    volume, _, results = loaded
    seg = build_segmentation(volume, results, volume_identity(volume), per_region=True)
    labels = [d.SegmentLabel for d in seg.SegmentSequence]
    assert "Calcium (LVOT)" in labels and "Calcium (Leaflet)" in labels


# --- 6. bad output ------------------------------------------------------------------------------


def test_existing_file_needs_force(case_dir, tmp_path, capsys) -> None:
    out = tmp_path / "x.png"
    out.write_bytes(b"old")
    assert _cli(case_dir, "screenshot", "--out", str(out), "--size", "320x180") == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("annulusview: ") and "--force" in err[-1]
    assert out.read_bytes() == b"old"
    assert _cli(case_dir, "screenshot", "--out", str(out), "--size", "320x180", "--force") == 0
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_unwritable_folder_exit_3(case_dir, tmp_path, capsys, monkeypatch) -> None:
    import os

    import annulusview.core.atomic as atomic

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    if os.geteuid() == 0:
        # root ignores permission bits: make the access check see what a user would see
        real_access = os.access
        monkeypatch.setattr(
            atomic.os,
            "access",
            lambda p, mode: False if Path(p) == folder else real_access(p, mode),
        )
    try:
        for command, name in (("screenshot", "a.png"), ("report", "a.pdf")):
            assert _cli(case_dir, command, "--out", str(folder / name)) == 3
            line = capsys.readouterr().err.strip().splitlines()[-1]
            assert line.startswith("annulusview: ")
        assert _cli(case_dir, "export", "--seg", str(folder / "s.dcm")) == 3
        assert _cli(case_dir, "screenshot", "--out", str(tmp_path / "nope" / "a.png")) == 3
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def _enospc(tmp: Path, *_args) -> None:
    """A writer that fills part of the file, then hits a full disk (simulated: a real full disk
    cannot be made here)."""
    Path(tmp).write_bytes(b"partial")
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize(
    "module, function",
    [
        ("annulusview.scene.views2d", "_write_file"),
        ("annulusview.core.outputs.pdf_report", "_write_file"),
        ("annulusview.core.outputs.dicom", "_write_dataset"),
        ("annulusview.scene.mesh_export", "_write_stl"),
    ],
)
def test_full_disk_leaves_nothing(loaded, tmp_path, monkeypatch, module, function) -> None:
    import importlib

    mod = importlib.import_module(module)
    monkeypatch.setattr(mod, function, _enospc)
    if function == "_write_stl":
        monkeypatch.setitem(mod._WRITERS, "stl", _enospc)
    volume, landmarks, results = loaded
    ident = volume_identity(volume)
    target = tmp_path / "out.bin"
    with pytest.raises(OutputError, match="disk is full"):
        if module.endswith("views2d"):
            from annulusview.scene.state import SceneState

            state = SceneState(volume=volume, results=results, landmarks=landmarks)
            mod.save_view_png(state, target, "axial", (320, 180))
        elif module.endswith("report"):
            mod.write_report_pdf(target, results, ident)
        elif module.endswith(".dicom"):
            mod.write_measurement_report(target, volume, results, ident)
        else:
            mod.write_mesh(target, mod.case_meshes(volume, results).all_calcium(), "stl")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file


def test_cli_full_disk_one_line(case_dir, tmp_path, monkeypatch, capsys) -> None:
    import annulusview.core.outputs.pdf_report as report

    monkeypatch.setattr(report, "_write_file", _enospc)
    assert _cli(case_dir, "report", "--out", str(tmp_path / "r.pdf")) == 3
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert line == f"annulusview: The disk is full while writing {tmp_path / 'r.pdf'}. Free space."
    assert list(tmp_path.iterdir()) == []


# --- identity scan across every output ---------------------------------------------------------


def test_no_identity_in_json_csv(loaded, tmp_path) -> None:
    from annulusview.core.results import write_lesions_csv, write_results_json

    js, csv = tmp_path / "r.json", tmp_path / "l.csv"
    write_results_json(js, loaded[2])
    write_lesions_csv(csv, loaded[2])
    for path in (js, csv):
        assert_no_identity(path.read_bytes(), path.name)
