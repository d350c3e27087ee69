"""The straightened (curved planar) root view of the window, from the LVOT up to the aorta.

The centreline and the picture come from :mod:`annulusview.core.aortic.cpr`, computed on a worker
thread after each analysis of a contrast study; the GUI thread only turns the HU image into
grey levels and draws the measured levels (LVOT, annulus, sinus, STJ) across it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QWidget

from annulusview.app.workers import Task
from annulusview.core.errors import InputError
from annulusview.core.reformat import window_to_uint8

if TYPE_CHECKING:
    from annulusview.core.aortic.cpr import Straightened
    from annulusview.core.results import Results
    from annulusview.core.volume import Volume

log = logging.getLogger(__name__)


class StraightenedView(QWidget):
    """The straightened root with its measured levels; ``levels`` lists what is drawn."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("view-straightened")
        self.view: Straightened | None = None
        self.message = "No analysis yet."
        self.levels: list[tuple[str, int]] = []
        self.window_width, self.window_level = 800.0, 300.0
        self.task: Task | None = None
        self._for: Any = None
        self._image: QImage | None = None

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def set_window(self, width: float, level: float) -> None:
        self.window_width, self.window_level = width, level
        self._image = None
        self.update()

    def update_results(self, volume: Volume | None, results: Results | None) -> None:
        """Follow the study: recompute for new results of a contrast study (off the GUI
        thread), clear otherwise."""
        if results is None or volume is None:
            self._show(None, "No analysis yet.")
            self._for = None
            return
        if self._for is results:
            return
        self._for = results
        if results.contrast_state != "contrast":
            self._show(None, "Straightened view: contrast CTA only (no lumen to follow).")
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
        frame = results.frame

        def job(progress: Any, cancel: Any) -> Any:
            from annulusview.core.aortic.cpr import root_centreline, straighten

            return straighten(volume, root_centreline(volume, frame, cancel=cancel), frame)

        task = Task(job, "straighten-root", self)
        task.succeeded.connect(lambda view, r=results: self._done(r, view))
        task.failed.connect(lambda exc, r=results: self._failed(r, exc))
        self.task = task
        self.message = "Following the lumen…"
        self.update()
        task.start()

    def _done(self, results: Results, view: Straightened) -> None:
        if results is not self._for:  # newer results arrived meanwhile
            return
        levels: list[tuple[str, int]] = []
        root = results.root
        marks = [("annulus", 0.0)]
        if root is not None:
            for name, part, key in (
                ("LVOT", root.lvot, "level_mm"),
                ("sinus", root.sinus, "height_mm"),
                ("STJ", root.stj, "height_mm"),
            ):
                h = part.values.get(key) if part.status == "measured" else None
                if h is not None:
                    marks.append((name, float(h)))
        for name, h in marks:
            row = view.row_at_height(h)
            if row is not None:
                levels.append((f"{name} ({h:+.0f} mm)", row))
        self.levels = levels
        self._show(view, "")

    def _failed(self, results: Results, exc: BaseException) -> None:
        if results is not self._for:
            return
        why = exc.message if isinstance(exc, InputError) else str(exc)
        if not isinstance(exc, InputError):
            log.warning("straightened view failed", exc_info=exc)
        self._show(None, f"No straightened view: {why}")

    def _show(self, view: Straightened | None, message: str) -> None:
        self.view = view
        self.message = message
        if view is None:
            self.levels = []
        self._image = None
        self.update()

    def _grey(self) -> QImage | None:
        if self.view is None:
            return None
        if self._image is None:
            arr = np.ascontiguousarray(
                window_to_uint8(self.view.image, self.window_width, self.window_level)
            )
            h, w = arr.shape
            self._image = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
        return self._image

    def image_rect(self) -> QRectF:
        """Where the picture is drawn (aspect kept, centred)."""
        img = self._grey()
        if img is None:
            return QRectF()
        scale = min(self.width() / img.width(), self.height() / img.height())
        w, h = img.width() * scale, img.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))
        img = self._grey()
        if img is None:
            p.setPen(QColor("#888888"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       f"Straightened root\n{self.message}")  # fmt: skip
            p.end()
            return
        rect = self.image_rect()
        p.drawImage(rect, img)
        scale = rect.height() / img.height()
        p.setPen(QPen(QColor("#FFDD66"), 1))
        for label, row in self.levels:
            y = rect.top() + (row + 0.5) * scale
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            p.drawText(QPointF(rect.left() + 4, y - 3), label)
        p.setPen(QColor("#DDDDDD"))
        p.drawText(QPointF(8, 16), "straightened along the lumen centreline; aorta up")
        p.end()
