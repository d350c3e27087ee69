"""File > Export: the menu, the options dialog and the "replace?" question.

They end in the ``export_*`` functions of :mod:`annulusview.app.exports`, which do the work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annulusview.app import messages
from annulusview.app.exports import (
    DICOM_FILES,
    FIGURE_SLICES,
    KINDS,
    RESULTS_FILES,
    SIZE_CHOICES,
    VIEW_CHOICES,
    ExportJob,
    ExportKind,
    ExportOptions,
    existing_targets,
    export_dicom,
    export_figure,
    export_meshes,
    export_report,
    export_results,
    export_screenshot,
    folder_of,
    require_exportable,
    suggested_path,
)
from annulusview.core.errors import OutputError
from annulusview.scene.views2d import DEFAULT_SIZE, VIEW_TITLES


def install_export_actions(window: Any) -> QMenu:
    """Add File > Export to ``window`` (call while the File menu is being built: the submenu is
    appended to it). Returns the submenu; its actions are ``window.export_actions[kind]``."""
    file_menu = next(
        a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "File"
    )
    menu = file_menu.addMenu("Export")
    menu.setObjectName("export-menu")
    window.export_actions = {}
    window.export_job = None
    window.export_dialog = None
    for key, kind in KINDS.items():
        action = menu.addAction(f"{kind.title}…")
        action.setObjectName(f"export-{key}")
        action.triggered.connect(lambda _=False, k=key: open_export_dialog(window, k))
        window.export_actions[key] = action
    window.export_menu = menu
    return menu


def open_export_dialog(window: Any, kind: str) -> ExportDialog | None:
    """Ask for the options of ``kind`` (non-blocking dialog), then confirm and export."""
    try:
        require_exportable(window, kind)
    except OutputError as exc:
        messages.show_error(window, exc, KINDS[kind].title)
        return None
    dialog = ExportDialog(KINDS[kind], window, suggested_path(window, kind))
    dialog.accepted.connect(lambda: confirm_and_export(window, kind, dialog.options()))
    window.export_dialog = dialog
    dialog.open()
    return dialog


def confirm_and_export(window: Any, kind: str, options: ExportOptions) -> QMessageBox | None:
    """Export with ``options``; when files would be replaced, ask first (non-blocking box,
    returned; the export starts on "Yes")."""
    window.qsettings.setValue("export/folder", str(folder_of(kind, options.path)))
    existing = [p for p in existing_targets(window, kind, options.path) if p.exists()]
    if not existing:
        start_export(window, kind, options, overwrite=False)
        return None
    names = "\n".join(str(p) for p in existing[:10])
    more = f"\n… and {len(existing) - 10} more" if len(existing) > 10 else ""
    box = messages.show_message(
        window,
        KINDS[kind].title,
        "This would replace existing files." if len(existing) > 1 else f"{existing[0]} exists.",
        "Replace them?" if len(existing) > 1 else "Replace it?",
        QMessageBox.Icon.Question,
        details=names + more if len(existing) > 1 else "",
    )
    box.setStandardButtons(QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No)
    box.setDefaultButton(QMessageBox.StandardButton.No)

    def clicked(button: Any) -> None:
        if box.standardButton(button) == QMessageBox.StandardButton.Yes:
            start_export(window, kind, options, overwrite=True)

    box.buttonClicked.connect(clicked)
    return box


def start_export(
    window: Any, kind: str, options: ExportOptions, overwrite: bool = False
) -> ExportJob | None:
    """Run the ``export_*`` function of ``kind`` with the dialog's options."""
    o = options
    if kind == "screenshot":
        return export_screenshot(
            window,
            o.path,
            o.view,
            o.size,
            o.scale,
            o.show_identity,
            overwrite,
            current_camera=o.current_camera,
        )
    if kind == "figure":
        return export_figure(window, o.path, o.size, o.scale, o.figure_slice, overwrite)
    if kind == "report":
        return export_report(window, o.path, o.show_identity, overwrite)
    if kind == "results":
        return export_results(window, o.path, overwrite)
    if kind == "meshes":
        return export_meshes(window, o.path, overwrite)
    if kind == "dicom":
        return export_dicom(window, o.path, o.show_identity, overwrite)
    raise ValueError(f"unknown export {kind!r}")


