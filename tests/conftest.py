"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Qt and VTK: QtPy (inside pyvistaqt) must pick PySide6; see ../shared/env-notes.md.
os.environ.setdefault("QT_API", "pyside6")

ARTIFACTS = Path(__file__).resolve().parent / "_artifacts"


# --- GUI and scene fixtures -------------------------------------------------------------------


@pytest.fixture(scope="session")
def phantom_case():
    """The small tavr-contrast phantom in memory (volume, landmarks, truth)."""
    from annulusview.phantom import make_case

    return make_case("tavr-contrast", seed=0, size="small")


@pytest.fixture(scope="session")
def phantom_results(phantom_case):
    """The real analysis of :func:`phantom_case`."""
    from annulusview.core.analysis import analyze

    return analyze(phantom_case.volume, phantom_case.landmarks)


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small tavr-contrast phantom written as DICOM (``dicom/``, ``landmarks.mrk.json``)."""
    from annulusview.phantom.dicom import write_case

    return write_case(
        tmp_path_factory.mktemp("gui") / "case", "tavr-contrast", seed=0, size="small"
    )


@pytest.fixture(scope="session")
def two_series_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A study folder holding two CT series (two phantom seeds)."""
    from annulusview.phantom.dicom import write_case

    root = tmp_path_factory.mktemp("study2")
    write_case(root / "a", "tavr-contrast", seed=0, size="small")
    write_case(root / "b", "tavr-contrast", seed=1, size="small")
    return root


@pytest.fixture
def artifacts_dir() -> Path:
    """tests/_artifacts (gitignored): screenshots the tests make, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the user's data and log folders (platformdirs) at a temporary folder."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def _shown_window(qtbot, org: str, auto_propose: bool):
    """A fresh main window (autosave off, its own QSettings), shown and exposed."""
    from annulusview.app.application import make_application

    make_application()
    from annulusview.app.main_window import MainWindow

    window = MainWindow(settings_org=org, autosave=False, auto_propose=auto_propose)
    window.qsettings.clear()
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def main_window(qtbot, user_dirs):
    """A fresh main window, closed after the test. No automatic proposal on open: tests that
    place landmarks by hand start from none (see :func:`proposing_window`)."""
    window = _shown_window(qtbot, "AnnulusViewTest", auto_propose=False)
    yield window
    window.close()


@pytest.fixture
def proposing_window(qtbot, user_dirs):
    """A main window that proposes the aortic landmarks when a study opens without them."""
    window = _shown_window(qtbot, "AnnulusViewReviewTest", auto_propose=True)
    yield window
    window.close()
