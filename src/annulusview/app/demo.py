"""Open the built-in demo case in the window (the demo folder is made off the GUI thread)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from annulusview.app import messages
from annulusview.app.workers import Task


def open_demo(window: Any) -> Task:
    """Make (or reuse) the cached demo case, then open it with its landmarks placed.

    The analysis then runs by itself because the landmarks include the three hinges.
    """

    def job(progress: Any, cancel: Any) -> Path:
        from annulusview.core.phantom.dicom import demo_case_dir

        return demo_case_dir(progress)

    task = Task(job, "demo")
    task.progressed.connect(window._guard(window._on_progress))
    task.succeeded.connect(
        window._guard(
            lambda folder: window.open_path(folder, landmarks=Path(folder) / "landmarks.mrk.json")
        )
    )
    task.failed.connect(window._guard(lambda exc: messages.show_error(window, exc, "Demo")))
    window.demo_task = task
    window._busy("Preparing the demo case…", task)
    task.start()
    return task
