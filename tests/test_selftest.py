"""``annulusview --self-test``: the real command in a subprocess, passing and failing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

STEPS = (
    "demo case",
    "analysis",
    "3D picture",
    "2D picture",
    "temporary folder",
    "PDF report",
    "DICOM SEG",
    "results JSON",
)


def _self_test(*extra: str, display: bool = False) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if not display:  # as an IT person runs it on a server: no display at all
        env.pop("DISPLAY", None)
        env.pop("WAYLAND_DISPLAY", None)
    return subprocess.run(
        [sys.executable, "-m", "annulusview.cli", "--self-test", *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


def _step_lines(stdout: str) -> dict[str, str]:
    lines = {}
    for line in stdout.splitlines():
        for step in STEPS:
            if line[6:].startswith(step + " "):
                lines[step] = line
    return lines


def test_self_test_passes_without_a_display(tmp_path: Path) -> None:
    done = _self_test("--self-test-dir", str(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = _step_lines(done.stdout)
    assert list(lines) == list(STEPS), done.stdout
    assert all(line.startswith("PASS  ") for line in lines.values()), done.stdout
    assert done.stdout.splitlines()[0].startswith("AnnulusView ")
    assert "not frozen" in done.stdout.splitlines()[0]
    assert done.stdout.rstrip().splitlines()[-1].startswith("Verdict: PASS (all 8 steps")
    assert "read back and equal" in lines["results JSON"]
    assert " s  " in lines["analysis"]  # every line carries its time
    assert list(tmp_path.iterdir()) == []  # the temporary folder is removed


def test_a_step_that_fails_is_one_line_and_the_others_still_run(tmp_path: Path) -> None:
    # A file where the folder should be: a real failure (as root, too, unlike a read-only
    # folder), of the step that makes the temporary folder and of the steps that write in it.
    not_a_folder = tmp_path / "not-a-folder"
    not_a_folder.write_text("a file, not a folder\n")
    done = _self_test("--self-test-dir", str(not_a_folder))
    assert done.returncode == 1, done.stdout + done.stderr
    lines = _step_lines(done.stdout)
    assert list(lines) == list(STEPS), done.stdout
    for step in ("demo case", "analysis", "3D picture", "2D picture"):
        assert lines[step].startswith("PASS  "), done.stdout
    assert lines["temporary folder"].startswith("FAIL  ")
    assert "NotADirectoryError" in lines["temporary folder"], done.stdout
    assert str(not_a_folder) in lines["temporary folder"]
    assert "Traceback" not in done.stdout + done.stderr
    for step in ("PDF report", "DICOM SEG", "results JSON"):
        assert lines[step].startswith("FAIL  "), done.stdout
        assert "needs the temporary folder step, which failed" in lines[step]
    verdict = done.stdout.rstrip().splitlines()[-1]
    assert verdict.startswith("Verdict: FAIL (4 of 8 steps failed: temporary folder, PDF report")


def test_check_pdf_rejects_a_truncated_file() -> None:
    from annulusview.commands.selftest import check_pdf

    good = b"%PDF-1.4\n1 0 obj << /Type /Page >> endobj\n2 0 obj << /Type /Pages >> endobj\n"
    good += b"startxref\n0\n%%EOF\n"
    assert check_pdf(good) == 1
    with pytest.raises(ValueError, match="EOF"):
        check_pdf(good[:-8])
