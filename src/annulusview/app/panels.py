"""Side panels: the landmark checklist and the analysis results."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QStyle,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annulusview.app.dialogs import EvidenceDialog
from annulusview.core.flags import Flag
from annulusview.core.landmarks import (
    AORTIC_OPTIONAL,
    AORTIC_REQUIRED,
    DESCRIPTIONS,
    KNOWN_NAMES,
    MITRAL_CURVE_PATTERN,
    MITRAL_NAMES,
    Landmarks,
)
from annulusview.core.presentation import (
    coronary_rows,
    flag_color,
    flag_rank,
    flag_title,
    flag_word,
    fluoro_rows,
    fmt,
    plane_range,
    root_rows,
    sizing_rows,
)
from annulusview.core.results import Lesion, Results


class LandmarkPanel(QWidget):
    """Checklist of landmark names; pick one and click in a view to place it.

    Signals
    -------
    place_requested(name)
        The user wants to place (or re-place) ``name`` with the next click.
    delete_requested(name)
    jump_requested(name)
        Double-click: centre the views on the landmark.
    """

    place_requested = Signal(str)
    delete_requested = Signal(str)
    jump_requested = Signal(str)
    import_requested = Signal()
    export_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tree = QTreeWidget()
        self.tree.setObjectName("landmark-tree")
        self.tree.setHeaderLabels(["Landmark", "Placed"])
        self.tree.setRootIsDecorated(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.items: dict[str, QTreeWidgetItem] = {}
        groups = (
            ("Aortic - required", AORTIC_REQUIRED),
            ("Aortic - optional", AORTIC_OPTIONAL),
            ("Mitral - optional", MITRAL_NAMES),
        )
        for title, names in groups:
            group = QTreeWidgetItem([title, ""])
            group.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.tree.addTopLevelItem(group)
            for name in names:
                item = QTreeWidgetItem([name, ""])
                item.setToolTip(0, DESCRIPTIONS.get(name, name))
                item.setData(0, Qt.ItemDataRole.UserRole, name)
                group.addChild(item)
                self.items[name] = item
            group.setExpanded(True)
        self.other_group = QTreeWidgetItem(["Other (kept, not used)", ""])
        self.tree.addTopLevelItem(self.other_group)
        self.tree.itemDoubleClicked.connect(self._double_clicked)
        self.place_button = QPushButton("Place")
        self.place_button.setToolTip(
            "Place the selected landmark with the next click in a view (P)"
        )
        self.delete_button = QPushButton("Delete")
        self.import_button = QPushButton("Import…")
        self.export_button = QPushButton("Export…")
        self.place_button.clicked.connect(self._place)
        self.delete_button.clicked.connect(self._delete)
        self.import_button.clicked.connect(self.import_requested)
        self.export_button.clicked.connect(self.export_requested)
        self.hint = QLabel("Select a name, press Place, then click in a view. Drag to move.")
        self.hint.setWordWrap(True)
        buttons = QHBoxLayout()
        for b in (self.place_button, self.delete_button, self.import_button, self.export_button):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.tree)
        layout.addLayout(buttons)
        layout.addWidget(self.hint)
        # Wide enough that no name is cut ("RCC_hi..."): the longest name, its indentation,
        # the Placed column, the frame and a scroll bar.
        self.tree.setMinimumWidth(self.names_width_px())

    def names_width_px(self) -> int:
        """Width (pixels) the tree needs to show every landmark name in full."""
        metrics = self.tree.fontMetrics()
        longest = max(metrics.horizontalAdvance(name) for name in self.items)
        placed = max(metrics.horizontalAdvance("Placed"), metrics.horizontalAdvance("✓")) + 16
        scroll_bar = self.tree.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        return longest + 2 * self.tree.indentation() + 24 + placed + scroll_bar

    def selected_name(self) -> str | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        name = item.data(0, Qt.ItemDataRole.UserRole)
        return str(name) if name else None

    def select(self, name: str) -> None:
        item = self.items.get(name)
        if item is not None:
            self.tree.setCurrentItem(item)

    def _place(self) -> None:
        name = self.selected_name()
        if name:
            self.place_requested.emit(name)

    def _delete(self) -> None:
        name = self.selected_name()
        if name:
            self.delete_requested.emit(name)

    def _double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        name = item.data(0, Qt.ItemDataRole.UserRole)
        if name:
            self.jump_requested.emit(str(name))

    def update_landmarks(self, landmarks: Landmarks, placing: str | None = None) -> None:
        """Tick placed names; list unknown ones under Other."""
        for name, item in self.items.items():
            placed = name in landmarks
            proposed = name in landmarks.proposed
            # "?": proposed by the program, not yet accepted (orange, as in the views)
            mark = "?" if proposed else "✓"
            item.setText(1, mark if placed else ("…" if name == placing else ""))
            item.setToolTip(1, "proposed by the program: review it" if proposed else "")
            colour = "#EE7733" if proposed else ("#44BB99" if placed else "#DDDDDD")
            item.setForeground(0, QBrush(QColor("#FFFF66" if name == placing else colour)))
        self.other_group.takeChildren()
        for name in landmarks.names():
            if name not in KNOWN_NAMES and not MITRAL_CURVE_PATTERN.match(name):
                item = QTreeWidgetItem([name, "✓"])
                item.setData(0, Qt.ItemDataRole.UserRole, name)
                self.other_group.addChild(item)
        self.other_group.setHidden(self.other_group.childCount() == 0)
        missing = landmarks.missing_aortic
        if missing:
            self.hint.setText(f"To run the analysis, place: {', '.join(missing)}.")
        else:
            self.hint.setText("Hinges placed: the analysis runs automatically. Drag to move.")


class _NumItem(QTableWidgetItem):
    """Sorts by number."""

    def __init__(self, value: Any, text: str) -> None:
        super().__init__(text)
        self._value = float(value) if isinstance(value, int | float) else float("inf")

    def __lt__(self, other: QTableWidgetItem) -> bool:
        if isinstance(other, _NumItem):
            return self._value < other._value
        return super().__lt__(other)


class ResultsPanel(QWidget):
    """Annulus measurements, calcium totals, lesion table, flags, and the disclaimer.

    Signals
    -------
    lesion_selected(lesion)
        A :class:`~annulusview.core.results.Lesion` picked in the table.
    """

    lesion_selected = Signal(object)

    LESION_COLUMNS = (
        ("id", "#", ""),
        ("volume_mm3", "Volume", "mm³"),
        ("region", "Region", ""),
        ("cusp", "Cusp", ""),
        ("distance_to_conduction_mm", "To conduction", "mm"),
        ("distance_to_lvot_mm", "To LVOT", "mm"),
        ("inward_extent_mm", "Inward", "mm"),
        ("max_hu", "Max HU", ""),
    )

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = QLabel("No analysis yet.")
        self.status.setObjectName("analysis-status")
        self.status.setWordWrap(True)
        self.tabs = QTabWidget()
        # annulus
        annulus = QWidget()
        self.annulus_form = QFormLayout(annulus)
        self.annulus_labels: dict[str, QLabel] = {}
        for key, title in (
            ("perimeter_mm", "Perimeter"),
            ("area_mm2", "Area"),
            ("d_min_mm", "Min diameter"),
            ("d_max_mm", "Max diameter"),
            ("d_perimeter_mm", "Perimeter-derived diameter"),
            ("d_area_mm", "Area-derived diameter"),
            ("plane_range", "Area over the plane check"),
            ("method", "Method"),
            ("threshold", "Calcium threshold"),
            ("lumen", "Lumen attenuation"),
            ("phase", "Cardiac phase"),
            ("ms_length", "Infra-annular MS (IAMS)"),
            ("lca", "LCA height"),
            ("rca", "RCA height"),
        ):
            label = QLabel("—")
            label.setObjectName(f"annulus-{key}")
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.annulus_form.addRow(title, label)
            self.annulus_labels[key] = label
        self.tabs.addTab(annulus, "Annulus")
        # calcium
        self.calcium_table = QTableWidget(0, 3)
        self.calcium_table.setObjectName("calcium-table")
        self.calcium_table.setHorizontalHeaderLabels(["Where", "Volume (mm³)", "Agatston"])
        self.calcium_table.verticalHeader().setVisible(False)
        self.calcium_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.tabs.addTab(self.calcium_table, "Calcium")
        # lesions
        self.lesion_table = QTableWidget(0, len(self.LESION_COLUMNS))
        self.lesion_table.setObjectName("lesion-table")
        self.lesion_table.setHorizontalHeaderLabels(
            [f"{t} ({u})" if u else t for _, t, u in self.LESION_COLUMNS]
        )
        self.lesion_table.verticalHeader().setVisible(False)
        self.lesion_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.lesion_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.lesion_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.lesion_table.setSortingEnabled(True)
        self.lesion_table.itemSelectionChanged.connect(self._lesion_clicked)
        self.tabs.addTab(self.lesion_table, "Lesions")
        # flags
        self.flag_table = QTableWidget(0, 5)
        self.flag_table.setObjectName("flag-table")
        self.flag_table.setHorizontalHeaderLabels(
            ["Outcome", "Rule", "Value", "Threshold", "Finding (double-click: evidence)"]
        )
        self.flag_table.cellDoubleClicked.connect(self._flag_double_clicked)
        self._flags: list[Flag] = []
        self.evidence_dialog: EvidenceDialog | None = None
        self.flag_table.verticalHeader().setVisible(False)
        self.flag_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.flag_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.flag_table, "Risk rules")
        # root, coronaries and C-arm views (clinical-model 4.2, 4.3, 7.2, 9): one table
        self.root_table = QTableWidget(0, 3)
        self.root_table.setObjectName("root-table")
        self.root_table.setHorizontalHeaderLabels(["Measure", "Value", "Plane / note"])
        self.root_table.verticalHeader().setVisible(False)
        self.root_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.root_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.root_table, "Root")
        # valve sizing per family (clinical-model 7.1)
        self.sizing_table = QTableWidget(0, 5)
        self.sizing_table.setObjectName("sizing-table")
        self.sizing_table.setHorizontalHeaderLabels(
            ["Family", "Sized by", "Measured", "Suggested", "Oversizing per size / reason"]
        )
        self.sizing_table.verticalHeader().setVisible(False)
        self.sizing_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.sizing_table.horizontalHeader().setStretchLastSection(True)
        self.tabs.addTab(self.sizing_table, "Sizing")
        self.warnings = QLabel("")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #EE7733")
        import annulusview

        self.disclaimer = QLabel(annulusview.DISCLAIMER)
        self.disclaimer.setObjectName("disclaimer")
        self.disclaimer.setWordWrap(True)
        self.disclaimer.setStyleSheet(
            "background: #332b00; color: #FFDD66; padding: 4px; border: 1px solid #665500"
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.status)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.warnings)
        layout.addWidget(self.disclaimer)
        self._lesions: dict[int, Lesion] = {}

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def clear(self) -> None:
        for label in self.annulus_labels.values():
            label.setText("—")
        self.calcium_table.setRowCount(0)
        self.lesion_table.setRowCount(0)
        self.flag_table.setRowCount(0)
        self.sizing_table.setRowCount(0)
        self._flags = []
        self.warnings.setText("")
        self._lesions = {}

    def show_results(self, res: Results) -> None:
        """Fill every panel from the analysis results."""
        ann = res.annulus
        for key, unit in (
            ("perimeter_mm", "mm"),
            ("area_mm2", "mm2"),
            ("d_min_mm", "mm"),
            ("d_max_mm", "mm"),
            ("d_perimeter_mm", "mm"),
            ("d_area_mm", "mm"),
        ):
            self.annulus_labels[key].setText(fmt(getattr(ann, key), 1, unit))
        plane = plane_range(ann.area_plane_range_mm2, "mm2")
        if ann.plane_check_mm is not None:
            plane += f" (plane moved \u00b1{ann.plane_check_mm:g} mm)"
        self.annulus_labels["plane_range"].setText(plane)
        self.annulus_labels["plane_range"].setToolTip(
            "The annulus area with the hinge plane where it is and moved either way: a wide "
            "range means the size depends on exactly where the plane lies."
        )
        self.annulus_labels["method"].setText(
            ann.method if ann.sized else f"{ann.method} (not sized: needs a contrast CTA)"
        )
        self.annulus_labels["threshold"].setText(
            f"{fmt(res.threshold_hu, 0, 'HU')} ({res.threshold_method})"
        )
        self.annulus_labels["lumen"].setText(fmt(res.lumen_hu, 0, "HU"))
        scan = res.scan
        self.annulus_labels["phase"].setText("—" if scan is None else scan.phase_text)
        self.annulus_labels["phase"].setToolTip("\n".join(scan.checks) if scan else "")
        self.annulus_labels["ms_length"].setText(fmt(res.ms_length_mm, 1, "mm"))
        heights = res.coronary_heights_mm
        self.annulus_labels["lca"].setText(fmt(heights.get("LCA"), 1, "mm"))
        self.annulus_labels["rca"].setText(fmt(heights.get("RCA"), 1, "mm"))

        calcium = res.calcium
        rows: list[tuple[str, float, float | None]] = [
            ("Total (analysis region)", calcium.volume_mm3, calcium.agatston)
        ]
        for region, total in calcium.by_region.items():
            rows.append((f"Region: {region}", total.volume_mm3, total.agatston))
        for cusp, total in calcium.by_cusp.items():
            rows.append((f"Cusp: {cusp}", total.volume_mm3, total.agatston))
        self.calcium_table.setRowCount(len(rows))
        for r, (title, volume, agatston) in enumerate(rows):
            self.calcium_table.setItem(r, 0, QTableWidgetItem(title))
            self.calcium_table.setItem(r, 1, QTableWidgetItem(fmt(volume)))
            self.calcium_table.setItem(r, 2, QTableWidgetItem(fmt(agatston, 0)))
        self.calcium_table.resizeColumnsToContents()

        self._lesions = {les.id: les for les in res.lesions}
        faint = res.faint_lesion_ids
        table = self.lesion_table
        table.setSortingEnabled(False)
        table.blockSignals(True)
        table.setRowCount(len(res.lesions))
        for r, les in enumerate(res.lesions):
            for c, (key, _, _) in enumerate(self.LESION_COLUMNS):
                value = getattr(les, key)
                digits = 0 if key in ("id", "max_hu") else 1
                item = (
                    _NumItem(value, fmt(value, digits))
                    if not isinstance(value, str)
                    else QTableWidgetItem(value)
                )
                item.setData(Qt.ItemDataRole.UserRole, les.id)
                if key == "max_hu" and les.id in faint:
                    # below the noise floor: noise alone could make it
                    item.setText(f"{item.text()} (faint)")
                    item.setToolTip(
                        f"Below the noise floor of {res.calcium_noise['floor_hu']:.0f} HU: image "
                        "noise alone could make this lesion; a rule met only through such "
                        "lesions is indeterminate."
                    )
                table.setItem(r, c, item)
        table.blockSignals(False)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()

        self._flags = sorted(res.flags, key=flag_rank)
        self.flag_table.setRowCount(len(self._flags))
        for r, flag in enumerate(self._flags):
            cells = [
                flag_word(flag),
                flag_title(flag.id),
                fmt(flag.value, 1, flag.unit),
                fmt(flag.threshold, 1, flag.unit),
                flag.message,
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 0:
                    item.setForeground(QBrush(QColor(flag_color(flag))))
                item.setToolTip(f"{flag.id}: {flag.reference} (double-click for the evidence)")
                self.flag_table.setItem(r, c, item)
        self.flag_table.resizeColumnsToContents()
        root: list[tuple[str, str, str]] = list(root_rows(res.root, res.annulus.eccentricity))
        for artery, height, sinus, vtc, outcome in coronary_rows(res):
            root.append((f"{artery} ostium height", height, f"sinus {sinus}; VTC {vtc}; {outcome}"))
        for view, angles, shows in fluoro_rows(res):
            root.append((f"C-arm: {view}", angles, shows))
        self.root_table.setRowCount(len(root))
        for r, cells in enumerate(root):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.root_table.setItem(r, c, item)
        self.root_table.resizeColumnsToContents()
        sizing = sizing_rows(res.sizing)
        self.sizing_table.setRowCount(len(sizing))
        for r, cells in enumerate(sizing):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(str(res.sizing[r].get("source", "")))
                self.sizing_table.setItem(r, c, item)
        self.sizing_table.resizeColumnsToContents()
        self.warnings.setText("\n".join(f"⚠ {w}" for w in res.warnings))
        self.disclaimer.setText(res.disclaimer)

    def show_evidence(self, row: int) -> EvidenceDialog | None:
        """Open the evidence card of the rule in ``row`` of the table (non-modal)."""
        if not 0 <= row < len(self._flags):
            return None
        dialog = EvidenceDialog(self._flags[row], self)
        self.evidence_dialog = dialog
        dialog.show()
        return dialog

    def _flag_double_clicked(self, row: int, _column: int) -> None:
        self.show_evidence(row)

    def lesion_row(self, lesion_id: int) -> int:
        for r in range(self.lesion_table.rowCount()):
            item = self.lesion_table.item(r, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == lesion_id:
                return r
        return -1

    def _lesion_clicked(self) -> None:
        items = self.lesion_table.selectedItems()
        if not items:
            return
        lesion_id = items[0].data(Qt.ItemDataRole.UserRole)
        if lesion_id in self._lesions:
            self.lesion_selected.emit(self._lesions[lesion_id])
