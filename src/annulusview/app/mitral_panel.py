"""The mitral part of the window (section 8): panel, virtual valve controls, neo-LVOT view.

:class:`MitralUI` hooks into an existing :class:`~annulusview.app.main_window.MainWindow`: it
adds a "Mitral" dock (annulus measurements, MAC CT score with its components and grade,
trigone and leaflet involvement, neo-LVOT area and where it is, what was not assessed), spin
boxes for the virtual valve (a change reruns the analysis on the window's worker), a
"Neo-LVOT plane" tab beside the annulus and LVOT views, the 3D toggles "Mitral" and "Virtual
valve", and the "Mitral annulus curve" checklist item whose clicks add ``MA_01``, ``MA_02``...
through the window's undo stack. The window calls :meth:`MitralUI.valve` when it starts an
analysis and :meth:`MitralUI.show_results` when one is done.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QToolBar,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annulusview.app.actions import make_action
from annulusview.app.slice_view import ObliqueSource, Overlay, SliceView
from annulusview.app.undo import SetLandmarkCommand
from annulusview.core.errors import InputError
from annulusview.core.landmarks import MITRAL_CURVE_PATTERN, Landmarks
from annulusview.core.mitral import MitralResults, VirtualValve
from annulusview.core.presentation import EMPTY, flag_color, flag_word, fmt, part_title
from annulusview.core.results import Results

MA_CURVE = "MA_curve"  # the checklist item (not a landmark name): clicks add MA_01, MA_02...
NEO_LVOT_VIEW_MM = 50.0


def next_curve_name(landmarks: Landmarks) -> str:
    """The next free ``MA_nn`` name (one past the highest number placed)."""
    numbers = [
        int(match.group(1))
        for name in landmarks.names()
        if (match := MITRAL_CURVE_PATTERN.match(name)) is not None
    ]
    return f"MA_{max(numbers, default=0) + 1:02d}"


class MitralPanel(QWidget):
    """Read-only mitral results plus the virtual valve's spin boxes.

    ``labels[key]`` holds each value's label (keys like ``annulus.perimeter_mm``,
    ``score.total``, ``neo.area_mm2``) so tests and scripts read what the user reads.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: dict[str, QLabel] = {}
        inner = QWidget()
        layout = QVBoxLayout(inner)
        layout.setContentsMargins(4, 4, 4, 4)

        def group(title: str, rows: list[tuple[str, str]]) -> QFormLayout:
            box = QGroupBox(title)
            form = QFormLayout(box)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
            for key, text in rows:
                label = QLabel("—")
                label.setObjectName(f"mitral-{key}")
                label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                label.setWordWrap(True)
                self.labels[key] = label
                form.addRow(text, label)
            layout.addWidget(box)
            return form

        group(
            "Mitral annulus",
            [
                ("annulus.method", "Source"),
                ("annulus.perimeter_mm", "Perimeter"),
                ("annulus.area_mm2", "Area (projected)"),
                ("annulus.ap_diameter_mm", "A-P diameter"),
                ("annulus.ic_diameter_mm", "Intercommissural"),
            ],
        )
        group(
            "D-shaped annulus for TMVR (Blanke 2015)",
            [
                ("dshape.tt_mm", "Trigone-trigone (TT)"),
                ("dshape.sl_mm", "Septal-lateral (SL)"),
                ("dshape.ic_mm", "Intercommissural (IC)"),
                ("dshape.d_area_mm2", "D area (projected)"),
                ("dshape.d_perimeter_mm", "D perimeter"),
                ("dshape.saddle_perimeter_mm", "Saddle perimeter (3D)"),
                ("dshape.aorto_mitral_deg", "Aorto-mitral angle"),
            ],
        )
        group(
            "MAC",
            [
                ("mac.volume_mm3", "Calcium volume"),
                ("mac.caseous", "Caseous MAC (suspected)"),
                ("mac.extent_deg", "Circumferential extent"),
                ("mac.thickness_mean_mm", "Thickness mean"),
                ("mac.thickness_max_mm", "Thickness max"),
                ("mac.trigones", "Trigones"),
                ("mac.leaflets", "Leaflets"),
            ],
        )
        group(
            "MAC CT score (Guerrero 2020)",
            [
                ("score.thickness", "Thickness"),
                ("score.extent", "Extent"),
                ("score.trigones", "Trigones"),
                ("score.leaflets", "Leaflets"),
                ("score.total", "Total (0-10)"),
                ("score.grade", "Grade"),
            ],
        )
        group(
            "Neo-LVOT",
            [
                ("neo.area_mm2", "Neo-LVOT area"),
                ("neo.flag", "Risk"),
                ("neo.where", "Narrowest plane"),
                ("neo.area_without_valve_mm2", "LVOT without valve"),
            ],
        )
        valve_box = QGroupBox("Virtual valve (reruns the analysis)")
        valve_form = QFormLayout(valve_box)
        defaults = VirtualValve.from_rules()
        self.diameter = self._spin("valve-diameter", 15.0, 50.0, defaults.diameter_mm, 1.0, " mm")
        self.height = self._spin("valve-height", 5.0, 50.0, defaults.height_mm, 1.0, " mm")
        self.share = self._spin(
            "valve-share", 0.0, 1.0, defaults.ventricular_share, 0.05, "", decimals=2
        )
        valve_form.addRow("Diameter", self.diameter)
        valve_form.addRow("Height", self.height)
        valve_form.addRow("Ventricular share", self.share)
        layout.addWidget(valve_box)
        self.not_assessed = QLabel("")
        self.not_assessed.setObjectName("mitral-not-assessed")
        self.not_assessed.setWordWrap(True)
        self.not_assessed.setStyleSheet("color: #EE7733")
        layout.addWidget(self.not_assessed)
        self.warnings = QLabel("")
        self.warnings.setObjectName("mitral-warnings")
        self.warnings.setWordWrap(True)
        self.warnings.setStyleSheet("color: #AAAAAA")
        layout.addWidget(self.warnings)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

    def _spin(
        self,
        name: str,
        low: float,
        high: float,
        value: float,
        step: float,
        suffix: str,
        decimals: int = 1,
    ) -> QDoubleSpinBox:
        spin = QDoubleSpinBox()
        spin.setObjectName(name)
        spin.setRange(low, high)
        spin.setDecimals(decimals)
        spin.setSingleStep(step)
        spin.setValue(value)
        spin.setSuffix(suffix)
        spin.setKeyboardTracking(False)  # one rerun per committed value, not per keystroke
        return spin

    def valve(self) -> VirtualValve | None:
        """The valve in the spin boxes (None when the values are not a valid valve)."""
        try:
            return VirtualValve(self.diameter.value(), self.height.value(), self.share.value())
        except InputError:
            return None

    def text(self, key: str) -> str:
        return self.labels[key].text()

    def clear(self) -> None:
        for label in self.labels.values():
            label.setText("—")
            label.setStyleSheet("")
        self.not_assessed.setText("")
        self.warnings.setText("")

    def show_mitral(self, mitral: MitralResults | None) -> None:
        """Fill the panel from the mitral section of the results."""
        self.clear()
        if mitral is None:
            self.not_assessed.setText("No mitral results (run the analysis).")
            return
        ann = mitral.annulus
        if ann is not None:
            method = {"MA_curve": "MA_* curve", "landmark_curve": "MV_* landmarks"}
            self.labels["annulus.method"].setText(
                f"{method.get(ann.method, ann.method)} ({len(ann.control_points_lps)} points)"
            )
            self.labels["annulus.perimeter_mm"].setText(fmt(ann.perimeter_mm, 1, "mm"))
            self.labels["annulus.area_mm2"].setText(fmt(ann.area_mm2, 0, "mm2"))
            self.labels["annulus.ap_diameter_mm"].setText(fmt(ann.ap_diameter_mm, 1, "mm"))
            self.labels["annulus.ic_diameter_mm"].setText(fmt(ann.ic_diameter_mm, 1, "mm"))
        dsh = mitral.d_shape
        if dsh is not None:
            for key, unit, digits in (
                ("tt_mm", "mm", 1),
                ("sl_mm", "mm", 1),
                ("ic_mm", "mm", 1),
                ("d_area_mm2", "mm2", 0),
                ("d_perimeter_mm", "mm", 1),
                ("saddle_perimeter_mm", "mm", 1),
            ):
                self.labels[f"dshape.{key}"].setText(fmt(getattr(dsh, key), digits, unit))
        self.labels["dshape.aorto_mitral_deg"].setText(fmt(mitral.aorto_mitral_angle_deg, 0, "deg"))
        mac = mitral.mac
        if mac is not None:
            caseous = [les for les in mac.lesions if les.caseous_suspected]
            label = self.labels["mac.caseous"]
            if caseous:
                label.setText(
                    "; ".join(
                        f"lesion {les.id}: {fmt(les.enclosed_mm3, 0, 'mm3')} softer core"
                        for les in caseous
                    )
                    + ". A calcified shell around a softer core can mimic a mass or an abscess."
                )
                label.setStyleSheet("color: #EE7733; font-weight: bold")
            else:
                label.setText("none")
            self.labels["mac.volume_mm3"].setText(
                f"{fmt(mac.volume_mm3, 0, 'mm3')} in {len(mac.lesions)} lesion(s)"
            )
            self.labels["mac.extent_deg"].setText(fmt(mac.extent_deg, 0, "deg"))
            self.labels["mac.thickness_mean_mm"].setText(fmt(mac.thickness_mean_mm, 1, "mm"))
            self.labels["mac.thickness_max_mm"].setText(fmt(mac.thickness_max_mm, 1, "mm"))
            tri = mac.trigones
            self.labels["mac.trigones"].setText(
                f"L {fmt(tri.get('L'))}, R {fmt(tri.get('R'))}" if tri else EMPTY
            )
            self.labels["mac.leaflets"].setText(
                f"anterior {fmt(mac.anterior_leaflet)}, posterior {fmt(mac.posterior_leaflet)}"
            )
            score = mac.score
            for key in ("thickness", "extent", "trigones", "leaflets", "total"):
                self.labels[f"score.{key}"].setText(str(getattr(score, key)))
            self.labels["score.grade"].setText(score.grade)
            colour = {"severe": "#CC3311", "moderate": "#EE7733", "mild": "#009988"}.get(
                score.grade
            )
            if colour:
                self.labels["score.grade"].setStyleSheet(f"color: {colour}; font-weight: bold")
        neo = mitral.neo_lvot
        if neo is not None:
            self.labels["neo.area_mm2"].setText(fmt(neo.area_mm2, 0, "mm2"))
            pos = neo.position_lps
            where = f"{fmt(neo.distance_from_annulus_mm, 1, 'mm')} below the aortic annulus"
            where += f" (LPS {pos[0]:.1f}, {pos[1]:.1f}, {pos[2]:.1f})"
            self.labels["neo.where"].setText(where)
            self.labels["neo.area_without_valve_mm2"].setText(
                fmt(neo.area_without_valve_mm2, 0, "mm2")
            )
        for flag in mitral.flags:
            if flag.id == "mitral.neo_lvot":
                label = self.labels["neo.flag"]
                label.setText(f"{flag_word(flag).lower()}: {flag.message}")
                label.setStyleSheet(f"color: {flag_color(flag)}")
        if mitral.not_assessed:
            self.not_assessed.setText(
                "Not assessed:\n"
                + "\n".join(
                    f"• {part_title(part)}: {why}" for part, why in mitral.not_assessed.items()
                )
            )
        if mitral.warnings:
            self.warnings.setText("\n".join(f"• {w}" for w in mitral.warnings))


