"""Start the Qt application: environment, high DPI, logging to a file, the main window."""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from pathlib import Path

from annulusview.app.session import log_dir

log = logging.getLogger(__name__)


def prepare_environment() -> None:
    """Settings that must be in place before Qt and pyvistaqt are imported."""
    os.environ.setdefault("QT_API", "pyside6")  # QtPy (used by pyvistaqt) must pick PySide6
    os.environ.setdefault("VTK_SMP_BACKEND_IN_USE", "STDThread")


def configure_file_logging(level: int = logging.INFO) -> Path:
    """Log to ``annulusview.log`` in the user's log folder (rotated). Returns the file path."""
    path = log_dir() / "annulusview.log"
    root = logging.getLogger()
    if not any(getattr(h, "baseFilename", None) == str(path) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.setLevel(level)
        root.addHandler(handler)
        if root.level > level or root.level == logging.NOTSET:
            root.setLevel(level)
    return path


def make_application() -> object:
    """The QApplication (created once), high-DPI aware."""
    prepare_environment()
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication(sys.argv[:1])
        app.setApplicationName("AnnulusView")
        app.setOrganizationName("AnnulusView")
        app.setDesktopFileName("annulusview")  # matches packaging/annulusview.desktop
        app.setStyle("Fusion")
        _dark_palette(app)
    return app


def _dark_palette(app: object) -> None:
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2b2f",
        QPalette.ColorRole.WindowText: "#e6e6e6",
        QPalette.ColorRole.Base: "#1e1e22",
        QPalette.ColorRole.AlternateBase: "#2b2b2f",
        QPalette.ColorRole.Text: "#e6e6e6",
        QPalette.ColorRole.Button: "#3a3a40",
        QPalette.ColorRole.ButtonText: "#e6e6e6",
        QPalette.ColorRole.Highlight: "#3d6fb6",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: "#ffffdc",
        QPalette.ColorRole.ToolTipText: "#000000",
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    app.setPalette(pal)  # type: ignore[attr-defined]


def run_app(path: str | None = None, landmarks: str | None = None, demo: bool = False) -> int:
    """Open the main window (optionally on a study) and run the event loop."""
    log_file = configure_file_logging()
    app = make_application()
    from annulusview.app.main_window import MainWindow

    log.info("AnnulusView starting; log file %s", log_file)
    window = MainWindow()
    window.show_on_start()  # maximised the first time, then as the user left it
    if demo:
        window.open_demo()
    elif path:
        window.open_path(Path(path), landmarks=Path(landmarks) if landmarks else None)
    else:
        window.sessions.offer_recovery()
    return int(app.exec())  # type: ignore[attr-defined]
