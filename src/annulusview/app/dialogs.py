"""Dialogs: series picker and analysis settings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annulusview.app.session import AnalysisSettings
from annulusview.core.rules import default_rules

THRESHOLD_CHOICES = (
    ("Lumen + 100 HU (default)", "lumen_plus_100"),
    ("Fixed 850 HU", "fixed_850"),
    ("450 / 850 HU by lumen", "by_lumen_450_850"),
    ("Custom HU value", "custom"),
)
REGION_FIELDS = (
    ("radial_margin_mm", "Radial margin (mm)"),
    ("lvot_h_min_mm", "LVOT lower limit h (mm)"),
    ("annulus_half_height_mm", "Annulus half height (mm)"),
    ("leaflet_h_max_mm", "Leaflet upper limit h (mm)"),
    ("conduction_half_angle_deg", "Conduction zone half angle (°)"),
    ("conduction_r_inner_mm", "Conduction zone inside R by (mm)"),
    ("conduction_r_outer_mm", "Conduction zone outside R by (mm)"),
    ("conduction_extra_depth_mm", "Conduction zone depth beyond MS (mm)"),
    ("conduction_default_ms_length_mm", "MS length when not placed (mm)"),
)


class SeriesDialog(QDialog):
    """Pick one series when a study holds several."""

    def __init__(
        self, series: Sequence[Any], skipped: int = 0, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("series-dialog")
        self.setWindowTitle("Choose a series")
        self.series = list(series)
        self.table = QTableWidget(len(self.series), 8)
        self.table.setObjectName("series-table")
        self.table.setHorizontalHeaderLabels(
            [
                "Description",
                "Images",
                "Slice thickness (mm)",
                "Slice increment (mm)",
                "Matrix",
                "Cardiac phase",
                "Contrast",
                "Notes",
            ]
        )
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        for r, s in enumerate(self.series):
            contrast = {True: "yes", False: "no", None: "unknown"}[s.contrast]
            cells = [
                s.description or "(no description)",
                str(s.num_images),
                "-" if s.slice_thickness_mm is None else f"{s.slice_thickness_mm:.2f}",
                f"{s.spacing_mm[0]:.2f}",
                f"{s.shape[2]}×{s.shape[1]}",
                s.cardiac_phase or "-",
                contrast,
                "; ".join(s.warnings),
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectRow(0)
        self.table.doubleClicked.connect(self.accept)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Open | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        intro = QLabel(
            f"This study holds {len(self.series)} series. Choose the contrast CT of the heart "
            "(thin slices, arterial phase)."
            + (f" {skipped} file(s) were not images and were skipped." if skipped else "")
        )
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 320)

    def selected_id(self) -> str | None:
        row = self.table.currentRow()
        if 0 <= row < len(self.series):
            return str(self.series[row].id)
        return None


class SettingsDialog(QDialog):
    """Calcium threshold, region parameters and planned valve, with reset to defaults."""

    def __init__(self, settings: AnalysisSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.setWindowTitle("Analysis settings")
        self.defaults = dict(default_rules().to_dict()["regions"])
        form = QFormLayout()
        self.threshold_box = QComboBox()
        for text, value in THRESHOLD_CHOICES:
            self.threshold_box.addItem(text, value)
        self.custom_hu = QDoubleSpinBox()
        self.custom_hu.setRange(100.0, 3000.0)
        self.custom_hu.setSuffix(" HU")
        self.custom_hu.setValue(550.0)
        form.addRow("Calcium threshold (contrast CT)", self.threshold_box)
        form.addRow("Custom threshold", self.custom_hu)
        self.region_boxes: dict[str, QDoubleSpinBox] = {}
        for key, title in REGION_FIELDS:
            box = QDoubleSpinBox()
            box.setRange(-100.0, 100.0)
            box.setDecimals(1)
            box.setSingleStep(0.5)
            self.region_boxes[key] = box
            form.addRow(title, box)
        self.valve_size = QDoubleSpinBox()
        self.valve_size.setRange(0.0, 40.0)
        self.valve_size.setSpecialValueText("not planned")
        self.valve_size.setSuffix(" mm")
        self.valve_type = QComboBox()
        self.valve_type.addItems(["", "balloon", "self-expanding"])
        self.implant_depth = QDoubleSpinBox()
        self.implant_depth.setRange(0.0, 20.0)
        self.implant_depth.setSpecialValueText("not planned")
        self.implant_depth.setSuffix(" mm")
        form.addRow("Planned valve size", self.valve_size)
        form.addRow("Valve type", self.valve_type)
        form.addRow("Planned implant depth", self.implant_depth)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(self.reset)
        layout = QVBoxLayout(self)
        note = QLabel(
            "Defaults come from the rules file (resources/rules/default.toml), with sources."
        )
        note.setWordWrap(True)
        note.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(note)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.load(settings)

    def load(self, settings: AnalysisSettings) -> None:
        t = settings.threshold
        if isinstance(t, int | float):
            self.threshold_box.setCurrentIndex(3)
            self.custom_hu.setValue(float(t))
        else:
            values = [v for _, v in THRESHOLD_CHOICES]
            self.threshold_box.setCurrentIndex(values.index(t) if t in values else 0)
        for key, box in self.region_boxes.items():
            box.setValue(float(settings.regions.get(key, self.defaults.get(key, 0.0))))
        self.valve_size.setValue(settings.valve_size_mm or 0.0)
        self.valve_type.setCurrentText(settings.valve_type or "")
        self.implant_depth.setValue(settings.implant_depth_mm or 0.0)

    def reset(self) -> None:
        self.load(AnalysisSettings())

    def settings(self) -> AnalysisSettings:
        choice = self.threshold_box.currentData()
        threshold: str | float | None = None
        if choice == "custom":
            threshold = float(self.custom_hu.value())
        elif choice != "lumen_plus_100":
            threshold = str(choice)
        regions = {
            k: float(b.value())
            for k, b in self.region_boxes.items()
            if abs(float(b.value()) - float(self.defaults.get(k, 0.0))) > 1e-9
        }
        return AnalysisSettings(
            threshold=threshold,
            regions=regions,
            valve_size_mm=self.valve_size.value() or None,
            valve_type=self.valve_type.currentText() or None,
            implant_depth_mm=self.implant_depth.value() or None,
        )
