"""The page the window shows while no study is open: open a study or the demo, recent studies,
and how to read a case (with the disclaimer)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

import annulusview

HOW_TO_READ = (
    "<b>How to read a case.</b> Open the thin-slice contrast CTA of the aortic root. Check or "
    "place the three cusp hinge points in the Landmarks checklist (left): the analysis then "
    "runs by itself. Read the annulus size, the coronary heights and the calcium by region in "
    "the Analysis panel (right), then each risk flag with its evidence (the study, population "
    "and device behind its threshold). Confirm every number against the images in the annulus "
    "plane and LVOT views before you export the report. "
)


class StartPage(QWidget):
    """Open study / Open demo buttons, the recent studies and the how-to paragraph.

    Signals
    -------
    open_folder_requested, open_file_requested, demo_requested, guide_requested
    recent_requested(path)
        The user picked a recent study.
    """

    open_folder_requested = Signal()
    open_file_requested = Signal()
    demo_requested = Signal()
    guide_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("start-page")
        title = QLabel(f"<h1>AnnulusView {annulusview.__version__}</h1>")
        subtitle = QLabel(
            "Aortic and mitral annular calcium, distances to the LVOT and the conduction "
            "system, and procedural risk flags from cardiac CT."
        )
        subtitle.setWordWrap(True)
        self.open_button = QPushButton("Open study folder…")
        self.open_button.setObjectName("start-open-folder")
        self.open_file_button = QPushButton("Open zip or NIfTI file…")
        self.open_file_button.setObjectName("start-open-file")
        self.demo_button = QPushButton("Open demo case")
        self.demo_button.setObjectName("start-open-demo")
        self.guide_button = QPushButton("User guide")
        self.guide_button.setObjectName("start-user-guide")
        self.open_button.clicked.connect(self.open_folder_requested)
        self.open_file_button.clicked.connect(self.open_file_requested)
        self.demo_button.clicked.connect(self.demo_requested)
        self.guide_button.clicked.connect(self.guide_requested)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.open_file_button, self.demo_button):
            button.setMinimumHeight(36)
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.guide_button)

        self.recent_label = QLabel("<b>Recent studies</b>")
        self.recent_list = QListWidget()
        self.recent_list.setObjectName("start-recent")
        self.recent_list.setMaximumHeight(200)
        self.recent_list.itemActivated.connect(self._recent_activated)
        self.recent_list.itemDoubleClicked.connect(self._recent_activated)

        self.how_to = QLabel(HOW_TO_READ + f"<i>{annulusview.DISCLAIMER}</i>")
        self.how_to.setObjectName("start-how-to")
        self.how_to.setWordWrap(True)
        self.how_to.setTextFormat(Qt.TextFormat.RichText)

        column = QVBoxLayout()
        column.addWidget(title)
        column.addWidget(subtitle)
        column.addSpacing(12)
        column.addLayout(buttons)
        column.addSpacing(12)
        column.addWidget(self.recent_label)
        column.addWidget(self.recent_list)
        column.addSpacing(12)
        column.addWidget(self.how_to)
        column.addStretch(1)
        holder = QWidget()
        holder.setLayout(column)
        holder.setMaximumWidth(860)
        outer = QHBoxLayout(self)
        outer.addStretch(1)
        outer.addWidget(holder, 4)
        outer.addStretch(1)

    def set_recent(self, paths: list[str]) -> None:
        """Show ``paths`` (newest first) in the recent-studies list."""
        self.recent_list.clear()
        for path in paths:
            item = QListWidgetItem(path)
            item.setData(Qt.ItemDataRole.UserRole, path)
            self.recent_list.addItem(item)
        if not paths:
            empty = QListWidgetItem("No study opened yet.")
            empty.setFlags(Qt.ItemFlag.NoItemFlags)
            self.recent_list.addItem(empty)

    def _recent_activated(self, item: QListWidgetItem) -> None:
        path = item.data(Qt.ItemDataRole.UserRole)
        if path:
            self.recent_requested.emit(str(path))
