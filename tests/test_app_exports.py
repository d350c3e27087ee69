"""File > Export in the window (issue 5), driven under Xvfb as a user would.

The phantom DICOM carries a patient identity (PHANTOM^DEMO / AV-PHANTOM-001): every export is
scanned for it, and every window picture is compared with what ``annulusview screenshot``
writes for the same case and view.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtWidgets import QMessageBox

from annulusview.app import export_dialog, exports
from annulusview.app.messages import message_text
from annulusview.cli import main
from annulusview.core.outputs.deid import volume_identity
from export_helpers import assert_no_identity, pdf_all_bytes, pdf_text, png_chunks

pytestmark = pytest.mark.gui

TIMEOUT_MS = 90000
SMALL = (960, 540)


# --- helpers -----------------------------------------------------------------------------------


@pytest.fixture
def window(qtbot, main_window, phantom_dir):
    """The main window with the DICOM phantom open and analysed."""
    runs = main_window.analysis_runs
    main_window.open_path(phantom_dir / "dicom", landmarks=phantom_dir / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: main_window.analysis_runs > runs, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: main_window.results is not None, timeout=TIMEOUT_MS)
    return main_window


def _wait(qtbot, job) -> list[Path]:
    assert job is not None, "the export was refused"
    qtbot.waitUntil(lambda: job.done, timeout=TIMEOUT_MS)
    assert job.error is None, f"export failed: {job.error!r}"
    return job.written


def _read_png(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _headless(phantom_dir: Path, out: Path, view: str, size: tuple[int, int], *extra: str):
    args = [
        "screenshot",
        str(phantom_dir / "dicom"),
        "--landmarks",
        str(phantom_dir / "landmarks.mrk.json"),
        "--out",
        str(out),
        "--view",
        view,
        "--size",
        f"{size[0]}x{size[1]}",
        *extra,
    ]
    assert main(args) == 0
    return _read_png(out)


def _toggles_as_the_command_line(window) -> None:
    """Tick the 3D layers as the command line draws them (the window also starts with its
    Mitral and Virtual valve layers on), the way a user would: with the toolbar actions."""
    from annulusview.scene.state import SceneToggles

    defaults = SceneToggles()
    for key, action in window.toggle_actions.items():
        action.setChecked(getattr(defaults, key))
    window.refresh_scene()


def _unwritable(monkeypatch, folder: Path) -> None:
    """Make ``folder`` unwritable the way a user would see it (tests run as root, which ignores
    permission bits, so the access check is told too)."""
    import annulusview.core.atomic as atomic

    folder.chmod(0o500)
    if os.geteuid() == 0:
        real_access = os.access
        monkeypatch.setattr(
            atomic.os,
            "access",
            lambda p, mode: False if Path(p) == folder else real_access(p, mode),
        )


# --- screenshots -------------------------------------------------------------------------------


def test_screenshot_can_use_the_current_3d_camera(qtbot, window, tmp_path, artifacts_dir):
    """Ticked, the 3D picture is drawn from the window's rotated camera; unticked, the preset."""
    from annulusview.scene.views2d import render_image

    plotter = window.viewer3d.plotter
    plotter.camera.azimuth = 90.0  # the user rotates the 3D view a quarter turn
    plotter.render()
    rotated = tuple(tuple(float(v) for v in row) for row in plotter.camera_position)
    preset_png, current_png = tmp_path / "preset.png", tmp_path / "current.png"
    _wait(qtbot, exports.export_screenshot(window, preset_png, "3d", SMALL))
    _wait(qtbot, exports.export_screenshot(window, current_png, "3d", SMALL, current_camera=True))
    (artifacts_dir / "window-export-3d-current-camera.png").write_bytes(current_png.read_bytes())
    preset, current = _read_png(preset_png), _read_png(current_png)
    assert (np.abs(preset - current).max(axis=2) > 40).mean() > 0.01  # a different picture
    # ... and it is the scene function's picture from exactly that camera
    state = exports.scene_snapshot(window)
    identity = volume_identity(window.volume)
    want = render_image(state, "3d", SMALL, 1, identity, camera=rotated).astype(int)
    diff = np.abs(current - want).max(axis=2)
    assert (diff > 40).mean() < 0.002