class MitralUI:
    """Everything mitral in ``window`` (see the module docstring)."""

    def __init__(self, window: Any) -> None:
        self.window = window
        self.panel = MitralPanel()
        self.panel.setObjectName("mitral-panel")
        dock = QDockWidget("Mitral", window)
        dock.setObjectName("dock-mitral")
        dock.setWidget(self.panel)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        results_dock = window.findChild(QDockWidget, "dock-results")
        if results_dock is not None:
            window.tabifyDockWidget(results_dock, dock)
            results_dock.raise_()
        self.dock = dock
        for spin in (self.panel.diameter, self.panel.height, self.panel.share):
            spin.valueChanged.connect(self._valve_changed)

        self.view = SliceView("neo-LVOT plane")
        self.view.window_changed.connect(window.set_window)
        self.tab_index = window.oblique_tabs.addTab(self.view, "Neo-LVOT plane")

        # 3D toggles, next to the others (refresh_scene copies every toggle action's state)
        tools = window.findChild(QToolBar, "toolbar-view")
        for key, text in (("mitral", "Mitral"), ("virtual_valve", "Virtual valve")):
            action = make_action(
                window, text, lambda _=False: window.refresh_scene(), None, checkable=True
            )
            action.setChecked(True)
            window.toggle_actions[key] = action
            if tools is not None:
                tools.addAction(action)

        # the curve item of the landmark checklist
        self.curve_item: QTreeWidgetItem | None = None
        tree = window.landmark_panel.tree
        for row in range(tree.topLevelItemCount()):
            group = tree.topLevelItem(row)
            if group.text(0).startswith("Mitral"):
                item = QTreeWidgetItem(["Mitral annulus curve (MA_*)", ""])
                item.setToolTip(
                    0,
                    "Ordered closed curve: press Place, then each click adds the next point "
                    "(MA_01, MA_02, ...); Esc stops. Drag a point to move it.",
                )
                item.setData(0, Qt.ItemDataRole.UserRole, MA_CURVE)
                group.addChild(item)
                self.curve_item = item
        window.undo_stack.indexChanged.connect(lambda _i: self.update_curve_count())

    # --- virtual valve ---------------------------------------------------------------------

    def valve(self) -> VirtualValve | None:
        """The valve for the next analysis (None: the rules' default)."""
        return self.panel.valve()

    def _valve_changed(self, _value: float) -> None:
        self.window.schedule_analysis()

    def set_valve(self, diameter_mm: float, height_mm: float, ventricular_share: float) -> None:
        """Set the spin boxes (each change reruns the analysis, debounced by the window)."""
        self.panel.diameter.setValue(diameter_mm)
        self.panel.height.setValue(height_mm)
        self.panel.share.setValue(ventricular_share)

    # --- MA curve --------------------------------------------------------------------------

    def add_curve_point(self, lps: Any) -> str:
        """Add the next ``MA_nn`` at ``lps`` (undoable); the window keeps placing."""
        name = next_curve_name(self.window.landmarks)
        self.window.undo_stack.push(
            SetLandmarkCommand(self.window.study, name, None, lps, f"Place {name}")
        )
        self.window.status_label.setText(
            f"{name} placed; click to add the next point of the mitral annulus, Esc to stop."
        )
        return name

    def update_curve_count(self) -> None:
        if self.curve_item is None:
            return
        count = len(self.window.landmarks.mitral_curve)
        self.curve_item.setText(1, f"{count} pts" if count else "")

    # --- results ---------------------------------------------------------------------------

    def show_results(self, results: Results | None) -> None:
        """Fill the panel and the neo-LVOT view from a finished analysis (None: clear)."""
        mitral = None if results is None else results.mitral
        self.panel.show_mitral(mitral)
        self.update_curve_count()
        self._update_view(mitral)

    def _update_view(self, mitral: MitralResults | None) -> None:
        volume = self.window.volume
        neo = None if mitral is None else mitral.neo_lvot
        if mitral is None or neo is None or volume is None:
            self.view.set_source(None)
            reason = None if mitral is None else mitral.not_assessed.get("neo_lvot")
            self.view.overlay = Overlay(text=[reason] if reason else [])
            self.view.update()
            return
        from annulusview.scene.mitral import NEO_LVOT_COLOR, neo_lvot_outline_lps

        source = ObliqueSource(
            volume,
            "neo_lvot",
            np.asarray(neo.position_lps),
            np.asarray(neo.plane_v_lps),
            np.asarray(neo.plane_u_lps),
            size_mm=NEO_LVOT_VIEW_MM,
            pixel_mm=0.25,
            half_depth_mm=10.0,
        )
        self.view.set_source(source)
        overlay = Overlay()
        for outline in neo_lvot_outline_lps(neo):
            overlay.polylines.append((outline, NEO_LVOT_COLOR))
        overlay.markers.append((np.asarray(neo.centroid_lps), NEO_LVOT_COLOR))
        valve = neo.valve
        overlay.text = [
            f"Neo-LVOT area {neo.area_mm2:.0f} mm² (outlined)",
            f"{neo.distance_from_annulus_mm:.1f} mm below the aortic annulus",
            f"valve {valve.diameter_mm:g} x {valve.height_mm:g} mm, "
            f"{100 * valve.ventricular_share:.0f}% ventricular",
        ]
        self.view.overlay = overlay
        self.view.set_window(
            self.window.views["axial"].window_width, self.window.views["axial"].window_level
        )
        self.view.update()
