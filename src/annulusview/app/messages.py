"""The one place where errors and notices become dialogs.

Dialogs open window-modal without blocking (``QMessageBox.open``), so the event loop keeps
running and tests can read and close them; the most recent box is kept on the window as
``last_message``.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

from annulusview.core.errors import AnnulusViewError, Cancelled

log = logging.getLogger(__name__)


def error_text(exc: BaseException) -> tuple[str, str]:
    """Plain-words (message, hint) for any exception; never a traceback."""
    if isinstance(exc, AnnulusViewError):
        return exc.message, exc.hint
    if isinstance(exc, MemoryError):
        return (
            "There is not enough memory for this study.",
            "Close other programs or pick a smaller series.",
        )
    if isinstance(exc, OSError):
        return (
            f"A file could not be read or written: {exc.strerror or exc}.",
            "Check the path and permissions.",
        )
    return (
        f"Something went wrong inside AnnulusView ({exc.__class__.__name__}).",
        "The details are in the log file (Help > Show log folder). Please report it.",
    )


def show_message(
    parent: QWidget,
    title: str,
    text: str,
    informative: str = "",
    icon: QMessageBox.Icon = QMessageBox.Icon.Information,
    details: str = "",
) -> QMessageBox:
    """Open a non-blocking message box and remember it on ``parent.last_message``."""
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    box.setObjectName("annulusview-message")
    if informative:
        box.setInformativeText(informative)
    if details:
        box.setDetailedText(details)
    box.open()
    parent.last_message = box  # type: ignore[attr-defined]
    return box


def show_error(parent: QWidget, exc: BaseException, context: str = "") -> QMessageBox | None:
    """Turn an exception into one plain-words dialog (logged with its traceback)."""
    if isinstance(exc, Cancelled):
        return None
    message, hint = error_text(exc)
    if isinstance(exc, AnnulusViewError):
        log.warning("%s: %s", context or "error", exc.user_text())
    else:
        log.error("%s: unexpected error", context or "error", exc_info=exc)
    title = f"AnnulusView - {context}" if context else "AnnulusView"
    return show_message(parent, title, message, hint, QMessageBox.Icon.Warning)


def message_text(box: Any) -> str:
    """Main text plus informative text of a message box (for tests and logs)."""
    return f"{box.text()}\n{box.informativeText()}".strip()