@pytest.mark.parametrize("view", ["3d", "annulus", "lvot", "axial", "coronal", "sagittal"])
def test_screenshot_equals_the_headless_command(
    qtbot, window, phantom_dir, tmp_path, artifacts_dir, view
):
    if view == "3d":
        # the export shows the window's layers: with the mitral ones on, not the CLI picture
        mitral = tmp_path / "window-3d-mitral.png"
        _wait(qtbot, exports.export_screenshot(window, mitral, view, SMALL))
        (artifacts_dir / "window-export-3d-mitral-layers.png").write_bytes(mitral.read_bytes())
        with_mitral = _read_png(mitral)
    _toggles_as_the_command_line(window)
    out = tmp_path / f"window-{view}.png"
    job = exports.export_screenshot(window, out, view, SMALL)
    assert _wait(qtbot, job) == [out]
    assert window.export_job is job and "written" in window.status_label.text()
    data = out.read_bytes()
    assert_no_identity(data, out.name)
    assert set(png_chunks(data)) <= {"IHDR", "IDAT", "IEND"}
    (artifacts_dir / f"window-export-{view}.png").write_bytes(data)
    got = _read_png(out)
    assert got.shape == (SMALL[1], SMALL[0], 3)
    want = _headless(phantom_dir, tmp_path / f"cli-{view}.png", view, SMALL)
    diff = np.abs(got - want).max(axis=2)
    # the same scene function on the same data: equal up to a few antialiased edge pixels
    assert (diff > 40).mean() < 0.002, f"{view}: {(diff > 40).mean():.4f} of pixels differ"
    assert diff.mean() < 1.0
    assert got.std() > 10  # not blank
    if view == "3d":
        assert (np.abs(with_mitral - want).max(axis=2) > 40).mean() > 0.01


def test_screenshot_default_size_and_2x(qtbot, window, tmp_path, artifacts_dir):
    big = tmp_path / "3d-default.png"
    _wait(qtbot, exports.export_screenshot(window, big))
    assert _read_png(big).shape == (1080, 1920, 3)
    (artifacts_dir / "window-export-3d-1920x1080.png").write_bytes(big.read_bytes())
    double = tmp_path / "axial-2x.png"
    _wait(qtbot, exports.export_screenshot(window, double, "axial", (640, 360), scale=2))
    assert _read_png(double).shape == (720, 1280, 3)


def test_identity_only_when_ticked(qtbot, window, tmp_path, monkeypatch, artifacts_dir):
    from annulusview.scene import annotate

    shown: list[list[str]] = []
    real = annotate.add_annotations

    def spy(plotter, results, identity, view):
        shown.append(identity.display_lines())
        return real(plotter, results, identity, view)

    monkeypatch.setattr(annotate, "add_annotations", spy)
    plain, named = tmp_path / "plain.png", tmp_path / "named.png"
    _wait(qtbot, exports.export_screenshot(window, plain, "axial", SMALL))
    _wait(qtbot, exports.export_screenshot(window, named, "axial", SMALL, show_identity=True))
    label = volume_identity(window.volume).label
    assert shown[0] == [label]
    assert shown[1][0] == label
    assert "PHANTOM DEMO" in shown[1][1] and "AV-PHANTOM-001" in shown[1][1]
    (artifacts_dir / "window-export-axial-identity.png").write_bytes(named.read_bytes())
    a, b = _read_png(plain), _read_png(named)
    differs = np.abs(a - b).max(axis=2) > 40
    ys, xs = np.nonzero(differs)
    assert len(ys) > 50  # the extra header line
    assert ys.max() < SMALL[1] * 0.25 and xs.max() < SMALL[0] * 0.6  # ... only in the header

    # the dialog: unticked by default, and the tick reaches the options
    dialog = export_dialog.open_export_dialog(window, "screenshot")
    assert dialog is not None and not dialog.identity_box.isChecked()
    qtbot.waitExposed(dialog)
    dialog.grab().save(str(artifacts_dir / "window-export-dialog.png"))
    assert not dialog.options().show_identity
    dialog.identity_box.setChecked(True)
    assert dialog.options().show_identity
    dialog.reject()
    figure = export_dialog.open_export_dialog(window, "figure")
    assert figure is not None and not figure.options().show_identity  # figures: never
    figure.reject()


# --- the 2x2 figure ----------------------------------------------------------------------------


