"""2-D slice views drawn as QImages: orthogonal MPR and oblique planes.

A :class:`SliceSource` knows the geometry (which image a slice index shows, and how screen pixels
map to LPS); :class:`SliceView` paints it with window/level, crosshair, landmarks and overlays and
turns mouse input into signals. Painting a QImage is fast and reliable under Xvfb.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QMouseEvent, QPainter, QPen, QPolygonF, QWheelEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from annulusview.core import reformat
from annulusview.core.arrays import FloatArray
from annulusview.core.volume import Volume

LANDMARK_PICK_PX = 9.0
LANDMARK_SHOW_MM = 2.5


def _letter(direction: FloatArray) -> str:
    axis = int(np.argmax(np.abs(direction)))
    return ("R", "A", "I")[axis] if direction[axis] < 0 else ("L", "P", "S")[axis]


class SliceSource(abc.ABC):
    """Geometry of one 2-D view. Subclasses implement the maps."""

    name = "view"

    @abc.abstractmethod
    def n_slices(self) -> int:
        """Number of slices the view can show."""

    @abc.abstractmethod
    def image(self, index: int) -> npt.NDArray[Any]:
        """HU image of slice ``index``, shape (rows, columns)."""

    def image_shape(self, index: int) -> tuple[int, int]:
        """(rows, columns) of ``image(index)``."""
        h, w = self.image(index).shape
        return int(h), int(w)

    @abc.abstractmethod
    def pixel_mm(self) -> tuple[float, float]:
        """(row height, column width) in mm."""

    @abc.abstractmethod
    def to_lps(self, index: float, row: float, col: float) -> FloatArray:
        """LPS position (mm) of a fractional (slice, row, column)."""

    @abc.abstractmethod
    def from_lps(self, lps: npt.ArrayLike) -> tuple[float, float, float]:
        """(slice index, row, col) of an LPS point."""

    @abc.abstractmethod
    def slice_mm(self) -> float:
        """Distance between slices, mm."""

    def labels(self) -> dict[str, str]:
        """Orientation letters at the screen edges."""
        o = self.to_lps(0, 0, 0)
        right = self.to_lps(0, 0, 1) - o
        down = self.to_lps(0, 1, 0) - o
        return {
            "right": _letter(right),
            "left": _letter(-right),
            "bottom": _letter(down),
            "top": _letter(-down),
        }


class OrthoSource(SliceSource):
    """Axial, coronal or sagittal MPR in radiological orientation.

    The axes are worked out once and the last slices are kept, so painting (which maps every
    landmark and overlay point) costs no array copies.
    """

    def __init__(self, volume: Volume, view: reformat.ViewName) -> None:
        self.volume = volume
        self.name = view
        self.axes = reformat.slice_axes(volume, view)
        self._shape = volume.hu.shape
        self._cache: dict[int, npt.NDArray[Any]] = {}
        affine = np.asarray(volume.affine, dtype=np.float64)
        self._affine = affine
        self._inverse = np.linalg.inv(affine)

    def n_slices(self) -> int:
        return int(self._shape[self.axes.slice_axis])

    def image(self, index: int) -> npt.NDArray[Any]:
        index = int(np.clip(index, 0, self.n_slices() - 1))
        img = self._cache.get(index)
        if img is None:
            if len(self._cache) > 6:
                self._cache.clear()
            img = reformat.orthogonal_slice(self.volume, self.name, index)  # type: ignore[arg-type]
            self._cache[index] = img
        return img

    def image_shape(self, index: int) -> tuple[int, int]:
        ax = self.axes
        return int(self._shape[ax.row_axis]), int(self._shape[ax.col_axis])

    def pixel_mm(self) -> tuple[float, float]:
        return self.axes.row_mm, self.axes.col_mm

    def slice_mm(self) -> float:
        return float(self.volume.spacing_mm[self.axes.slice_axis])

    def to_lps(self, index: float, row: float, col: float) -> FloatArray:
        ax = self.axes
        kji = np.zeros(3)
        kji[ax.slice_axis] = index
        kji[ax.row_axis] = (self._shape[ax.row_axis] - 1 - row) if ax.row_flip else row
        kji[ax.col_axis] = (self._shape[ax.col_axis] - 1 - col) if ax.col_flip else col
        ijk1 = np.array([kji[2], kji[1], kji[0], 1.0])
        return (self._affine @ ijk1)[:3]

    def from_lps(self, lps: npt.ArrayLike) -> tuple[float, float, float]:
        p = np.ones(4)
        p[:3] = np.asarray(lps, dtype=np.float64).reshape(3)
        ijk = (self._inverse @ p)[:3]
        kji = ijk[::-1]
        ax = self.axes
        row = float(kji[ax.row_axis])
        col = float(kji[ax.col_axis])
        if ax.row_flip:
            row = self._shape[ax.row_axis] - 1 - row
        if ax.col_flip:
            col = self._shape[ax.col_axis] - 1 - col
        return float(kji[ax.slice_axis]), row, col


class ObliqueSource(SliceSource):
    """A stack of oblique planes through ``origin`` spanned by ``right`` and ``down``."""

    def __init__(
        self,
        volume: Volume,
        name: str,
        origin: npt.ArrayLike,
        right: npt.ArrayLike,
        down: npt.ArrayLike,
        size_mm: float = 60.0,
        pixel_mm: float = 0.25,
        step_mm: float = 0.5,
        half_depth_mm: float = 20.0,
    ) -> None:
        self.volume = volume
        self.name = name
        self.origin = np.asarray(origin, dtype=np.float64)
        self.right, self.down = reformat.orthonormal_pair(right, down)
        self.normal = np.cross(self.right, self.down)
        self.size_mm = size_mm
        self.pix = pixel_mm
        self.step = step_mm
        self.half = round(half_depth_mm / step_mm)
        self.n = max(2, round(size_mm / pixel_mm))
        self._cache: dict[int, npt.NDArray[np.float32]] = {}

    def n_slices(self) -> int:
        return 2 * self.half + 1

    def _centre(self, index: float) -> FloatArray:
        return self.origin + (index - self.half) * self.step * self.normal

    def image_shape(self, index: int) -> tuple[int, int]:
        return self.n, self.n

    def image(self, index: int) -> npt.NDArray[Any]:
        if index not in self._cache:
            if len(self._cache) > 8:
                self._cache.clear()
            self._cache[index] = reformat.oblique_slice(
                self.volume, self._centre(index), self.right, self.down, self.size_mm, self.pix
            )
        return self._cache[index]

    def pixel_mm(self) -> tuple[float, float]:
        return self.pix, self.pix

    def slice_mm(self) -> float:
        return self.step

    def to_lps(self, index: float, row: float, col: float) -> FloatArray:
        c = (self.n - 1) / 2.0
        return (
            self._centre(index)
            + (col - c) * self.pix * self.right
            + (row - c) * self.pix * self.down
        )

    def from_lps(self, lps: npt.ArrayLike) -> tuple[float, float, float]:
        d = np.asarray(lps, dtype=np.float64) - self.origin
        c = (self.n - 1) / 2.0
        return (
            float(d @ self.normal / self.step + self.half),
            float(d @ self.down / self.pix + c),
            float(d @ self.right / self.pix + c),
        )


@dataclass
class Overlay:
    """Extra drawing on a view: closed polylines (LPS) and text lines."""

    polylines: list[tuple[FloatArray, str]] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    markers: list[tuple[FloatArray, str]] = field(default_factory=list)


class SliceView(QWidget):
    """One 2-D view.

    Signals
    -------
    clicked(lps)
        Left click (not on a landmark): the point in LPS mm.
    landmark_dragged(name, old_lps, new_lps)
        A landmark was dragged and released.
    window_changed(width, level)
        Right-drag changed the window.
    slice_changed(index)
        Mouse wheel stepped the slice.
    """

    clicked = Signal(object)
    landmark_dragged = Signal(str, object, object)
    window_changed = Signal(float, float)
    slice_changed = Signal(int)

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setObjectName(f"view-{title}")
        self.source: SliceSource | None = None
        self.index = 0
        self.window_width = 800.0
        self.window_level = 300.0
        self.zoom = 1.0
        self.pan = QPointF(0.0, 0.0)
        self.crosshair_lps: FloatArray | None = None
        self.landmarks: dict[str, FloatArray] = {}
        self.proposed: frozenset[str] = frozenset()
        self.active_landmark: str | None = None
        self.highlight_lps: FloatArray | None = None
        self.overlay = Overlay()
        self.placing = False
        self._image: QImage | None = None
        self._image_key: tuple[Any, ...] | None = None
        self._drag_mode: str | None = None
        self._drag_start = QPointF()
        self._drag_window = (0.0, 0.0)
        self._drag_pan = QPointF()
        self._drag_landmark: str | None = None
        self._drag_landmark_start: FloatArray | None = None
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)

    # --- state -------------------------------------------------------------------------------

    def set_source(self, source: SliceSource | None, keep_index: bool = False) -> None:
        self.source = source
        self._image_key = None
        if source is not None and not keep_index:
            self.index = source.n_slices() // 2
        self.update()

    def set_index(self, index: int) -> None:
        if self.source is None:
            return
        index = int(np.clip(index, 0, self.source.n_slices() - 1))
        if index != self.index:
            self.index = index
            self.update()

    def set_window(self, width: float, level: float) -> None:
        self.window_width, self.window_level = float(width), float(level)
        self._image_key = None
        self.update()

    def centre_on(self, lps: npt.ArrayLike) -> None:
        """Step to the slice through ``lps`` and move the crosshair there (zoom and pan kept,
        pan reset so the point is in view)."""
        self.crosshair_lps = np.asarray(lps, dtype=np.float64)
        if self.source is not None:
            s, _, _ = self.source.from_lps(self.crosshair_lps)
            self.set_index(round(s))
            self.pan = QPointF(0.0, 0.0)
            r, c = self._point_rc(self.crosshair_lps)
            rect = self._image_rect()
            sx, sy = self._rc_to_widget(r, c, rect)
            self.pan = QPointF(self.width() / 2 - sx, self.height() / 2 - sy)
        self.update()

    def set_landmarks(
        self,
        points: dict[str, FloatArray],
        active: str | None = None,
        proposed: frozenset[str] = frozenset(),
    ) -> None:
        """Show ``points``; ``proposed`` ones (made by the program, not yet accepted) are drawn
        hollow with a dashed outline."""
        self.landmarks = {k: np.asarray(v, dtype=np.float64) for k, v in points.items()}
        self.active_landmark = active
        self.proposed = frozenset(proposed)
        self.update()

    # --- geometry ----------------------------------------------------------------------------

    def _grey(self) -> QImage | None:
        if self.source is None:
            return None
        key = (id(self.source), self.index, self.window_width, self.window_level)
        if key != self._image_key or self._image is None:
            arr = reformat.window_to_uint8(
                self.source.image(self.index), self.window_width, self.window_level
            )
            arr = np.ascontiguousarray(arr)
            h, w = arr.shape
            self._image = QImage(arr.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
            self._image_key = key
        return self._image

    def _image_rect(self) -> QRectF:
        """Where the image lands in the widget, keeping mm aspect."""
        if self.source is None:
            return QRectF()
        h, w = self.source.image_shape(self.index)
        row_mm, col_mm = self.source.pixel_mm()
        width_mm, height_mm = w * col_mm, h * row_mm
        scale = min(self.width() / width_mm, self.height() / height_mm) * self.zoom
        dw, dh = width_mm * scale, height_mm * scale
        x0 = (self.width() - dw) / 2 + self.pan.x()
        y0 = (self.height() - dh) / 2 + self.pan.y()
        return QRectF(x0, y0, dw, dh)

    def _shape(self) -> tuple[int, int]:
        assert self.source is not None
        return self.source.image_shape(self.index)

    def _rc_to_widget(
        self, row: float, col: float, rect: QRectF | None = None
    ) -> tuple[float, float]:
        rect = rect or self._image_rect()
        h, w = self._shape()
        # pixel centres: index 0 is at half a pixel from the edge
        x = rect.x() + (col + 0.5) * rect.width() / w
        y = rect.y() + (row + 0.5) * rect.height() / h
        return x, y

    def widget_to_rc(self, x: float, y: float) -> tuple[float, float]:
        rect = self._image_rect()
        h, w = self._shape()
        col = (x - rect.x()) * w / rect.width() - 0.5
        row = (y - rect.y()) * h / rect.height() - 0.5
        return row, col

    def widget_to_lps(self, x: float, y: float) -> FloatArray:
        assert self.source is not None
        row, col = self.widget_to_rc(x, y)
        return self.source.to_lps(self.index, row, col)

    def lps_to_widget(self, lps: npt.ArrayLike) -> tuple[float, float, float]:
        """(x, y, distance from the slice in mm)."""
        assert self.source is not None
        s, r, c = self.source.from_lps(lps)
        x, y = self._rc_to_widget(r, c)
        return x, y, abs(s - self.index) * self.source.slice_mm()

    def _point_rc(self, lps: FloatArray) -> tuple[float, float]:
        assert self.source is not None
        _, r, c = self.source.from_lps(lps)
        return r, c

    def landmark_at(self, x: float, y: float) -> str | None:
        """Name of the landmark drawn within reach of (x, y), if any."""
        best, best_d = None, LANDMARK_PICK_PX
        for name, pos in self.landmarks.items():
            lx, ly, dz = self.lps_to_widget(pos)
            if dz > LANDMARK_SHOW_MM:
                continue
            d = float(np.hypot(lx - x, ly - y))
            if d <= best_d:
                best, best_d = name, d
        return best

    # --- painting ----------------------------------------------------------------------------

    def paintEvent(self, event: Any) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#000000"))
        img = self._grey()
        if img is None or self.source is None:
            p.setPen(QColor("#888888"))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, f"{self.title}\n(no study)")
            p.end()
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom < 2.0)
        rect = self._image_rect()
        p.drawImage(rect, img)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if self.crosshair_lps is not None:
            x, y, _ = self.lps_to_widget(self.crosshair_lps)
            pen = QPen(QColor(255, 220, 0, 150), 1)
            p.setPen(pen)
            p.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            p.drawLine(QPointF(x, rect.top()), QPointF(x, rect.bottom()))
        for points, colour in self.overlay.polylines:
            poly = QPolygonF()
            for pt in points:
                x, y, _ = self.lps_to_widget(pt)
                poly.append(QPointF(x, y))
            p.setPen(QPen(QColor(colour), 2))
            p.drawPolygon(poly)
        for point, colour in self.overlay.markers:
            x, y, dz = self.lps_to_widget(point)
            if dz <= 3.0:
                p.setPen(QPen(QColor(colour), 2))
                p.drawEllipse(QPointF(x, y), 5, 5)
        if self.highlight_lps is not None:
            x, y, dz = self.lps_to_widget(self.highlight_lps)
            p.setPen(QPen(QColor("#FF00FF"), 2))
            p.drawEllipse(QPointF(x, y), 14, 14)
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
        p.setFont(font)
        for name, pos in self.landmarks.items():
            x, y, dz = self.lps_to_widget(pos)
            if dz > LANDMARK_SHOW_MM:
                continue
            active = name == self.active_landmark
            if name in self.proposed:
                # proposed by the program: hollow, dashed, until a person accepts it
                colour = QColor("#EE7733") if not active else QColor("#FFFF66")
                pen = QPen(colour, 2)
                pen.setStyle(Qt.PenStyle.DashLine)
                p.setPen(pen)
                p.setBrush(Qt.BrushStyle.NoBrush)
                p.drawEllipse(QPointF(x, y), 6, 6)
                p.setPen(QPen(colour, 2))
            else:
                colour = QColor("#44BB99") if not active else QColor("#FFFF66")
                p.setPen(QPen(colour, 2))
                p.setBrush(colour)
                p.drawEllipse(QPointF(x, y), 4, 4)
            p.setBrush(Qt.BrushStyle.NoBrush)
            if active or not name.startswith("MA_"):  # curve points: dots only
                p.drawText(QPointF(x + 6, y - 6), name)
        self._paint_labels(p)
        p.end()

    def _paint_labels(self, p: QPainter) -> None:
        assert self.source is not None
        p.setPen(QColor("#FFCC00"))
        labels = self.source.labels()
        m = 4
        fm = p.fontMetrics()
        h = fm.height()
        p.drawText(QPointF(self.width() / 2 - 4, 2 * h), labels["top"])
        p.drawText(QPointF(self.width() / 2 - 4, self.height() - m), labels["bottom"])
        p.drawText(QPointF(m, self.height() / 2), labels["left"])
        p.drawText(
            QPointF(self.width() - fm.horizontalAdvance(labels["right"]) - m, self.height() / 2),
            labels["right"],
        )
        p.setPen(QColor("#DDDDDD"))
        p.drawText(QPointF(m, h), f"{self.title}  {self.index + 1}/{self.source.n_slices()}")
        p.drawText(
            QPointF(m, self.height() - m),
            f"W {self.window_width:.0f} L {self.window_level:.0f}",
        )
        for n, line in enumerate(self.overlay.text):
            p.drawText(QPointF(m, 3 * h + 2 + n * h), line)
        if self.placing:
            p.setPen(QColor("#FFFF66"))
            p.drawText(QPointF(m, self.height() - m - h), "click to place")

    # --- input -------------------------------------------------------------------------------

    def wheelEvent(self, event: QWheelEvent) -> None:
        if self.source is None:
            return
        steps = event.angleDelta().y() / 120.0
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom = float(np.clip(self.zoom * (1.15**steps), 0.25, 16.0))
            self.update()
        else:
            self.set_index(self.index + (1 if steps > 0 else -1))
            self.slice_changed.emit(self.index)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self.source is None:
            return
        pos = event.position()
        self._drag_start = pos
        if event.button() == Qt.MouseButton.LeftButton:
            name = None if self.placing else self.landmark_at(pos.x(), pos.y())
            if name is not None:
                self._drag_mode = "landmark"
                self._drag_landmark = name
                self._drag_landmark_start = self.landmarks[name].copy()
                self.active_landmark = name
            else:
                self._drag_mode = None
                self.clicked.emit(self.widget_to_lps(pos.x(), pos.y()))
        elif event.button() == Qt.MouseButton.RightButton:
            self._drag_mode = "window"
            self._drag_window = (self.window_width, self.window_level)
        elif event.button() == Qt.MouseButton.MiddleButton:
            self._drag_mode = "pan"
            self._drag_pan = QPointF(self.pan)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self.source is None or self._drag_mode is None:
            return
        pos = event.position()
        dx = pos.x() - self._drag_start.x()
        dy = pos.y() - self._drag_start.y()
        if self._drag_mode == "window":
            width = max(1.0, self._drag_window[0] + 4.0 * dx)
            level = self._drag_window[1] - 2.0 * dy
            self.set_window(width, level)
            self.window_changed.emit(width, level)
        elif self._drag_mode == "pan":
            self.pan = self._drag_pan + QPointF(dx, dy)
            self.update()
        elif self._drag_mode == "landmark" and self._drag_landmark is not None:
            self.landmarks[self._drag_landmark] = self.widget_to_lps(pos.x(), pos.y())
            self.update()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._drag_mode == "landmark" and self._drag_landmark is not None:
            name = self._drag_landmark
            old = self._drag_landmark_start
            new = self.widget_to_lps(event.position().x(), event.position().y())
            if old is not None and float(np.linalg.norm(new - old)) > 1e-6:
                self.landmark_dragged.emit(name, old, new)
        self._drag_mode = None
        self._drag_landmark = None
