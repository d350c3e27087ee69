"""First run of the window: maximised then remembered, readable checklist, start page, guide."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget

import annulusview

pytestmark = pytest.mark.gui

LOAD_TIMEOUT_MS = 60000


@pytest.fixture
def fresh_settings_window(qtbot, user_dirs):
    """Make windows sharing one empty QSettings store, as on a first start; closed after."""
    from annulusview.app.application import make_application

    make_application()
    from annulusview.app.main_window import MainWindow

    made = []

    def make():
        window = MainWindow(settings_org="AnnulusViewFirstRunTest", autosave=False)
        qtbot.addWidget(window)
        made.append(window)
        return window

    first = make()
    first.qsettings.clear()
    yield make
    for window in made:
        if not window.closed:
            window.close()
    first.qsettings.clear()


def test_first_start_is_maximised_then_geometry_and_panels_are_restored(
    qtbot, fresh_settings_window
):
    window = fresh_settings_window()
    window.show_on_start()
    qtbot.waitExposed(window)
    assert window.windowState() & Qt.WindowState.WindowMaximized
    available = window.screen().availableGeometry()
    assert window.frameGeometry().width() >= 0.9 * available.width()
    assert window.frameGeometry().height() >= 0.9 * available.height()

    # the user makes it smaller, hides the Analysis panel, then quits
    width = max(1100, window.minimumSizeHint().width() + 20)
    window.showNormal()
    window.resize(width, 700)
    window.move(40, 30)
    window.findChild(QDockWidget, "dock-results").hide()
    qtbot.waitUntil(lambda: window.width() == width)
    window.close()

    again = fresh_settings_window()
    again.show_on_start()
    qtbot.waitExposed(again)
    assert not again.windowState() & Qt.WindowState.WindowMaximized
    assert (again.width(), again.height()) == (width, 700)
    assert not again.findChild(QDockWidget, "dock-results").isVisible()
    assert again.findChild(QDockWidget, "dock-landmarks").isVisible()


def test_landmark_names_are_not_cut(qtbot, main_window, artifacts_dir):
    panel = main_window.landmark_panel
    tree = panel.tree
    qtbot.waitUntil(lambda: tree.isVisible())
    metrics = tree.fontMetrics()
    for name, item in panel.items.items():
        rect = tree.visualItemRect(item)
        assert rect.width() >= metrics.horizontalAdvance(name), name
        assert tree.columnWidth(0) - tree.indentation() * 2 >= metrics.horizontalAdvance(name)
    main_window.findChild(QDockWidget, "dock-landmarks").grab().save(
        str(artifacts_dir / "first-run-landmarks.png")
    )


def test_start_page_until_a_study_opens(qtbot, main_window, tmp_path, artifacts_dir):
    window = main_window
    page = window.start_page
    assert window.showing_start_page()
    assert page.isVisible() and not window.viewer3d.isVisible()
    assert annulusview.DISCLAIMER in page.how_to.text()
    assert "How to read a case" in page.how_to.text()
    labels = [b.text() for b in (page.open_button, page.open_file_button, page.demo_button)]
    assert labels == ["Open study folder…", "Open zip or NIfTI file…", "Open demo case"]

    window.qsettings.setValue("recent", [str(tmp_path / "old-study")])
    window.rebuild_recent()
    assert page.recent_list.item(0).text() == str(tmp_path / "old-study")
    window.grab().save(str(artifacts_dir / "first-run-start-page.png"))

    # a study that fails to open leaves the start page in place
    empty = tmp_path / "empty"
    empty.mkdir()
    window.open_path(empty)
    qtbot.waitUntil(lambda: window.last_message is not None, timeout=LOAD_TIMEOUT_MS)
    window.last_message.close()
    assert window.showing_start_page()

    # Open demo case: the views replace the start page, the demo loads and is analysed
    qtbot.mouseClick(page.demo_button, Qt.MouseButton.LeftButton)
    assert not window.showing_start_page()
    qtbot.waitUntil(lambda: window.volume is not None, timeout=LOAD_TIMEOUT_MS)
    qtbot.waitUntil(lambda: window.results is not None, timeout=LOAD_TIMEOUT_MS)
    assert window.viewer3d.isVisible()
    assert Path(window.recent_studies()[0]).name == "dicom"
    assert page.recent_list.item(0).text() == window.recent_studies()[0]


def test_help_menu_opens_the_shipped_user_guide(qtbot, main_window):
    window = main_window
    help_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Help")
    guide_action = next(a for a in help_menu.actions() if a.text() == "User guide")
    guide_action.trigger()
    dialog = window.user_guide
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    text = dialog.browser.toPlainText()
    for heading in ("Open a study", "Place or review the landmarks", "flags", "Export"):
        assert heading in text, heading
    assert "not a diagnosis" in text
    source = dialog.browser.source()
    assert source.isLocalFile() and source.toLocalFile().endswith("user-guide.html")
    assert "http" not in Path(source.toLocalFile()).read_text(encoding="utf-8")
    dialog.close()
