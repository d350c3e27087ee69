"""Robustness: every malformed or odd file ends in a volume or a clean per-file reason.

Walks ../shared/data/fuzz/corpus_v2 (listed in its manifest.json) and ../shared/data/dicom-edge,
each file alone and each folder as a whole. A per-file deadline turns a hang into a failure:
SIGALRM raises inside the test where the platform has it, and faulthandler (every platform)
dumps the stacks and stops the run if even that cannot interrupt a stuck C decoder.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from annulusview import cli
from annulusview.core.errors import InputError
from annulusview.core.io import load, scan
from annulusview.core.volume import Volume

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = DATA / "fuzz" / "corpus_v2"
EDGE = DATA / "dicom-edge"
SECONDS_PER_FILE = 20


def _corpus_files() -> list[Path]:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    files = [CORPUS / manifest["baseline_file"]]
    for category in manifest["categories"]:
        files.extend(CORPUS / case["filename"] for case in category["cases"])
    # The manifest misses one category (cat06) and names 4 files that are not on disk:
    # walk every file that exists, listed or not.
    return sorted({f for f in files if f.exists()} | set(CORPUS.rglob("*.dcm")))


CORPUS_FILES = _corpus_files()
EDGE_FILES = sorted(p for p in EDGE.rglob("*") if p.is_file())
FOLDERS = sorted({p.parent for p in CORPUS_FILES} | {CORPUS} | {p.parent for p in EDGE_FILES})


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    """Fail the test after ``seconds``; hard-stop the run (with stacks) after twice that."""
    faulthandler.dump_traceback_later(2 * seconds, exit=True, file=sys.__stderr__)
    use_alarm = hasattr(signal, "SIGALRM") and sys.platform != "win32"
    if use_alarm:

        def on_alarm(signum: int, frame: object) -> None:
            raise TimeoutError(f"took longer than {seconds} s")

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.alarm(seconds)
    try:
        yield
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
        faulthandler.cancel_dump_traceback_later()


def _check_file(path: Path) -> None:
    with deadline(SECONDS_PER_FILE):
        result = scan(path)
        assert result.series or result.skipped, "neither a series nor a reason"
        for skipped in result.skipped:
            assert skipped.reason and "\n" not in skipped.reason
            assert "Traceback" not in skipped.reason
        try:
            vol = load(path)
        except InputError as exc:
            assert not result.series, f"scan found a series but load failed: {exc}"
            assert str(exc).startswith(("No usable CT series", f"{path}"))
        else:
            assert isinstance(vol, Volume)
            assert vol.hu.shape == vol.shape and vol.hu.size > 0


def test_corpus_is_complete() -> None:
    manifest = json.loads((CORPUS / "manifest.json").read_text())
    assert manifest["total_cases"] == 354
    assert len(CORPUS_FILES) == 354  # every .dcm on disk (353 cases plus the baseline)


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.relative_to(CORPUS).as_posix())
def test_fuzz_file_alone(path: Path) -> None:
    _check_file(path)


@pytest.mark.parametrize("path", EDGE_FILES, ids=lambda p: p.relative_to(EDGE).as_posix())
def test_edge_file_alone(path: Path) -> None:
    _check_file(path)


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.relative_to(DATA).as_posix())
def test_folder_as_a_whole(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with deadline(10 * SECONDS_PER_FILE):
        result = scan(folder)
        n_files = sum(1 for p in folder.rglob("*") if p.is_file())
        used = sum(s.num_images for s in result.series)
        # Every file is accounted for: used in a series (multi-frame files count per frame) or
        # skipped with a reason.
        assert used + len(result.skipped) >= n_files
        code = cli.main(["info", str(folder), "--json"])
        captured = capsys.readouterr()
        assert code in (0, 3)
        assert "Traceback" not in captured.err
        if code == 0:
            doc = json.loads(captured.out)
            assert doc["schema"] == "annulusview.info/1"
            assert len(doc["skipped"]) == len(result.skipped)
        else:
            assert captured.err.strip().splitlines()[-1].startswith("annulusview: ")
