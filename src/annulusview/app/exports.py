"""File > Export: screenshots, a 2x2 figure, the PDF report, results, meshes, DICOM SEG + SR.

Every picture is drawn by the scene function the command line uses
(:func:`annulusview.scene.views2d.render_image`) from a snapshot of the window's
:class:`~annulusview.scene.state.SceneState`, so a window export is the picture
``annulusview screenshot`` writes for the same case and view. The 3D view is drawn from the
``front`` camera preset, as on the command line, unless the user asks for the window's current
3D camera ("Use the current 3D camera").

Threads: VTK off-screen rendering on a worker thread while the window's 3D view renders on
the GUI thread corrupts the heap here (tested: glibc aborts with "corrupted double-linked list"
after a worker rendered pictures while the GUI thread kept rendering its 3D view; with the GUI
thread idle it was fine, but a user may rotate the view or an analysis may finish at any time).
So pictures are rendered on the GUI thread, one picture per turn of the event loop under a busy
cursor (about 0.3-0.6 s each at 1920x1080 with software OpenGL), and everything else (PNG
encoding, composing the figure, the PDF, meshes, DICOM, every file write) runs on a worker
:class:`~annulusview.app.workers.Task`.

The menu and its options dialog (:mod:`annulusview.app.export_dialog`) ask, then call the
``export_*`` functions below; tests and scripts call those functions directly.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import (
    QApplication,
)

import annulusview
from annulusview.app import messages
from annulusview.app.workers import Task
from annulusview.core.atomic import atomic_write_bytes, check_not_input, check_output_path
from annulusview.core.errors import OutputError
from annulusview.core.outputs.deid import CaseIdentity, volume_identity
from annulusview.scene.state import SceneState
from annulusview.scene.views2d import DEFAULT_SIZE, VIEW_TITLES, png_bytes, render_image

log = logging.getLogger(__name__)

Image = npt.NDArray[np.uint8]
Progress = Callable[[float, str], None]

VIEW_CHOICES = (
    ("3d", "3D"),
    ("annulus", "Annulus plane"),
    ("lvot", "LVOT long axis"),
    ("axial", "Axial"),
    ("coronal", "Coronal"),
    ("sagittal", "Sagittal"),
)
SIZE_CHOICES = ((1920, 1080), (1280, 720), (2560, 1440), (3840, 2160))
FIGURE_VIEWS = ("3d", "annulus", "lvot")  # plus one of FIGURE_SLICES in the fourth panel
FIGURE_SLICES = ("coronal", "axial")
RESULTS_FILES = ("results.json", "lesions.csv")
DICOM_FILES = ("calcium_seg.dcm", "measurements_sr.dcm")
MESH_PATTERNS = ("calcium_*.stl", "calcium_*.ply", "region_*.stl", "region_*.ply")
CAPTION_BG = (24, 24, 24)
GAP_RGB = (64, 64, 64)


@dataclass(frozen=True)
class ExportKind:
    """One entry of the Export menu."""

    key: str
    title: str
    folder: bool  # the target is a folder (several files) rather than one file
    suffix: str = ""  # file kinds: the suffix added when the user gives none
    filter: str = ""
    identity_option: bool = False  # offers "Include patient name and ID"


KINDS = {
    k.key: k
    for k in (
        ExportKind("screenshot", "Screenshot of a view", False, ".png", "PNG image (*.png)", True),
        ExportKind("figure", "Figure (2x2)", False, ".png", "PNG image (*.png)"),
        ExportKind("report", "Report (PDF)", False, ".pdf", "PDF document (*.pdf)", True),
        ExportKind("results", "Results (JSON + CSV)", True),
        ExportKind("meshes", "Meshes (STL/PLY)", True),
        ExportKind("dicom", "DICOM SEG + SR", True, identity_option=True),
    )
}


@dataclass(frozen=True)
class ExportOptions:
    """What the export dialog asked for."""

    path: Path
    view: str = "3d"
    size: tuple[int, int] = DEFAULT_SIZE
    scale: int = 1
    show_identity: bool = False
    figure_slice: str = "coronal"
    current_camera: bool = False


class ExportJob(QObject):
    """One export: ``pictures`` (callables drawing with VTK) run on the GUI thread, one per
    turn of the event loop under a busy cursor; then ``write(pictures, progress, cancel)`` runs
    on a worker :class:`Task` and returns the paths written.

    After ``finished``: ``written`` holds the paths, ``error`` the exception (already shown).
    """

    finished = Signal()

    def __init__(
        self,
        window: Any,
        title: str,
        pictures: Sequence[Callable[[], Image]],
        write: Callable[[list[Image], Progress, Any], list[Path]],
    ) -> None:
        super().__init__(window)
        self.window = window
        self.title = title
        self._pictures = list(pictures)
        self._write = write
        self._images: list[Image] = []
        self._cursor = False
        self.task: Task | None = None
        self.written: list[Path] = []
        #: What the export left out and why (filled by the writer; shown with the paths).
        self.notes: list[str] = []
        self.error: BaseException | None = None
        self.done = False

    @property
    def running(self) -> bool:
        return not self.done

    def start(self) -> None:
        self.window.export_job = self
        self.window.progress.setVisible(True)
        self.window.progress.setValue(0)
        self.window.status_label.setText(f"{self.title}…")
        if self._pictures:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
            self._cursor = True
        QTimer.singleShot(0, self._next_picture)

    def _progress(self, fraction: float, text: str) -> None:
        if not self.window.closed:
            self.window.progress.setValue(int(max(0.0, min(1.0, fraction)) * 1000))
            if text:
                self.window.status_label.setText(text)

    def _next_picture(self) -> None:
        if self.window.closed:
            self._finish(None)
            return
        n = len(self._pictures)
        if len(self._images) < n:
            i = len(self._images)
            self._progress(0.8 * i / n, f"{self.title}: drawing picture {i + 1} of {n}…")
            try:
                self._images.append(self._pictures[i]())
            except Exception as exc:
                self._finish(exc)
                return
            QTimer.singleShot(0, self._next_picture)
            return
        self._restore_cursor()
        self._progress(0.8 if n else 0.0, f"{self.title}: writing…")
        images = self._images
        write = self._write

        def job(progress: Progress, cancel: Any) -> list[Path]:
            return write(images, progress, cancel)

        task = Task(job, f"export-{self.title}")
        task.failed.connect(self._finish)
        task.succeeded.connect(self._succeeded)
        task.cancelled.connect(lambda: self._finish(None))
        self.task = task
        task.start()

    def _succeeded(self, written: list[Path]) -> None:
        self.written = list(written)
        self._finish(None)

    def _restore_cursor(self) -> None:
        if self._cursor:
            QApplication.restoreOverrideCursor()
            self._cursor = False

    def _finish(self, exc: BaseException | None) -> None:
        self._restore_cursor()
        self._images = []
        self.error = exc
        self.done = True
        if not self.window.closed:
            self.window.progress.setVisible(False)
            if exc is not None:
                self.window.status_label.setText(f"{self.title}: not written.")
                messages.show_error(self.window, exc, self.title)
            elif self.written:
                where = (
                    str(self.written[0])
                    if len(self.written) == 1
                    else f"{len(self.written)} files in {self.written[0].parent}"
                )
                notes = f" ({'; '.join(self.notes)})" if self.notes else ""
                self.window.status_label.setText(f"{self.title} written: {where}{notes}")
        self.finished.emit()


def require_exportable(window: Any, kind: str) -> None:
    """Raise :class:`OutputError` in plain words when ``kind`` cannot be exported now."""
    volume = window.volume
    if volume is None:
        raise OutputError("No study is open.", "Open a study first (File > Open).")
    if kind == "dicom":
        paths = [str(p).lower() for p in volume.source_paths]
        nifti = volume.metadata.get("source_format") == "nifti" or any(
            p.endswith((".nii", ".nii.gz")) for p in paths
        )
        if not nifti and not paths:
            raise OutputError(
                "DICOM SEG and SR need the DICOM files the study was read from, and this "
                "study has none.",
                "Open the study from its DICOM files, or export Meshes or Results instead.",
            )
        if nifti:
            raise OutputError(
                "DICOM SEG and SR cannot be made from a NIfTI file: they must reference the "
                "original DICOM images (study, series, frame of reference and each slice), "
                "and a NIfTI file keeps none of these.",
                "Open the study from its DICOM files, or export Meshes or Results instead.",
            )
    if kind in ("figure", "report", "results", "meshes", "dicom") and window.results is None:
        raise OutputError(
            "There are no analysis results to export yet.",
            "Place the three hinge points (or import landmarks) and wait for the analysis.",
        )
    if kind in ("figure", "report"):
        _require_planes(window)


def _require_planes(window: Any) -> None:
    if scene_snapshot(window).regions is None:
        raise OutputError(
            "The annulus plane and LVOT views need the three hinge points.",
            "Place RCC, LCC and NCC hinges first.",
        )


def _check_view(window: Any, view: str) -> None:
    if view not in dict(VIEW_CHOICES):
        raise OutputError(f"Unknown view {view!r}.", f"Choose one of {', '.join(VIEW_TITLES)}.")
    if view in ("annulus", "lvot"):
        _require_planes(window)


def _check_targets(window: Any, paths: Sequence[Path], overwrite: bool) -> list[Path]:
    """Each target checked before anything is drawn or written; the window's own words for an
    existing file (the core's hint speaks of the command line's --force). No target may be the
    study, lie inside its folder, or be the autosave, whatever the user answers."""
    from annulusview.app.session import autosave_path

    checked = []
    for path in paths:
        path = Path(path).expanduser()
        check_not_input(
            path,
            "The export",
            {"autosave": autosave_path(create=False)},
            getattr(window, "study_path", None),
        )
        if path.exists() and not overwrite:
            raise OutputError(f"{path} already exists.", "Choose another name, or replace it.")
        checked.append(check_output_path(path, force=True))
    return checked


def _folder_targets(window: Any, folder: Path, names: Sequence[str], overwrite: bool) -> list[Path]:
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        raise OutputError(f"{folder} is not a folder.", "Choose a folder.")
    return _check_targets(window, [folder / n for n in names], overwrite)


def existing_targets(window: Any, kind: str, path: Path) -> list[Path]:
    """Files an export of ``kind`` to ``path`` would replace."""
    path = Path(path).expanduser()
    if not KINDS[kind].folder:
        return [path]
    if kind == "results":
        return [path / n for n in RESULTS_FILES]
    if kind == "dicom":
        return [path / n for n in DICOM_FILES]
    if not path.is_dir():
        return []
    return sorted({p for pattern in MESH_PATTERNS for p in path.glob(pattern)})


def folder_of(kind: str, path: Path) -> Path:
    return Path(path) if KINDS[kind].folder else Path(path).parent


def suggested_path(window: Any, kind: str) -> Path:
    folder = Path(str(window.qsettings.value("export/folder", "") or Path.home()))
    code = volume_identity(window.volume).code if window.volume is not None else "case"
    names = {
        "screenshot": f"{code}_3d.png",
        "figure": f"{code}_figure.png",
        "report": f"{code}_report.pdf",
        "results": f"{code}_results",
        "meshes": f"{code}_meshes",
        "dicom": f"{code}_dicom",
    }
    return folder / names[kind]


def scene_snapshot(window: Any) -> SceneState:
    """The window's scene as the user sees it (toggles, colouring, highlighted lesion), copied
    so the export is not changed by an analysis that ends while it draws. Cached surfaces are
    shared, not rebuilt."""
    state = window.scene_state
    return dataclasses.replace(
        state,
        volume=window.volume,
        landmarks=window.landmarks,
        results=window.results,
        toggles=dataclasses.replace(state.toggles),
        cache=dict(state.cache),
    )


def _run(
    window: Any,
    kind: str,
    pictures: Sequence[Callable[[], Image]],
    write: Callable[[list[Image], Progress, Any], list[Path]],
) -> ExportJob | None:
    job = getattr(window, "export_job", None)
    if job is not None and job.running:
        messages.show_message(
            window, KINDS[kind].title, "Another export is still running.", "Wait for it to end."
        )
        return None
    job = ExportJob(window, KINDS[kind].title, pictures, write)
    job.start()
    return job


def _guarded(window: Any, kind: str, prepare: Callable[[], ExportJob | None]) -> ExportJob | None:
    """Run ``prepare`` (checks, then the job); a refusal becomes one message box."""
    try:
        return prepare()
    except OutputError as exc:
        messages.show_error(window, exc, KINDS[kind].title)
        return None


def _write_png(path: Path, image: Image) -> None:
    atomic_write_bytes(path, png_bytes(image))


def export_screenshot(
    window: Any,
    path: Path,
    view: str = "3d",
    size: tuple[int, int] = DEFAULT_SIZE,
    scale: int = 1,
    show_identity: bool = False,
    overwrite: bool = False,
    current_camera: bool = False,
) -> ExportJob | None:
    """Write a PNG of ``view`` (one of :data:`annulusview.scene.views2d.VIEWS`) at
    ``size`` x ``scale`` pixels: the picture ``annulusview screenshot`` writes.

    ``current_camera``: draw the 3D view from the window's current 3D camera instead of the
    ``front`` preset the command line uses.

    Returns the running job, or None when refused (a message says why).
    """

    def prepare() -> ExportJob | None:
        require_exportable(window, "screenshot")
        _check_view(window, view)
        (target,) = _check_targets(window, [Path(path)], overwrite)
        state = scene_snapshot(window)
        identity = volume_identity(window.volume, show_identity)
        camera: Any = "front"
        plotter = getattr(window.viewer3d, "plotter", None)
        if current_camera and view == "3d" and plotter is not None:
            camera = tuple(tuple(float(v) for v in row) for row in plotter.camera_position)

        def write(images: list[Image], progress: Progress, cancel: Any) -> list[Path]:
            progress(0.9, "Encoding the PNG…")
            _write_png(target, images[0])
            return [target]

        return _run(
            window,
            "screenshot",
            [lambda: render_image(state, view, size, scale, identity, camera)],
            write,
        )

    return _guarded(window, "screenshot", prepare)


def figure_layout(
    size: tuple[int, int], scale: int = 1
) -> tuple[tuple[int, int], tuple[int, int], int, int]:
    """``((width, height), (panel_width, panel_height), gap, caption_height)`` in pixels."""
    width, height = int(size[0]) * int(scale), int(size[1]) * int(scale)
    unit = height / 1080.0
    gap = max(2, round(4 * unit))
    caption = max(36, round(64 * unit))
    panel = ((width - gap) // 2, (height - caption - gap) // 2)
    return (width, height), panel, gap, caption


def caption_strip(width: int, height: int, identity: CaseIdentity, views: Sequence[str]) -> Image:
    """The figure's caption: the case label, what the panels show, the version and the full
    disclaimer, drawn with Qt (white on dark grey) as an RGB array."""
    image = QImage(width, height, QImage.Format.Format_RGB888)
    image.fill(QColor(*CAPTION_BG))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
        margin = height * 0.25
        font = QFont("DejaVu Sans")
        font.setPixelSize(max(10, round(height * 0.27)))
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(QColor("#FFFFFF"))
        panels = ", ".join(VIEW_TITLES[v].split(" through")[0] for v in views)
        top = QRectF(margin, 0, width - 2 * margin, height / 2)
        head = f"{identity.label}   ·   {panels}   ·   AnnulusView {annulusview.__version__}"
        painter.drawText(top, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom), head)
        font.setBold(False)
        font.setPixelSize(max(9, round(height * 0.24)))
        painter.setFont(font)
        painter.setPen(QColor("#E8E8E8"))
        bottom = QRectF(margin, height / 2, width - 2 * margin, height / 2)
        painter.drawText(
            bottom,
            int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
            annulusview.DISCLAIMER,
        )
    finally:
        painter.end()
    ptr = image.constBits()
    rows = np.frombuffer(ptr, dtype=np.uint8).reshape(height, image.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()


def compose_figure(
    panels: Sequence[Image], caption: Image, size: tuple[int, int], gap: int
) -> Image:
    """Four panels in a 2x2 grid (row by row) above the caption strip."""
    width, height = size
    out = np.empty((height, width, 3), dtype=np.uint8)
    out[:] = GAP_RGB
    ph, pw = panels[0].shape[:2]
    for i, panel in enumerate(panels):
        y, x = (i // 2) * (ph + gap), (i % 2) * (pw + gap)
        out[y : y + ph, x : x + pw] = panel
    out[height - caption.shape[0] :, :] = caption
    return out


def export_figure(
    window: Any,
    path: Path,
    size: tuple[int, int] = DEFAULT_SIZE,
    scale: int = 1,
    slice_view: str = "coronal",
    overwrite: bool = False,
) -> ExportJob | None:
    """Write a 2x2 PNG figure: 3D, annulus plane, LVOT long axis and ``slice_view`` (axial or
    coronal), each with its own annotations, above one caption strip with the case label and
    the disclaimer. Always de-identified."""

    def prepare() -> ExportJob | None:
        require_exportable(window, "figure")
        if slice_view not in FIGURE_SLICES:
            raise OutputError(f"The fourth panel must be one of {', '.join(FIGURE_SLICES)}.")
        (target,) = _check_targets(window, [Path(path)], overwrite)
        state = scene_snapshot(window)
        identity = volume_identity(window.volume)  # never the patient's identity
        full, panel, gap, caption_h = figure_layout(size, scale)
        views = (*FIGURE_VIEWS, slice_view)
        pictures: list[Callable[[], Image]] = [
            lambda v=v: render_image(state, v, panel, 1, identity) for v in views
        ]
        pictures.append(lambda: caption_strip(full[0], caption_h, identity, views))

        def write(images: list[Image], progress: Progress, cancel: Any) -> list[Path]:
            progress(0.85, "Composing the figure…")
            figure = compose_figure(images[:4], images[4], full, gap)
            progress(0.9, "Encoding the PNG…")
            _write_png(target, figure)
            return [target]

        return _run(window, "figure", pictures, write)

    return _guarded(window, "figure", prepare)


def export_report(
    window: Any, path: Path, show_identity: bool = False, overwrite: bool = False
) -> ExportJob | None:
    """Write the PDF case report, with the pictures and layout of ``annulusview report``
    (:func:`annulusview.scene.report.write_case_report`, split here: its pictures are drawn on
    the GUI thread, the PDF is laid out and written on a worker)."""
    from annulusview.scene.report import REPORT_VIEWS, picture_size

    def prepare() -> ExportJob | None:
        require_exportable(window, "report")
        (target,) = _check_targets(window, [Path(path)], overwrite)
        state = scene_snapshot(window)
        identity = volume_identity(window.volume, show_identity)
        pictures: list[Callable[[], Image]] = [
            lambda v=v: render_image(state, v, picture_size(v), 1, identity)
            for v, _ in REPORT_VIEWS
        ]

        def write(images: list[Image], progress: Progress, cancel: Any) -> list[Path]:
            from annulusview.core.outputs.pdf_report import ReportPicture, write_report_pdf

            progress(0.85, "Laying out the PDF…")
            figures = [
                ReportPicture(caption, png_bytes(image))
                for (_, caption), image in zip(REPORT_VIEWS, images, strict=True)
            ]
            assert state.volume is not None
            write_report_pdf(
                target,
                state.results,
                identity,
                figures,
                series_description=state.volume.description,
            )
            return [target]

        return _run(window, "report", pictures, write)

    return _guarded(window, "report", prepare)


def export_results(window: Any, folder: Path, overwrite: bool = False) -> ExportJob | None:
    """Write ``results.json`` and ``lesions.csv`` into ``folder``."""

    def prepare() -> ExportJob | None:
        require_exportable(window, "results")
        json_path, csv_path = _folder_targets(window, Path(folder), RESULTS_FILES, overwrite)
        results = window.results

        def write(images: list[Image], progress: Progress, cancel: Any) -> list[Path]:
            from annulusview.core.results import write_lesions_csv, write_results_json

            return [write_results_json(json_path, results), write_lesions_csv(csv_path, results)]

        return _run(window, "results", [], write)

    return _guarded(window, "results", prepare)


def export_meshes(window: Any, folder: Path, overwrite: bool = False) -> ExportJob | None:
    """Write the calcium (all and per lesion) and region surfaces into ``folder``, STL and PLY."""

    def prepare() -> ExportJob | None:
        require_exportable(window, "meshes")
        out = Path(folder).expanduser()
        _folder_targets(window, out, [".annulusview-check"], True)  # exists and is writable
        existing = existing_targets(window, "meshes", out)
        if existing and not overwrite:
            raise OutputError(
                f"{out} already holds mesh files ({existing[0].name}…).",
                "Choose another folder, or replace them.",
            )
        volume, results = window.volume, window.results

        def build_and_write() -> Any:
            # VTK filters and writers: on the GUI thread like all VTK work (VTK is not
            # thread-safe; a worker creating VTK objects while the 3D view renders can corrupt
            # memory). The meshes are small, so this is a short step.
            from annulusview.scene import mesh_export

            meshes = mesh_export.case_meshes(volume, results)
            return mesh_export.write_mesh_folder(out, meshes, force=overwrite)

        def written(images: list[Any], progress: Progress, cancel: Any) -> list[Path]:
            return list(images[0])

        return _run(window, "meshes", [build_and_write], written)

    return _guarded(window, "meshes", prepare)


def export_dicom(
    window: Any, folder: Path, show_identity: bool = False, overwrite: bool = False
) -> ExportJob | None:
    """Write the calcium DICOM Segmentation and the TID 1500 measurement report (SR) into
    ``folder``. Needs a DICOM source series (a NIfTI study is refused with the reason)."""

    def prepare() -> ExportJob | None:
        require_exportable(window, "dicom")
        seg_path, sr_path = _folder_targets(window, Path(folder), DICOM_FILES, overwrite)
        volume, results = window.volume, window.results
        identity = volume_identity(volume, show_identity)
        left_out: list[str] = []  # e.g. the root lumen segment on a non-contrast study

        def write(images: list[Image], progress: Progress, cancel: Any) -> list[Path]:
            from annulusview.core.outputs import dicom as dicom_export

            progress(0.2, "Building the DICOM Segmentation…")
            seg = dicom_export.write_segmentation(
                seg_path, volume, results, identity, left_out=left_out
            )
            progress(0.7, "Building the DICOM measurement report…")
            sr = dicom_export.write_measurement_report(sr_path, volume, results, identity)
            return [seg, sr]

        job = _run(window, "dicom", [], write)
        if job is not None:
            job.notes = left_out
        return job

    return _guarded(window, "dicom", prepare)
