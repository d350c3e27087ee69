"""``annulusview --self-test``: prove that this installation works, offline and without a display.

What a hospital IT person runs after installing: the demo case is loaded and analysed, one 3D
and one 2D picture are rendered off-screen, and a PDF report, a DICOM SEG and a results JSON
are written to a temporary folder and read back. One line per step (pass/fail, time, what was
checked or the error's plain text), then a verdict. A failed step does not stop the others;
a step that needs an earlier one that failed says so. Exit 0 only when every step passed.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_FAILED = 1

PICTURE_SIZE = (480, 360)  # pixels: small, so the check is quick on a software renderer
_PAGE = re.compile(rb"/Type\s*/Page(?![a-zA-Z])")


class NeedsEarlierStep(Exception):
    """A step cannot run because a step it depends on failed."""


@dataclass(frozen=True)
class StepOutcome:
    """One line of the self-test: the step's name, whether it passed, its time and detail."""

    name: str
    passed: bool
    seconds: float
    detail: str

    def line(self) -> str:
        word = "PASS" if self.passed else "FAIL"
        return f"{word}  {self.name:<16} {self.seconds:6.2f} s  {self.detail}"


def _error_text(exc: BaseException) -> str:
    """The exception's plain text on one line (a typed error's user text when it has one)."""
    user_text = getattr(exc, "user_text", None)
    text = user_text() if callable(user_text) else str(exc)
    text = " ".join(str(text).split()) or type(exc).__name__
    return text if isinstance(exc, NeedsEarlierStep) else f"{type(exc).__name__}: {text}"


class _Context:
    """What the steps hand on to each other (the case, the results, the folder)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def need(self, key: str, step: str) -> Any:
        if key not in self.values:
            raise NeedsEarlierStep(f"not run: needs the {step} step, which failed")
        return self.values[key]


def _run_step(name: str, action: Callable[[], str]) -> StepOutcome:
    start = time.perf_counter()
    try:
        detail = action()
        passed = True
    except Exception as exc:  # every failure becomes one line; the other steps still run
        detail, passed = _error_text(exc), False
    outcome = StepOutcome(name, passed, time.perf_counter() - start, detail)
    print(outcome.line(), flush=True)
    return outcome


def _check_picture(image: Any) -> str:
    """Check that a rendered RGB image has content, and that it encodes and decodes as PNG."""
    import io

    import numpy as np
    import PIL.Image

    from annulusview.scene.views2d import png_bytes

    pixels = np.asarray(image)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"the picture has shape {pixels.shape}, expected (height, width, 3)")
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    if colours < 8:
        raise ValueError(f"the picture is blank ({colours} colours): nothing was rendered")
    decoded = np.asarray(PIL.Image.open(io.BytesIO(png_bytes(pixels))).convert("RGB"))
    if not np.array_equal(decoded, pixels):
        raise ValueError("the picture changed when encoded as PNG and read back")
    return f"{pixels.shape[1]} x {pixels.shape[0]} pixels, {colours} colours"


def check_pdf(data: bytes) -> int:
    """Check a PDF's structure (header, cross-reference, end marker); returns its page count."""
    if not data.startswith(b"%PDF-"):
        raise ValueError("the PDF does not start with %PDF-")
    if b"%%EOF" not in data[-1024:]:
        raise ValueError("the PDF has no %%EOF end marker (truncated?)")
    if b"startxref" not in data[-1024:]:
        raise ValueError("the PDF has no cross-reference table pointer")
    pages = len(_PAGE.findall(data))
    if pages < 1:
        raise ValueError("the PDF has no pages")
    return pages


