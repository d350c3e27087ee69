"""Runs the analysis of the open study on a worker thread, debounced after each edit.

A newer run supersedes an older one (the older one is cancelled and its outcome dropped), so
what the window shows is always the analysis of the current landmarks and settings.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from annulusview.app import messages
from annulusview.app.study import Study
from annulusview.app.workers import Task
from annulusview.core.aortic.valve import PlannedValve
from annulusview.core.errors import InputError
from annulusview.core.mitral import VirtualValve
from annulusview.core.rules import Rules
from annulusview.scene.build import prepare_labels
from annulusview.scene.state import SceneState

log = logging.getLogger(__name__)
DEBOUNCE_MS = 350


class AnalysisRunner(QObject):
    """The analysis of ``study``.

    Signals
    -------
    status(text)
        What the analysis is doing, or why it cannot run.
    finished(results, scene_cache)
        A run ended; ``scene_cache`` holds the lesion labels painted on the worker.

    Attributes
    ----------
    runs
        Number of finished runs (scripts and tests wait on it).
    """

    status = Signal(str)
    finished = Signal(object, object)

    def __init__(
        self,
        study: Study,
        mitral_valve: Callable[[], VirtualValve | None],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.study = study
        self.mitral_valve = mitral_valve
        self.runs = 0
        self.task: Task | None = None
        self._generation = 0
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(DEBOUNCE_MS)
        self.timer.timeout.connect(self.run)

    def schedule(self) -> None:
        """Run soon (edits in quick succession start one run)."""
        study = self.study
        if study.volume is not None and not study.landmarks.missing_aortic:
            self.timer.start()
        elif study.volume is not None:
            missing = ", ".join(study.landmarks.missing_aortic)
            self.status.emit(f"Place {missing} to run the analysis.")

    def rules(self) -> Rules | None:
        """The rules with the settings' region overrides, through the rules' own checks."""
        regions = self.study.settings.regions
        if not regions:
            return None
        from annulusview.core.rules import load_rules

        return load_rules(overrides={"regions": dict(regions)})

    def valve(self) -> PlannedValve | None:
        s = self.study.settings
        if s.valve_family and s.valve_size_mm is not None:
            from annulusview.core.aortic.devices import planned_valve

            return planned_valve(s.valve_family, s.valve_size_mm, s.implant_depth_mm)
        if s.valve_size_mm is None and s.implant_depth_mm is None:
            return None
        return PlannedValve(s.valve_size_mm, s.valve_type, s.implant_depth_mm)

    def run(self) -> None:
        """Start the analysis on a worker thread (a running one is cancelled)."""
        self.timer.stop()
        study = self.study
        if study.volume is None or study.landmarks.missing_aortic:
            return
        if self.task is not None and self.task.running:
            self.task.cancel()
        self._generation += 1
        generation = self._generation
        volume, landmarks, settings = study.volume, study.landmarks, study.settings
        try:
            rules, valve = self.rules(), self.valve()
        except InputError as exc:  # a settings value the rules refuse: say which
            self._failed(generation, exc)
            return
        mitral_valve = self.mitral_valve()

        def job(progress: Any, cancel: Any) -> Any:
            from annulusview.core.analysis import analyze

            results = analyze(
                volume,
                landmarks,
                rules,
                threshold=settings.threshold,
                valve=valve,
                sex=settings.sex,
                mitral_valve=mitral_valve,
                progress=progress,
                cancel=cancel,
            )
            # Only numpy work here: the lesion label crop. The VTK surfaces are built on the GUI
            # thread by build_scene (about 15 ms): VTK is not thread-safe, and filters running
            # here while the 3D view renders risk memory corruption.
            scene = SceneState(volume=volume, results=results, landmarks=landmarks)
            prepare_labels(scene)
            return results, scene.cache

        task = Task(job, "analysis")
        task.progressed.connect(lambda _f, text: self.status.emit(f"Analysing… {text}"))
        task.succeeded.connect(lambda outcome: self._done(generation, outcome))
        task.failed.connect(lambda exc: self._failed(generation, exc))
        self.task = task
        self.status.emit("Analysing…")
        task.start()

    def _failed(self, generation: int, exc: BaseException) -> None:
        if generation != self._generation:
            return
        message, hint = messages.error_text(exc)
        self.status.emit(f"Analysis not possible: {message} {hint}".strip())
        log.warning("analysis failed: %s", message)

    def _done(self, generation: int, outcome: Any) -> None:
        if generation != self._generation:
            return  # a newer run is on its way
        results, cache = outcome
        self.finished.emit(results, cache)
        self.runs += 1