class ExportDialog(QDialog):
    """Where to write, and for pictures which view and size; the identity opt-in.

    ``path_edit``, ``view_box``, ``size_box``, ``double_box``, ``slice_box`` and
    ``identity_box`` are public so tests fill the dialog as a user would.
    """

    def __init__(self, kind: ExportKind, parent: QWidget, suggested: Path) -> None:
        super().__init__(parent)
        self.kind = kind
        self.setObjectName(f"export-dialog-{kind.key}")
        self.setWindowTitle(f"Export {kind.title.lower()}")
        form = QFormLayout()
        self.view_box = QComboBox()
        self.size_box = QComboBox()
        self.double_box = QCheckBox("2x (twice the pixels, same layout)")
        self.slice_box = QComboBox()
        if kind.key == "screenshot":
            for key, text in VIEW_CHOICES:
                self.view_box.addItem(text, key)
            self.view_box.currentIndexChanged.connect(self._view_changed)
            form.addRow("View", self.view_box)
        if kind.key == "figure":
            for key in FIGURE_SLICES:
                self.slice_box.addItem(VIEW_TITLES[key], key)
            form.addRow("Fourth panel", self.slice_box)
        if kind.key in ("screenshot", "figure"):
            for w, h in SIZE_CHOICES:
                self.size_box.addItem(f"{w} × {h}", f"{w}x{h}")
            form.addRow("Size (pixels)", self.size_box)
            form.addRow("", self.double_box)
        self.path_edit = QLineEdit(str(suggested))
        self.path_edit.setObjectName("export-path")
        self.path_edit.setMinimumWidth(380)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        form.addRow("Folder" if kind.folder else "File", row)
        self.identity_box = QCheckBox("Include patient name and ID")
        self.identity_box.setObjectName("include-identity")
        self.identity_box.setChecked(False)
        self.identity_box.setToolTip(
            "Off: the export names the case only by its de-identified label (Case AV-…)."
        )
        if kind.identity_option:
            form.addRow("", self.identity_box)
        self.camera_box = QCheckBox("Use the current 3D camera (3D view only)")
        self.camera_box.setObjectName("current-camera")
        self.camera_box.setChecked(False)
        if kind.key == "screenshot":
            form.addRow("", self.camera_box)
        notes = {
            "screenshot": "3D pictures use the front camera preset, as the command line does, "
            "unless 'Use the current 3D camera' is ticked.",
            "figure": "3D, annulus plane, LVOT long axis and one slice, with a caption strip. "
            "Figures are always de-identified.",
            "report": "Three pages: measurements, risk flags, lesion table and pictures.",
            "results": f"Writes {' and '.join(RESULTS_FILES)} (no patient identity in either).",
            "meshes": "Writes calcium (all and per lesion), LVOT and conduction-zone surfaces, "
            "STL and PLY, LPS millimetres.",
            "dicom": f"Writes {' and '.join(DICOM_FILES)}, referencing the source series.",
        }
        note = QLabel(notes[kind.key])
        note.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.path_edit.textChanged.connect(self._path_changed)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(note)
        layout.addWidget(self.buttons)
        self._auto_name = Path(suggested).name
        self._path_changed(self.path_edit.text())

    def _path_changed(self, text: str) -> None:
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(bool(text.strip()))

    def _view_changed(self) -> None:
        """Keep a suggested file name in step with the view (a name the user typed stays)."""
        path = Path(self.path_edit.text())
        if path.name == self._auto_name:
            code = self._auto_name.split("_")[0]
            self._auto_name = f"{code}_{self.view_box.currentData()}.png"
            self.path_edit.setText(str(path.with_name(self._auto_name)))

    def _browse(self) -> None:
        current = self.path_edit.text()
        if self.kind.folder:
            chosen = QFileDialog.getExistingDirectory(self, f"Export {self.kind.title}", current)
        else:
            # the overwrite question comes after the dialog (also for typed names)
            chosen, _ = QFileDialog.getSaveFileName(
                self,
                f"Export {self.kind.title}",
                current,
                self.kind.filter,
                options=QFileDialog.Option.DontConfirmOverwrite,
            )
        if chosen:
            self.path_edit.setText(chosen)

    def size(self) -> tuple[int, int]:
        """The chosen size in pixels before the 2x option."""
        data = self.size_box.currentData()
        if not data:
            return DEFAULT_SIZE
        w, h = (int(v) for v in str(data).split("x"))
        return w, h

    def options(self) -> ExportOptions:
        path = Path(self.path_edit.text().strip()).expanduser()
        if not self.kind.folder and self.kind.suffix and path.suffix.lower() != self.kind.suffix:
            path = path.with_name(path.name + self.kind.suffix)
        return ExportOptions(
            path=path,
            view=self.view_box.currentData() or "3d",
            size=self.size(),
            scale=2 if self.double_box.isChecked() else 1,
            show_identity=self.kind.identity_option and self.identity_box.isChecked(),
            figure_slice=self.slice_box.currentData() or "coronal",
            current_camera=self.kind.key == "screenshot" and self.camera_box.isChecked(),
        )
