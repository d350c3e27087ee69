"""Help > User guide: the guide shipped in resources/help/, shown in the app (no network)."""

from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from annulusview.core.resources import resource_path

GUIDE = ("help", "user-guide.html")


class UserGuideDialog(QDialog):
    """A non-modal window showing the user guide; links inside the guide stay inside it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("user-guide")
        self.setWindowTitle("AnnulusView user guide")
        self.browser = QTextBrowser()
        self.browser.setObjectName("user-guide-text")
        self.browser.setOpenExternalLinks(False)  # offline: nothing leaves the app
        self.browser.setOpenLinks(True)
        path = resource_path(*GUIDE)
        self.browser.setSource(QUrl.fromLocalFile(str(path)))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.browser)
        layout.addWidget(buttons)
        self.resize(760, 820)
