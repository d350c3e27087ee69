"""Proposed aortic landmarks in the window: propose them off the GUI thread, then review each.

Opening a contrast CTA without aortic landmarks (or Edit > Propose aortic landmarks) runs
:func:`annulusview.propose_landmarks` on a worker thread. The proposal becomes the study's
landmarks at once (one undoable step), so the analysis runs on it, and every flag that rests on a
proposed point says so (``inputs_unconfirmed``) until a person accepts that point. The proposed
points are drawn hollow and dashed (2D) and as orange wire spheres (3D).

The review panel walks through the proposed points: each is centred in every view (the annulus
plane view for hinges and commissures, the LVOT long axis for the ostia) with its confidence and
the reason when it is low, and the reader chooses **Accept** (the point stays, confirmed),
**Move** (click where it belongs: a placed point is a person's) or **Skip** (look at the next one
first). Nothing is accepted silently.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annulusview.app.undo import ReplaceLandmarksCommand
from annulusview.app.workers import Task
from annulusview.core.errors import InputError
from annulusview.core.landmarks import AORTIC_REQUIRED, Landmarks

if TYPE_CHECKING:
    from annulusview.app.main_window import MainWindow
    from annulusview.core.aortic.propose import ProposedLandmarks

log = logging.getLogger(__name__)

#: The oblique view each kind of point is best judged in.
_VIEW_FOR = {"hinge": "annulus", "commissure": "annulus", "ostium": "lvot"}


def _kind(name: str) -> str:
    return name.rsplit("_", 1)[-1]


class ProposalReview(QWidget):
    """The list of proposed points with Accept / Move / Skip (object names ``review-*``)."""

    def __init__(self, window: MainWindow, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.window = window
        self.confidence: dict[str, float] = {}
        self.reasons: dict[str, str] = {}
        self.task: Task | None = None
        self.summary = QLabel("No proposed landmarks.")
        self.summary.setObjectName("review-summary")
        self.summary.setWordWrap(True)
        self.list = QListWidget()
        self.list.setObjectName("review-list")
        self.list.currentItemChanged.connect(lambda item, _prev: self._show(item))
        self.detail = QLabel("")
        self.detail.setObjectName("review-detail")
        self.detail.setWordWrap(True)
        self.accept_button = QPushButton("Accept")
        self.accept_button.setObjectName("review-accept")
        self.accept_button.setToolTip("The point is where it belongs: confirm it (undoable).")
        self.accept_button.clicked.connect(self.accept_current)
        self.move_button = QPushButton("Move")
        self.move_button.setObjectName("review-move")
        self.move_button.setToolTip("Click in a view where the point belongs.")
        self.move_button.clicked.connect(self.move_current)
        self.skip_button = QPushButton("Skip")
        self.skip_button.setObjectName("review-skip")
        self.skip_button.setToolTip("Look at the next proposed point first.")
        self.skip_button.clicked.connect(self.skip)
        self.propose_button = QPushButton("Propose aortic landmarks")
        self.propose_button.setObjectName("review-propose")
        self.propose_button.setToolTip(
            "Find the hinges, commissures and coronary ostia on a contrast CTA (replaces the "
            "aortic points that are not yet placed by a person)."
        )
        self.propose_button.clicked.connect(lambda: self.propose(explicit=True))
        buttons = QHBoxLayout()
        for button in (self.accept_button, self.move_button, self.skip_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        layout.addWidget(self.propose_button)
        self.refresh()

    # --- proposing ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def propose(self, explicit: bool = False) -> bool:
        """Propose the aortic landmarks of the open volume on a worker thread; False when it
        cannot start (no volume, or a proposal already running)."""
        w = self.window
        volume = w.volume
        if volume is None or self.running:
            return False
        from annulusview.core.aortic.propose import propose_landmarks

        def job(progress: Any, cancel: Any) -> Any:
            return propose_landmarks(volume, progress=progress, cancel=cancel)

        task = Task(job, "propose-landmarks", self)
        task.succeeded.connect(w.guard(lambda result: self._proposed(volume, result)))
        task.failed.connect(w.guard(lambda exc: self._failed(exc, explicit)))
        self.task = task
        self.summary.setText("Proposing the aortic landmarks…")
        w.status_label.setText("Proposing the aortic landmarks (hinges, commissures, ostia)…")
        task.start()
        return True

    def _proposed(self, volume: Any, result: ProposedLandmarks) -> None:
        w = self.window
        if w.volume is not volume:  # another study was opened meanwhile
            return
        old = w.landmarks
        # a person's points win: only names not placed (or still proposed) take the proposal
        mine = {n: p for n, p in old.points.items() if n not in old.proposed}
        points = dict(mine)
        proposed = set()
        for name, pos in result.landmarks.points.items():
            if name not in mine:
                points[name] = pos
                proposed.add(name)
        new = Landmarks(points, old.source, frozenset(proposed))
        self.confidence = {n: float(result.confidence.get(n, 0.0)) for n in proposed}
        self.reasons = {n: result.reasons[n] for n in proposed if n in result.reasons}
        w.undo_stack.push(ReplaceLandmarksCommand(w.study, old, new, "Propose aortic landmarks"))
        w.status_label.setText(
            f"{len(proposed)} landmark(s) proposed: review each (Accept / Move / Skip); the "
            "results rest on unconfirmed points until then."
        )
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(0)

    def _failed(self, exc: BaseException, explicit: bool) -> None:
        w = self.window
        why = exc.message if isinstance(exc, InputError) else str(exc)
        text = f"No landmarks proposed: {why} Place the hinges by hand."
        self.summary.setText(text)
        w.status_label.setText(text)
        if explicit:
            from annulusview.app import messages

            messages.show_error(w, exc, "Propose aortic landmarks")

    # --- reviewing ---------------------------------------------------------------------------

    def refresh(self) -> None:
        """Follow the study's landmarks: list the points still proposed."""
        lms = self.window.landmarks
        names = [n for n in lms.names() if n in lms.proposed]
        current = self.list.currentItem()
        keep = None if current is None else current.data(Qt.ItemDataRole.UserRole)
        self.list.blockSignals(True)
        self.list.clear()
        for name in names:
            conf = self.confidence.get(name)
            text = name if conf is None else f"{name}  ({conf:.0%})"
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            if name in self.reasons:
                item.setToolTip(self.reasons[name])
            self.list.addItem(item)
            if name == keep:
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        has = bool(names)
        for button in (self.accept_button, self.move_button, self.skip_button):
            button.setEnabled(has)
            button.setVisible(has)
        # nothing to review: only the summary and the Propose button take room in the dock
        self.list.setVisible(has)
        self.detail.setVisible(has)
        if has:
            self.summary.setText(
                f"{len(names)} proposed landmark(s) to review. The analysis already uses them; "
                "its flags say which rest on unconfirmed points."
            )
        elif not self.running:
            self.summary.setText("No proposed landmarks.")
            self.detail.setText("")

    def current_name(self) -> str | None:
        item = self.list.currentItem()
        return None if item is None else str(item.data(Qt.ItemDataRole.UserRole))

    def _show(self, item: QListWidgetItem | None) -> None:
        if item is None:
            return
        name = str(item.data(Qt.ItemDataRole.UserRole))
        w = self.window
        pos = w.landmarks.get(name)
        if pos is None:
            return
        view = _VIEW_FOR.get(_kind(name))
        tabs = getattr(w, "oblique_tabs", None)
        if view is not None and tabs is not None and view in w.views:
            tabs.setCurrentWidget(w.views[view])
        w.set_crosshair(pos, centre=True)
        conf = self.confidence.get(name)
        parts = [name]
        if conf is not None:
            parts.append(f"confidence {conf:.0%}")
        if name in self.reasons:
            parts.append(self.reasons[name])
        self.detail.setText(": ".join(parts[:2]) + ("; " + parts[2] if len(parts) > 2 else ""))

    def accept_current(self) -> None:
        """Confirm the selected point (undoable), then show the next one."""
        name = self.current_name()
        if name is None:
            return
        w = self.window
        row = self.list.currentRow()
        old = w.landmarks
        w.undo_stack.push(
            ReplaceLandmarksCommand(w.study, old, old.confirmed(name), f"Accept {name}")
        )
        self.refresh()
        if self.list.count():
            self.list.setCurrentRow(min(row, self.list.count() - 1))

    def move_current(self) -> None:
        """Place the selected point anew: the next click in a view puts it there."""
        name = self.current_name()
        if name is not None:
            self.window.landmark_editor.start_placing(name)

    def skip(self) -> None:
        if self.list.count():
            self.list.setCurrentRow((self.list.currentRow() + 1) % self.list.count())


def should_propose(landmarks: Landmarks) -> bool:
    """Propose on open when the study brings none of the required aortic points."""
    return all(name not in landmarks for name in AORTIC_REQUIRED)
