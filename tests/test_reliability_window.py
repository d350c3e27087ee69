"""Issue 13, window part: File > Export never writes onto the study or into its folder."""

from __future__ import annotations

import hashlib

import pytest

from annulusview.app import exports
from annulusview.app.messages import message_text

pytestmark = pytest.mark.gui

TIMEOUT_MS = 90000


def _digest(folder):
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_exports_refuse_the_study_folder(qtbot, main_window, phantom_dir):
    runs = main_window.analysis_runs
    study = phantom_dir / "dicom"
    main_window.open_path(study, landmarks=phantom_dir / "landmarks.mrk.json")
    qtbot.waitUntil(lambda: main_window.analysis_runs > runs, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: main_window.results is not None, timeout=TIMEOUT_MS)
    before = _digest(phantom_dir)
    first_slice = sorted(study.iterdir())[0]
    calls = [
        lambda: exports.export_screenshot(
            main_window, first_slice, "axial", (320, 240), overwrite=True
        ),
        lambda: exports.export_report(main_window, study / "r.pdf"),
        lambda: exports.export_results(main_window, study, overwrite=True),
        lambda: exports.export_meshes(main_window, study, overwrite=True),
        lambda: exports.export_dicom(main_window, study / "out", overwrite=True),
    ]
    for call in calls:
        main_window.last_message = None
        assert call() is None
        text = message_text(main_window.last_message)
        assert "inside the study folder" in text and "never modified" in text, text
    assert _digest(phantom_dir) == before
    assert not (study / "out").exists()
