"""The window's menus, toolbar and shortcuts, built from the window's public methods.

Kept apart from :mod:`annulusview.app.main_window` so the window class holds behaviour, not the
long list of menu entries; the mitral part adds its own entries with :func:`make_action`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from annulusview.app.export_dialog import install_export_actions
from annulusview.app.session import log_dir
from annulusview.scene.state import SceneToggles

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow


def make_action(
    parent: QWidget, text: str, slot: Any, shortcut: Any = None, checkable: bool = False
) -> QAction:
    """A ``QAction`` on ``parent`` (so its shortcut works anywhere in the window)."""
    action = QAction(text, parent)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    parent.addAction(action)
    return action


def build_menus(window: MainWindow) -> None:
    """File, Edit, View and Help menus and the View toolbar of ``window``."""
    editor = window.landmark_editor
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(
        make_action(
            window, "Open folder…", window.open_folder_dialog, QKeySequence.StandardKey.Open
        )
    )
    file_menu.addAction(
        make_action(window, "Open zip or NIfTI file…", window.open_file_dialog, "Ctrl+Shift+O")
    )
    file_menu.addAction(make_action(window, "Open demo case", window.open_demo, None))
    window.recent_menu = file_menu.addMenu("Recent studies")
    window.rebuild_recent()
    file_menu.addSeparator()
    file_menu.addAction(
        make_action(window, "Open session…", window.sessions.open_dialog, "Ctrl+Alt+O")
    )
    file_menu.addAction(
        make_action(
            window, "Save session…", window.sessions.save_dialog, QKeySequence.StandardKey.Save
        )
    )
    file_menu.addSeparator()
    file_menu.addAction(
        make_action(window, "Import landmarks…", editor.import_landmarks_dialog, "Ctrl+I")
    )
    file_menu.addAction(
        make_action(window, "Export landmarks…", editor.export_landmarks_dialog, "Ctrl+E")
    )
    install_export_actions(window)  # File > Export (app/exports.py)
    file_menu.addSeparator()
    file_menu.addAction(make_action(window, "Quit", window.close, QKeySequence.StandardKey.Quit))

    edit = bar.addMenu("&Edit")
    undo = window.undo_stack.createUndoAction(window, "Undo")
    undo.setShortcut(QKeySequence.StandardKey.Undo)
    redo = window.undo_stack.createRedoAction(window, "Redo")
    redo.setShortcut(QKeySequence.StandardKey.Redo)
    edit.addAction(undo)
    edit.addAction(redo)
    edit.addSeparator()
    edit.addAction(make_action(window, "Place selected landmark", editor.place_selected, "P"))
    edit.addAction(
        make_action(
            window,
            "Delete selected landmark",
            editor.delete_selected,
            QKeySequence.StandardKey.Delete,
        )
    )
    edit.addAction(make_action(window, "Stop placing", editor.stop_placing, "Esc"))
    edit.addAction(
        make_action(
            window, "Propose aortic landmarks", lambda: window.review.propose(explicit=True)
        )
    )
    edit.addAction(make_action(window, "Accept proposed landmark", window.review.accept_current))
    edit.addSeparator()
    edit.addAction(make_action(window, "Analysis settings…", window.open_settings, "Ctrl+,"))
    edit.addAction(make_action(window, "Run analysis now", window.run_analysis, "F5"))

    view = bar.addMenu("&View")
    tools = window.addToolBar("View")
    tools.setObjectName("toolbar-view")
    tools.addWidget(QLabel(" Window "))
    window.window_box = QComboBox()
    window.window_box.setObjectName("window-preset")
    for n, (name, width, level) in enumerate(window.presets):
        window.window_box.addItem(f"{name} (W{width:.0f}/L{level:.0f})")
        view.addAction(
            make_action(
                window,
                f"Window: {name}",
                lambda _=False, i=n: window.apply_window_preset(i),
                str(n + 1),
            )
        )
    window.window_box.activated.connect(window.apply_window_preset)
    tools.addWidget(window.window_box)
    tools.addSeparator()
    tools.addWidget(QLabel(" Colour calcium by "))
    window.color_box = QComboBox()
    window.color_box.setObjectName("color-by")
    window.color_box.addItem("distance to conduction zone", "conduction")
    window.color_box.addItem("distance to LVOT", "lvot")
    window.color_box.activated.connect(
        lambda _: window.set_color_by(window.color_box.currentData())
    )
    tools.addWidget(window.color_box)
    tools.addSeparator()
    window.toggle_actions: dict[str, QAction] = {}
    toggles = (
        ("calcium", "Calcium", "C"),
        ("annulus", "Annulus", "A"),
        ("lvot", "LVOT", "L"),
        ("conduction", "Conduction zone", "Z"),
        ("landmarks", "Landmarks", None),
        ("distance_lines", "Distances", "D"),
        ("lumen_volume", "Lumen (volume)", "V"),
        ("lumen_surface", "Lumen (surface)", "U"),
        ("teaching", "Teaching", "T"),
    )
    defaults = SceneToggles()
    for key, text, shortcut in toggles:
        act = make_action(
            window, text, lambda _=False: window.refresh_scene(), shortcut, checkable=True
        )
        act.setChecked(getattr(defaults, key))
        window.toggle_actions[key] = act
        tools.addAction(act)
        view.addAction(act)
    view.addSeparator()
    view.addAction(
        make_action(window, "Reset 3D camera", lambda: window.viewer3d.set_preset("front"), "R")
    )
    help_menu = bar.addMenu("&Help")
    help_menu.addAction(
        make_action(
            window, "User guide", window.open_user_guide, QKeySequence.StandardKey.HelpContents
        )
    )
    help_menu.addAction(make_action(window, "Skipped files…", window.show_skipped, None))
    help_menu.addAction(
        make_action(
            window,
            "Show log folder",
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(log_dir()))),
            None,
        )
    )
    help_menu.addAction(make_action(window, "About", window.show_about, None))
