"""Cardiac phases in the window: a picker for the phases of one reconstruction, and a phase
switch that keeps the landmarks.

A multi-phase CTA is written as one series per phase (systole for sizing, diastole for the
calcium read). The phases of one reconstruction share the study, the frame of reference and
the image grid, so a landmark placed in one phase is a point of the same patient frame in the
others: a switch loads the other series (off the GUI thread, through
:class:`~annulusview.app.study_loader.StudyLoader`, without reading any header again), keeps the
landmarks and the view, and the analysis reruns on the new phase.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolBar, QWidget

from annulusview.app import messages
from annulusview.app.session import ViewState
from annulusview.core.io.types import ScanResult, SeriesSummary
from annulusview.core.landmarks import Landmarks
from annulusview.core.volume import Volume

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow

log = logging.getLogger(__name__)

FRAME_KEY = "frame_of_reference_uid"  # Volume.metadata key of the FrameOfReferenceUID


def phase_label(pct: float) -> str:
    """``"33.3 % R-R"``: a phase as the picker and the series dialog name it (0.1 % steps)."""
    return f"{round(float(pct), 1):g} % R-R"


def _reconstruction(scan: ScanResult, index: int) -> tuple[Any, ...] | None:
    """What the phases of one reconstruction share (as :mod:`annulusview.core.io.series`
    groups them): study, frame of reference, image count and image size. None without a
    phase."""
    summary = scan.series[index]
    if summary.cardiac_phase_pct is None:
        return None
    meta: dict[str, Any] = {}
    if index < len(scan.stacks):
        frames = getattr(getattr(scan.stacks[index], "plan", None), "frames", ())
        meta = dict(frames[0].meta) if frames else {}
    return (
        meta.get("study_instance_uid", ""),
        meta.get(FRAME_KEY, ""),
        summary.num_images,
        summary.shape[1],
        summary.shape[2],
    )


def phases_of(scan: ScanResult | None, series_id: str | None) -> list[SeriesSummary]:
    """The phases of the reconstruction ``series_id`` belongs to, in percent order.

    Empty when the series has no cardiac phase or is the only phase of its reconstruction
    (the picker is then hidden). ``series_id`` None means the scan's default series.
    """
    if scan is None or not scan.series:
        return []
    index = _index(scan.series, series_id) if series_id is not None else 0
    key = None if index is None else _reconstruction(scan, index)
    if key is None:
        return []
    group = [s for n, s in enumerate(scan.series) if _reconstruction(scan, n) == key]
    if len(group) < 2:
        return []
    return sorted(group, key=lambda s: float(s.cardiac_phase_pct or 0.0))  # stable


def _index(series: Sequence[SeriesSummary], series_id: str | None) -> int | None:
    """Where ``series_id`` (a series id, or a SeriesInstanceUID as sessions may hold) is."""
    for match in (lambda s: s.id == series_id, lambda s: s.series_instance_uid == series_id):
        for n, s in enumerate(series):
            if match(s):
                return n
    return None


def phase_labels(phases: Sequence[SeriesSummary]) -> list[str]:
    """Picker items; two series at one percent are told apart by their description."""
    labels = [phase_label(s.cardiac_phase_pct or 0.0) for s in phases]
    return [
        f"{label} ({s.description})" if labels.count(label) > 1 and s.description else label
        for label, s in zip(labels, phases, strict=True)
    ]


@dataclass(frozen=True)
class PhaseSwitch:
    """What a finished phase switch carries over to the new volume.

    Attributes
    ----------
    landmarks
        The landmarks before the switch (empty when the frames of reference differ).
    view
        Crosshair, window, toggles and camera before the switch (None: start afresh).
    """

    landmarks: Landmarks
    view: ViewState | None


class PhasePicker(QObject):
    """The "phase-picker" combo box in the View toolbar; hidden unless the open study holds
    two or more phases of one reconstruction.

    Attributes
    ----------
    phases
        The listed phases (series summaries, percent order).
    """

    def __init__(self, window: MainWindow, toolbar: QToolBar) -> None:
        super().__init__(window)
        self.window = window
        self.phases: list[SeriesSummary] = []
        self._from: tuple[str, ViewState] | None = None  # frame and view a switch started from
        self.combo = QComboBox()
        self.combo.setObjectName("phase-picker")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip(
            "Cardiac phase (percent of the R-R interval). Switching keeps the landmarks and "
            "reruns the analysis."
        )
        self.combo.activated.connect(window.guard(self._activated))
        box = QWidget()
        layout = QHBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel(" Cardiac phase "))
        layout.addWidget(self.combo)
        actions = toolbar.actions()
        if actions:
            self.action = toolbar.insertWidget(actions[0], box)
            toolbar.insertSeparator(actions[0])
        else:
            self.action = toolbar.addWidget(box)
        self.action.setVisible(False)
        loader = window.loader
        loader.loaded.connect(window.guard(self._loaded))
        loader.failed.connect(window.guard(lambda *_: self._switch_ended()))
        loader.cancelled.connect(window.guard(self._switch_ended))

    @property
    def shown(self) -> bool:
        """The picker is in the toolbar (a multi-phase study is open)."""
        return self.action.isVisible()

    def choose(self, series_id: str) -> None:
        """Switch to the phase ``series_id`` (one of :attr:`phases`): load it off the GUI
        thread; the landmarks carry over when it has loaded."""
        w = self.window
        if _index(self.phases, series_id) in (None, _index(self.phases, w.series_id)):
            self._select(w.series_id)
            return
        volume = w.volume
        frame = "" if volume is None else str(volume.metadata.get(FRAME_KEY, "") or "")
        self._from = (frame, w.sessions.current().view)
        self.combo.setEnabled(False)  # one switch at a time; re-enabled when it ends
        w.loader.switch_series(series_id)

    def take_switch(self, volume: Volume) -> PhaseSwitch | None:
        """Called as ``volume`` arrives, before the study takes it: for a phase switch, the
        landmarks and view to keep (the landmarks only in the same frame of reference);
        None for any other load."""
        if self._from is None or not self.window.loader.phase_switch:
            self._from = None
            return None
        frame, view = self._from
        self._from = None
        new_frame = str(volume.metadata.get(FRAME_KEY, "") or "")
        if frame and frame == new_frame:
            return PhaseSwitch(self.window.landmarks, view)
        log.warning("phase switch: frame of reference %r -> %r", frame, new_frame)
        if self.window.landmarks.points:
            messages.show_message(
                self.window,
                "Landmarks not kept",
                "This phase is not in the same patient frame (FrameOfReferenceUID) as the "
                "previous one, so the landmarks were not carried over.",
                "Place or import the landmarks again for this phase.",
            )
        return PhaseSwitch(Landmarks(), view)

    def _activated(self, index: int) -> None:
        if 0 <= index < len(self.phases):
            self.choose(self.phases[index].id)

    def _loaded(self, path: Path, series: str | None, volume: Volume) -> None:
        """A series loaded (a new study or a switch): list its reconstruction's phases."""
        self.phases = phases_of(self.window.loader.scan, series)
        self.combo.clear()
        self.combo.addItems(phase_labels(self.phases))
        self.combo.setEnabled(True)
        self._select(series)
        self.action.setVisible(bool(self.phases))

    def _switch_ended(self) -> None:
        """A load failed or was cancelled: the loaded phase stays, and the picker says so."""
        self._from = None
        self.combo.setEnabled(True)
        self._select(self.window.series_id)

    def _select(self, series_id: str | None) -> None:
        index = _index(self.phases, series_id)
        if index is not None:
            self.combo.setCurrentIndex(index)