def test_figure_two_by_two(qtbot, window, tmp_path, artifacts_dir):
    out = tmp_path / "figure.png"
    _wait(qtbot, exports.export_figure(window, out))
    data = out.read_bytes()
    (artifacts_dir / "window-export-figure.png").write_bytes(data)
    assert_no_identity(data, out.name)
    img = _read_png(out)
    assert img.shape == (1080, 1920, 3)
    (_, _), (pw, ph), gap, caption = exports.figure_layout((1920, 1080))
    for i in range(4):
        y, x = (i // 2) * (ph + gap), (i % 2) * (pw + gap)
        panel = img[y : y + ph, x : x + pw]
        assert panel.std() > 15, f"panel {i} is blank"
        # each panel keeps its own annotations: the case label box at its top left
        assert (panel[: ph // 6, : pw // 2].max(axis=2) > 200).sum() > 100, f"panel {i}"
    # the caption strip: dark, with a line of bold text and the disclaimer line
    strip = img[1080 - caption :]
    assert np.median(strip) < 40
    bright = strip.max(axis=2) > 150
    assert bright[: caption // 2].mean() > 0.01 and bright[caption // 2 :].mean() > 0.01
    # the disclaimer runs most of the width
    cols = np.nonzero(bright[caption // 2 :].any(axis=0))[0]
    assert cols.max() - cols.min() > 0.5 * 1920


# --- report, results, meshes, DICOM -------------------------------------------------------------


def test_report_results_meshes_dicom(qtbot, window, tmp_path, artifacts_dir):
    import pydicom
    import pyvista as pv

    label = volume_identity(window.volume).label
    res = window.results.to_dict()

    pdf = tmp_path / "report.pdf"
    job = exports.export_report(window, pdf)
    assert job is not None and job.running  # the PDF is written on a worker, with progress
    _wait(qtbot, job)
    data = pdf.read_bytes()
    (artifacts_dir / "window-export-report.pdf").write_bytes(data)
    assert data.startswith(b"%PDF")
    assert_no_identity(pdf_all_bytes(data), pdf.name)
    text = pdf_text(data)
    assert f"{res['annulus']['perimeter_mm']:.1f} mm" in text
    assert f"/Title ({label})".encode() in data

    folder = tmp_path / "results"
    folder.mkdir()
    written = _wait(qtbot, exports.export_results(window, folder))
    assert [p.name for p in written] == ["results.json", "lesions.csv"]
    for path in written:
        assert_no_identity(path.read_bytes(), path.name)
    assert json.loads((folder / "results.json").read_text())["annulus"] == res["annulus"]
    rows = list(csv.DictReader(io.StringIO((folder / "lesions.csv").read_text())))
    assert len(rows) == len(res["lesions"])

    meshes = tmp_path / "meshes"
    meshes.mkdir()
    _wait(qtbot, exports.export_meshes(window, meshes))
    total = sum(les["volume_mm3"] for les in res["lesions"])
    assert pv.read(meshes / "calcium_all.stl").volume == pytest.approx(total, rel=0.15)
    assert (meshes / "calcium_all.ply").stat().st_size > 0
    assert (meshes / "region_lvot.stl").exists() and (meshes / "region_conduction.ply").exists()

    dicom = tmp_path / "dicom"
    dicom.mkdir()
    seg, sr = _wait(qtbot, exports.export_dicom(window, dicom))
    for path in (seg, sr):
        assert_no_identity(path.read_bytes(), path.name)
        ds = pydicom.dcmread(path)
        assert ds.StudyInstanceUID == window.volume.metadata["study_instance_uid"]
        assert ds.PatientID.startswith("AV-")
    assert pydicom.dcmread(seg).Modality == "SEG" and pydicom.dcmread(sr).Modality == "SR"
    # contrast study: the calcium and the root lumen, and nothing said to be left out
    assert len(pydicom.dcmread(seg).SegmentSequence) == 2
    assert "left out" not in window.status_label.text()

    # opted in: the report header names the patient
    named = tmp_path / "named.pdf"
    _wait(qtbot, exports.export_report(window, named, show_identity=True))
    assert b"AV-PHANTOM-001" in pdf_all_bytes(named.read_bytes())


def test_menu_dialog_asks_before_replacing(qtbot, window, tmp_path, artifacts_dir):
    out = tmp_path / "old.png"
    out.write_bytes(b"old")
    titles = [a.text() for a in window.export_menu.actions()]
    assert titles == [
        "Screenshot of a view…",
        "Figure (2x2)…",
        "Report (PDF)…",
        "Results (JSON + CSV)…",
        "Meshes (STL/PLY)…",
        "DICOM SEG + SR…",
    ]

    def fill_and_save() -> None:
        window.export_actions["screenshot"].trigger()
        dialog = window.export_dialog
        assert dialog.isVisible()
        dialog.view_box.setCurrentIndex(dialog.view_box.findData("lvot"))
        dialog.size_box.setCurrentIndex(dialog.size_box.findData("1280x720"))
        dialog.path_edit.setText(str(out))
        dialog.accept()

    fill_and_save()
    box = window.last_message
    assert "exists" in message_text(box) and "Replace" in message_text(box)
    box.button(QMessageBox.StandardButton.No).click()
    qtbot.wait(50)
    assert out.read_bytes() == b"old" and window.export_job is None

    fill_and_save()
    window.last_message.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: window.export_job is not None, timeout=TIMEOUT_MS)
    _wait(qtbot, window.export_job)
    assert _read_png(out).shape == (720, 1280, 3)
    (artifacts_dir / "window-export-dialog-lvot.png").write_bytes(out.read_bytes())

    # a name without a suffix gets one
    window.export_actions["report"].trigger()
    window.export_dialog.path_edit.setText(str(tmp_path / "case report"))
    assert window.export_dialog.options().path == tmp_path / "case report.pdf"
    window.export_dialog.reject()


# --- refusals and failures ----------------------------------------------------------------------


def test_unwritable_folder_is_a_plain_message(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "ro"
    folder.mkdir()
    _unwritable(monkeypatch, folder)
    try:
        calls = [
            lambda: exports.export_screenshot(window, folder / "a.png", "axial", SMALL),
            lambda: exports.export_figure(window, folder / "f.png"),
            lambda: exports.export_report(window, folder / "r.pdf"),
            lambda: exports.export_results(window, folder),
            lambda: exports.export_meshes(window, folder),
            lambda: exports.export_dicom(window, folder),
        ]
        for call in calls:
            window.last_message = None
            assert call() is None
            text = message_text(window.last_message)
            assert f"The folder {folder} is not writable." in text, text
            assert "Traceback" not in text
        assert exports.export_screenshot(window, tmp_path / "nope" / "a.png") is None
        assert "does not exist" in message_text(window.last_message)
    finally:
        folder.chmod(0o700)
    assert list(folder.iterdir()) == []


def test_full_disk_leaves_no_file_and_shows_the_reason(qtbot, window, tmp_path, monkeypatch):
    """A full disk (simulated: the data reaches the temporary file, then ENOSPC)."""
    import errno

    import annulusview.core.atomic as atomic

    def full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", full)
    job = exports.export_screenshot(window, tmp_path / "a.png", "axial", SMALL)
    assert job is not None
    qtbot.waitUntil(lambda: job.done, timeout=TIMEOUT_MS)
    assert job.error is not None
    text = message_text(window.last_message)
    assert text.startswith(f"The disk is full while writing {tmp_path / 'a.png'}.")
    assert list(tmp_path.iterdir()) == []
    assert "not written" in window.status_label.text()


def test_refusals_before_asking(qtbot, main_window, tmp_path):
    import nibabel as nib

    from annulusview.phantom import make_case

    window = main_window
    window.export_actions["screenshot"].trigger()
    assert "No study is open." in message_text(window.last_message)
    assert window.export_dialog is None

    case = make_case("tavr-contrast", seed=0, size="small")
    ras = np.diag([-1.0, -1.0, 1.0, 1.0]) @ case.volume.affine
    nifti = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(case.volume.hu.transpose(2, 1, 0), ras), nifti)
    window.open_path(nifti)
    qtbot.waitUntil(lambda: window.volume is not None, timeout=TIMEOUT_MS)
    window.export_actions["dicom"].trigger()
    text = message_text(window.last_message)
    assert "NIfTI" in text and "DICOM files" in text
    assert window.export_dialog is None
    window.export_actions["report"].trigger()
    assert "no analysis results" in message_text(window.last_message)
    # no hinges yet: the annulus plane cannot be drawn, said in plain words
    assert exports.export_screenshot(window, tmp_path / "a.png", "annulus", SMALL) is None
    assert "three hinge points" in message_text(window.last_message)
    # but an axial picture can
    _wait(qtbot, exports.export_screenshot(window, tmp_path / "ax.png", "axial", SMALL))


def test_dicom_export_says_what_it_left_out(qtbot, main_window, tmp_path):
    """Non-contrast: the SEG holds the calcium only, and the status line says why."""
    import pydicom

    from annulusview.phantom.dicom import write_case

    folder = write_case(tmp_path / "nc", "tavr-noncontrast", 0, "small")
    runs = main_window.analysis_runs
    main_window.open_path(folder / "dicom", landmarks=folder / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: main_window.analysis_runs > runs, timeout=TIMEOUT_MS)
    out = tmp_path / "dicom"
    out.mkdir()
    seg, _ = _wait(qtbot, exports.export_dicom(main_window, out))
    assert len(pydicom.dcmread(seg).SegmentSequence) == 1
    status = main_window.status_label.text()
    assert "written" in status and "root lumen" in status.lower()