def _steps(ctx: _Context, parent_dir: str | None) -> list[tuple[str, Callable[[], str]]]:
    def demo_case() -> str:
        from annulusview.core.io.loader import load
        from annulusview.core.landmarks import read_landmarks
        from annulusview.phantom.dicom import demo_case_dir

        folder = demo_case_dir()
        volume = load(folder / "dicom")
        landmarks = read_landmarks(folder / "landmarks.mrk.json")
        ctx.values.update(volume=volume, landmarks=landmarks)
        shape = " x ".join(str(n) for n in volume.shape)
        return f"{shape} voxels, {len(landmarks.points)} landmarks"

    def analysis() -> str:
        from annulusview.core.analysis import analyze
        from annulusview.core.outputs.deid import volume_identity
        from annulusview.scene.state import SceneState

        volume = ctx.need("volume", "demo case")
        landmarks = ctx.values["landmarks"]
        results = analyze(volume, landmarks)
        state = SceneState(volume=volume, results=results, landmarks=landmarks)
        ctx.values.update(results=results, state=state, identity=volume_identity(volume))
        total_mm3 = results.calcium.volume_mm3
        calcium = "not assessed" if total_mm3 is None else f"{total_mm3:.0f} mm3"
        return (
            f"{len(results.lesions)} lesions, calcium {calcium}, "
            f"{len(results.flags)} rules evaluated"
        )

    def picture(view: str) -> Callable[[], str]:
        def render() -> str:
            from annulusview.scene.views2d import render_image

            state = ctx.need("state", "analysis")
            image = render_image(state, view, PICTURE_SIZE, 1, ctx.values["identity"])
            return f"{view} view, " + _check_picture(image)

        return render

    def folder() -> str:
        holder = tempfile.TemporaryDirectory(prefix="annulusview-selftest-", dir=parent_dir)
        ctx.values.update(folder_holder=holder, folder=Path(holder.name))
        return holder.name

    def pdf_report() -> str:
        from annulusview.scene.report import write_case_report

        state = ctx.need("state", "analysis")
        out = ctx.need("folder", "temporary folder") / "report.pdf"
        write_case_report(out, state, ctx.values["identity"])
        data = out.read_bytes()
        pages = check_pdf(data)
        return f"{len(data) // 1024} kB, {pages} page{'s' if pages != 1 else ''}, read back"

    def dicom_seg() -> str:
        import numpy as np
        from highdicom.seg import segread

        from annulusview.core.outputs.dicom import write_segmentation

        volume = ctx.need("volume", "demo case")
        results = ctx.need("results", "analysis")
        out = ctx.need("folder", "temporary folder") / "calcium-seg.dcm"
        write_segmentation(out, volume, results, ctx.values["identity"])
        seg = segread(out)
        segments = seg.number_of_segments
        voxels = int(np.count_nonzero(seg.get_volume(combine_segments=True).array))
        if segments < 1 or voxels == 0:
            raise ValueError(f"the SEG read back holds {segments} segments, {voxels} voxels")
        return f"{segments} segment{'s' if segments != 1 else ''}, {voxels} voxels, read back"

    def results_json() -> str:
        from annulusview.core.results import write_results_json

        results = ctx.need("results", "analysis")
        out = ctx.need("folder", "temporary folder") / "results.json"
        write_results_json(out, results)
        read_back = json.loads(out.read_text(encoding="utf-8"))
        expected = json.loads(results.to_json())
        for key in ("threshold_hu", "lumen_hu", "ms_length_mm", "coronary_heights_mm"):
            if read_back.get(key) != expected.get(key):
                raise ValueError(f"{key} differs when read back")
        if len(read_back.get("lesions", ())) != len(results.lesions):
            raise ValueError("the lesion count differs when read back")
        if read_back != expected:
            raise ValueError("the results differ when read back")
        return f"{len(read_back)} fields, {len(results.lesions)} lesions, read back and equal"

    return [
        ("demo case", demo_case),
        ("analysis", analysis),
        ("3D picture", picture("3d")),
        ("2D picture", picture("annulus")),
        ("temporary folder", folder),
        ("PDF report", pdf_report),
        ("DICOM SEG", dicom_seg),
        ("results JSON", results_json),
    ]


def self_test(parent_dir: str | None = None) -> list[StepOutcome]:
    """Run every step, printing one line each; returns the outcomes.

    ``parent_dir``: where the temporary folder is made (default: the system's temporary
    folder); it is removed at the end.
    """
    ctx = _Context()
    try:
        return [_run_step(name, action) for name, action in _steps(ctx, parent_dir)]
    finally:
        holder = ctx.values.get("folder_holder")
        if holder is not None:
            holder.cleanup()


def run(args: argparse.Namespace) -> int:
    from annulusview import __version__

    frozen = "frozen" if getattr(sys, "frozen", False) else "not frozen"
    print(
        f"AnnulusView {__version__} self-test ({frozen}; Python {platform.python_version()}; "
        f"{platform.system()} {platform.machine()})",
        flush=True,
    )
    start = time.perf_counter()
    outcomes = self_test(getattr(args, "self_test_dir", None))
    failed = [o.name for o in outcomes if not o.passed]
    elapsed = time.perf_counter() - start
    if failed:
        print(
            f"Verdict: FAIL ({len(failed)} of {len(outcomes)} steps failed: "
            f"{', '.join(failed)}; {elapsed:.1f} s)",
            flush=True,
        )
        return EXIT_FAILED
    print(f"Verdict: PASS (all {len(outcomes)} steps passed in {elapsed:.1f} s)", flush=True)
    return 0
