"""Dialogs: series picker, analysis settings and a rule's evidence card."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
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
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from annulusview.app.phases import phase_label
from annulusview.app.session import AnalysisSettings
from annulusview.core.aortic.calcium import THRESHOLD_MAX_HU, THRESHOLD_MIN_HU
from annulusview.core.aortic.devices import load_devices
from annulusview.core.aortic.valve import VALVE_SIZE_RANGE_MM
from annulusview.core.flags import Flag
from annulusview.core.presentation import evidence_lines, flag_color, flag_title, flag_word
from annulusview.core.rules import default_rules
from annulusview.core.rules_schema import NUMBERS

VALVE_NOT_PLANNED = VALVE_SIZE_RANGE_MM[0] - 1.0  # the spin box's "not planned" minimum

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
    ("conduction_before_deg", "Conduction zone: degrees before MS_inferior"),
    ("conduction_past_rcc_deg", "Conduction zone: degrees past the RCC hinge"),
    ("conduction_depth_mm", "Conduction zone depth (mm)"),
    ("conduction_r_inner_mm", "Conduction zone inside R by (mm)"),
    ("conduction_r_outer_mm", "Conduction zone outside R by (mm)"),
)


class SeriesDialog(QDialog):
    """Pick one series when a study holds several (the phases of a multi-phase study are
    listed together, in percent order, as the scan orders them)."""

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
                _phase_cell(s),
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


def _phase_cell(summary: Any) -> str:
    """``"33.3 % R-R"`` when the percent is known (from the header or the description),
    else the phase as the headers give it (temporal position, trigger time), else "-"."""
    pct = getattr(summary, "cardiac_phase_pct", None)
    if pct is not None:
        return phase_label(pct)
    return summary.cardiac_phase or "-"


class SettingsDialog(QDialog):
    """Calcium threshold, region parameters and planned valve, with reset to defaults."""

    def __init__(
        self,
        settings: AnalysisSettings,
        parent: QWidget | None = None,
        sizing: Sequence[Mapping[str, Any]] = (),
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settings-dialog")
        self.sizing = {str(row["family"]): row for row in sizing}
        self.setWindowTitle("Analysis settings")
        self.defaults = dict(default_rules().to_dict()["regions"])
        form = QFormLayout()
        self.threshold_box = QComboBox()
        for text, value in THRESHOLD_CHOICES:
            self.threshold_box.addItem(text, value)
        self.custom_hu = QDoubleSpinBox()
        self.custom_hu.setRange(THRESHOLD_MIN_HU, THRESHOLD_MAX_HU)  # as --threshold
        self.custom_hu.setSuffix(" HU")
        self.custom_hu.setValue(550.0)
        form.addRow("Calcium threshold (contrast CT)", self.threshold_box)
        form.addRow("Custom threshold", self.custom_hu)
        self.region_boxes: dict[str, QDoubleSpinBox] = {}
        for key, title in REGION_FIELDS:
            box = QDoubleSpinBox()
            bounds = NUMBERS[f"regions.{key}"]  # the rules schema's range: no box can hold
            box.setRange(bounds.low, bounds.high)  # a value the analysis would refuse
            box.setDecimals(1)
            box.setSingleStep(0.5)
            self.region_boxes[key] = box
            form.addRow(title, box)
        # device family and size from resources/devices.toml; "generic" = size and type below
        self.valve_family = QComboBox()
        self.valve_family.setObjectName("valve-family")
        self.valve_family.addItem("generic (size and type below)", None)
        for key, device in load_devices().items():
            self.valve_family.addItem(f"{device.name} ({device.sizing}-sized)", key)
        self.family_size = QComboBox()
        self.family_size.setObjectName("valve-family-size")
        self.valve_family.currentIndexChanged.connect(self._family_changed)
        form.addRow("Planned valve family", self.valve_family)
        form.addRow("Family size", self.family_size)
        self.valve_size = QDoubleSpinBox()
        # 10-40 mm as --valve-size; the minimum (9) reads "not planned"
        self.valve_size.setRange(VALVE_NOT_PLANNED, VALVE_SIZE_RANGE_MM[1])
        self.valve_size.setSpecialValueText("not planned")
        self.valve_size.setSuffix(" mm")
        self.valve_type = QComboBox()
        self.valve_type.addItems(["", "balloon", "self-expanding"])
        # below the annular plane; the minimum (-1) reads "not planned", so 0 mm can be entered
        self.implant_depth = QDoubleSpinBox()
        self.implant_depth.setObjectName("implant-depth")
        self.implant_depth.setRange(-1.0, 20.0)
        self.implant_depth.setSingleStep(0.5)
        self.implant_depth.setSpecialValueText("not planned")
        self.implant_depth.setSuffix(" mm below the annulus")
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
        self.valve_size.setValue(settings.valve_size_mm or VALVE_NOT_PLANNED)
        self.valve_type.setCurrentText(settings.valve_type or "")
        depth = settings.implant_depth_mm
        self.implant_depth.setValue(-1.0 if depth is None else float(depth))
        index = self.valve_family.findData(settings.valve_family)
        self.valve_family.setCurrentIndex(max(index, 0))
        self._family_changed()
        if settings.valve_family and settings.valve_size_mm is not None:
            found = self.family_size.findData(float(settings.valve_size_mm))
            if found >= 0:
                self.family_size.setCurrentIndex(found)

    def _family_changed(self, _index: int = 0) -> None:
        """Fill the size list of the chosen family; the suggested size is preselected and a
        borderline suggestion is marked (from the last analysis's sizing)."""
        family = self.valve_family.currentData()
        self.family_size.clear()
        generic = family is None
        for widget in (self.valve_size, self.valve_type):
            widget.setEnabled(generic)
        self.family_size.setEnabled(not generic)
        if generic:
            return
        device = load_devices()[family]
        row = self.sizing.get(family, {})
        suggested = row.get("suggested_size_mm")
        for size in device.sizes:
            text = f"{size.nominal_mm:g} mm ({size.min:g}-{size.max:g} {device.unit})"
            if suggested is not None and abs(size.nominal_mm - suggested) < 1e-6:
                text += " — suggested" + (" (borderline)" if row.get("borderline") else "")
            self.family_size.addItem(text, size.nominal_mm)
        if suggested is not None:
            self.family_size.setCurrentIndex(max(self.family_size.findData(suggested), 0))

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
        family = self.valve_family.currentData()
        depth = float(self.implant_depth.value())
        if family is not None:
            size = self.family_size.currentData()
            return AnalysisSettings(
                threshold=threshold,
                regions=regions,
                valve_size_mm=None if size is None else float(size),
                valve_type=load_devices()[family].valve_type,
                implant_depth_mm=None if depth < 0 else depth,
                valve_family=family,
            )
        return AnalysisSettings(
            threshold=threshold,
            regions=regions,
            # 9.01-9.99 typed by hand is below the 10 mm minimum too: not planned
            valve_size_mm=(
                None
                if self.valve_size.value() < VALVE_SIZE_RANGE_MM[0]
                else self.valve_size.value()
            ),
            valve_type=self.valve_type.currentText() or None,
            implant_depth_mm=None if depth < 0 else depth,
        )


class EvidenceDialog(QDialog):
    """A rule's evidence card: its outcome, the finding and the source (population, device,
    endpoint, effect, where it applies and what it does not support). Non-modal."""

    def __init__(self, flag: Flag, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Evidence: {flag_title(flag.id)}")
        self.setObjectName("evidence-dialog")
        self.flag = flag
        rows = "".join(
            f"<tr><td valign='top'><b>{html.escape(label)}</b></td>"
            f"<td>{html.escape(text)}</td></tr>"
            for label, text in evidence_lines(flag)
        )
        colour = flag_color(flag)
        self.text = (
            f"<p><span style='background:{colour}; color:white; padding:2px'>"
            f"&nbsp;{html.escape(flag_word(flag))}&nbsp;</span> "
            f"<b>{html.escape(flag_title(flag.id))}</b> ({html.escape(flag.id)})</p>"
            f"<p>{html.escape(flag.message)}</p>"
            f"<table cellspacing='4'>{rows}</table>"
            "<p><i>Not met means the published criterion does not hold; it is not a statement "
            "of low risk. Decision support, not a diagnosis.</i></p>"
        )
        browser = QTextBrowser()
        browser.setObjectName("evidence-text")
        browser.setHtml(self.text)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(browser)
        layout.addWidget(buttons)
        self.resize(620, 440)
