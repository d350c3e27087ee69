"""Issue 13, command-line part: no output onto an input, bad values refused before any work,
no traceback for special files, pipes, long names or huge renders, stale temporaries cleaned.

Every case here failed before the fix (outputs overwrote landmarks, slices, the study zip and the
rules file; ``--threshold nan`` ran; a FIFO hung ``info``; ...).
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pydicom
import pytest

from annulusview.cli import main
from annulusview.core import atomic
from annulusview.core.errors import InputError, LandmarkError, OutputError

CLI = [sys.executable, "-m", "annulusview.cli"]
RULES_TEXT = "# a user rules file (defaults kept)\n"


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    """A phantom case folder V (dicom/, landmarks.mrk.json, truth.json), a zip of its series
    and a rules file beside it."""
    from annulusview.phantom.dicom import write_case

    root = tmp_path_factory.mktemp("rel")
    folder = write_case(root / "V", "tavr-contrast", seed=0, size="small")
    with zipfile.ZipFile(root / "study.zip", "w") as zf:
        for f in sorted((folder / "dicom").iterdir()):
            zf.write(f, f"dicom/{f.name}")
    (root / "r.toml").write_text(RULES_TEXT)
    return folder


def _digest(paths: list[Path]) -> dict[str, str]:
    out = {}
    for p in paths:
        files = sorted(p.rglob("*")) if p.is_dir() else [p]
        for f in files:
            if f.is_file():
                out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
            elif f.is_dir():
                out[str(f)] = "dir"
    return out


def _cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _first_slice(case: Path) -> Path:
    return sorted((case / "dicom").iterdir())[0]


# --- an output may never be an input, --force or not --------------------------------------------

# (command, study: "folder" | "dicom" | "zip", output option, target, extra options, message)
ONTO_INPUT = [
    ("analyze", "folder", "--json", "landmarks", [], "landmarks file"),
    ("analyze", "dicom", "--csv", "slice", [], "study folder"),
    ("analyze", "zip", "--json", "zip", [], "the study itself"),
    ("analyze", "dicom", "--csv", "rules", ["--rules"], "rules file"),
    ("analyze", "dicom", "--json", "rules", ["--rules", "--force"], "rules file"),
    ("screenshot", "dicom", "--out", "slice", ["--force"], "study folder"),
    ("report", "folder", "--out", "truth", ["--force"], "study folder"),
    ("report", "dicom", "--out", "landmarks", ["--force"], "landmarks file"),
    ("export", "dicom", "--seg", "slice", ["--force"], "study folder"),
    ("export", "dicom", "--stl", "landmarks", ["--force"], "landmarks file"),
    ("export", "dicom", "--sr", "zip-as-rules", ["--rules", "--force"], "rules file"),
    ("export", "folder", "--meshes-dir", "case", ["--force"], "study"),
    ("export", "folder", "--meshes-dir", "dicom-dir", ["--force"], "study folder"),
]


@pytest.mark.parametrize(
    ("command", "study", "option", "target", "extra", "expect"),
    ONTO_INPUT,
    ids=[f"{c}-{o}-{t}-{'-'.join(e) or 'plain'}" for c, _, o, t, e, _ in ONTO_INPUT],
)
def test_output_onto_an_input_is_refused(
    case, capsys, command, study, option, target, extra, expect
):
    root = case.parent
    studies = {"folder": case, "dicom": case / "dicom", "zip": root / "study.zip"}
    targets = {
        "landmarks": case / "landmarks.mrk.json",
        "slice": _first_slice(case),
        "zip": root / "study.zip",
        "rules": root / "r.toml",
        "zip-as-rules": root / "r.toml",
        "truth": case / "truth.json",
        "case": case,
        "dicom-dir": case / "dicom",
    }
    argv = [command, studies[study], "--landmarks", case / "landmarks.mrk.json"]
    for flag in extra:
        argv += [flag, root / "r.toml"] if flag == "--rules" else [flag]
    argv += [option, targets[target]]
    before = _digest([case, root / "study.zip", root / "r.toml"])
    code, _out, err = _cli(capsys, *argv)
    assert code == 3, err
    assert expect in err, err
    assert "never modified" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert _digest([case, root / "study.zip", root / "r.toml"]) == before


def test_two_outputs_may_not_share_a_path(case, tmp_path, capsys):
    lm = case / "landmarks.mrk.json"
    same = tmp_path / "same.out"
    code, _, err = _cli(
        capsys, "analyze", case / "dicom", "--landmarks", lm, "--json", same, "--csv", same
    )
    assert code == 3 and "--json and --csv name the same file" in err
    (tmp_path / "sub").mkdir()
    roundabout = tmp_path / "sub" / ".." / "same.out"
    code, _, err = _cli(
        capsys, "export", case / "dicom", "--landmarks", lm, "--stl", same, "--ply", roundabout
    )
    assert code == 3 and "name the same file" in err
    assert not same.exists()


def test_analyze_needs_force_to_replace_a_file(case, tmp_path, capsys):
    lm = case / "landmarks.mrk.json"
    old = tmp_path / "old.json"
    old.write_text("keep me")
    code, _, err = _cli(capsys, "analyze", case / "dicom", "--landmarks", lm, "--json", old)
    assert code == 3 and "already exists" in err and "--force" in err
    assert old.read_text() == "keep me"
    code, _, err = _cli(
        capsys, "analyze", case / "dicom", "--landmarks", lm, "--json", old, "--force"
    )
    assert code == 0, err
    assert json.loads(old.read_text())["schema"].startswith("annulusview.results")


def test_export_checks_every_output_before_writing_any(case, tmp_path, capsys):
    """With no calcium (threshold 3000 HU), STL and SEG are refused up front: nothing written."""
    stl, seg = tmp_path / "c.stl", tmp_path / "c.dcm"
    code, _, err = _cli(
        capsys,
        "export",
        case / "dicom",
        "--landmarks",
        case / "landmarks.mrk.json",
        "--threshold",
        "3000",
        "--stl",
        stl,
        "--seg",
        seg,
    )
    assert code == 3, err
    assert "no calcium" in err and "Nothing was written" in err
    assert list(tmp_path.iterdir()) == []


def test_mesh_export_raises_no_invalid_mesh_warning(phantom_case, phantom_results, tmp_path):
    from annulusview.scene import mesh_export

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        meshes = mesh_export.case_meshes(phantom_case.volume, phantom_results)
        written = mesh_export.write_mesh_folder(tmp_path / "m", meshes)
    assert len(written) == 2 * (1 + len(meshes.lesions) + len(meshes.regions))


# --- values that would make numbers silently wrong ----------------------------------------------


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e6", "-5000", "129", "3001", "abc"])
def test_bad_threshold_exits_3_before_loading(case, capsys, value):
    code, _, err = _cli(
        capsys,
        "analyze",
        case / "dicom",
        "--landmarks",
        case / "landmarks.mrk.json",
        f"--threshold={value}",
    )
    assert code == 3, err
    assert "threshold" in err.lower() and "Loading" not in err


def test_threshold_bounds_are_inclusive():
    from annulusview.core.aortic.calcium import parse_threshold_option

    assert parse_threshold_option("130") == 130.0
    assert parse_threshold_option(3000) == 3000.0
    assert parse_threshold_option("lumen_plus_100") == "lumen_plus_100"
    with pytest.raises(InputError):
        parse_threshold_option(True)


@pytest.mark.parametrize(
    ("extra", "expect"),
    [
        (["--implant-depth", "nan"], "Implant depth"),
        (["--implant-depth", "-3"], "Implant depth"),
        (["--implant-depth", "25"], "Implant depth 25.0 mm is implausible"),
        (["--valve-size", "nan"], "Valve size"),
        (["--mitral-valve", "29,nan,0.8"], "height"),
    ],
)
def test_bad_valve_numbers_exit_3(case, capsys, extra, expect):
    code, _, err = _cli(
        capsys, "analyze", case / "dicom", "--landmarks", case / "landmarks.mrk.json", *extra
    )
    assert code == 3 and expect in err, err


def test_implant_depth_range_is_one_rule_for_every_caller():
    """The CLI, the batch manifest and the API share PlannedValve's 0-20 mm check."""
    from annulusview.core.aortic.valve import MAX_IMPLANT_DEPTH_MM, PlannedValve

    assert PlannedValve(None, None, MAX_IMPLANT_DEPTH_MM).implant_depth_mm == 20.0
    for bad in (20.5, float("nan"), -0.1):
        with pytest.raises(InputError, match="Implant depth"):
            PlannedValve(None, None, bad)


def test_huge_render_is_refused_before_loading(case, tmp_path, capsys):
    code, _, err = _cli(
        capsys,
        "screenshot",
        case / "dicom",
        "--landmarks",
        case / "landmarks.mrk.json",
        "--out",
        tmp_path / "big.png",
        "--size",
        "8192x8192",
        "--scale",
        "2",
    )
    assert code == 3 and "16384 x 16384" in err and "Mpx" in err, err
    assert "Loading" not in err and not (tmp_path / "big.png").exists()


# --- text inputs: folders, devices, FIFOs, nesting, absurd numbers -----------------------------


def test_landmarks_that_are_not_a_file(tmp_path):
    from annulusview.core.landmarks import read_landmarks

    with pytest.raises(LandmarkError, match="is a folder"):
        read_landmarks(tmp_path)
    with pytest.raises(LandmarkError, match="not a regular file"):
        read_landmarks("/dev/zero")
    fifo = tmp_path / "pipe.mrk.json"
    os.mkfifo(fifo)
    with pytest.raises(LandmarkError, match="not a regular file"):
        read_landmarks(fifo)
    deep = tmp_path / "deep.mrk.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(LandmarkError, match="nested"):
        read_landmarks(deep)
    with pytest.raises(LandmarkError, match="does not exist"):
        read_landmarks(tmp_path / "missing.mrk.json")


def test_landmark_at_1e308_is_refused_in_plain_words(case, tmp_path):
    from annulusview.core.landmarks import read_landmarks

    data = json.loads((case / "landmarks.mrk.json").read_text())
    data["markups"][0]["controlPoints"][0]["position"] = [1e308, 0.0, 0.0]
    bad = tmp_path / "far.mrk.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(LandmarkError) as info:
        read_landmarks(bad)
    text = str(info.value)
    assert "from the scanner origin" in text
    assert "0000000000" not in text  # no 309-digit number


def test_info_on_a_fifo_does_not_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    run = subprocess.run([*CLI, "info", str(fifo)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 3
    assert "not a regular file" in run.stderr and "Traceback" not in run.stderr


def test_long_output_names(case, tmp_path, capsys):
    too_long = tmp_path / ("r" * 300 + ".json")
    code, _, err = _cli(
        capsys, "analyze", case / "dicom", "--landmarks", case / "landmarks.mrk.json",
        "--json", too_long,
    )  # fmt: skip
    assert code == 3 and "305 bytes long" in err, err
    assert "Loading" not in err
    # 245 characters is a legal name: its temporary must fit too (it did not).
    legal = tmp_path / ("x" * 240 + ".json")
    atomic.atomic_write_text(legal, "{}")
    assert legal.read_text() == "{}"
    assert [p.name for p in tmp_path.iterdir()] == [legal.name]


def test_study_path_longer_than_the_file_system_allows(tmp_path, capsys):
    code, _, err = _cli(capsys, "info", tmp_path / ("s" * 300))
    assert code == 3 and "File name too long" in err, err


def test_closed_stdout_and_full_stdout(case):
    proc = subprocess.Popen(
        [*CLI, "info", str(case / "dicom"), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away, as `| head -c10` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipe" not in err
    with open("/dev/full", "w") as full:
        run = subprocess.run(
            [*CLI, "info", str(case / "dicom"), "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    assert run.returncode == 3
    assert "No space left on device" in run.stderr and "Traceback" not in run.stderr


def test_headless_render_prints_no_vtk_warning(case, tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    out = tmp_path / "s.png"
    run = subprocess.run(
        [*CLI, "screenshot", str(case / "dicom"), "--landmarks",
         str(case / "landmarks.mrk.json"), "--out", str(out), "--view", "3d",
         "--size", "320x240"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 1000
    assert "WARN" not in run.stderr and "bad X server" not in run.stderr, run.stderr


# --- phantom and demo outputs ------------------------------------------------------------------


def test_phantom_into_an_unwritable_place_and_bad_seed(tmp_path, capsys):
    code, _, err = _cli(capsys, "phantom", "/proc/annulusview-phantom")
    assert code == 3 and "Traceback" not in err, err
    code, _, err = _cli(capsys, "phantom", tmp_path / "p", "--seed", "-1")
    assert code == 3 and "--seed -1" in err
    assert not (tmp_path / "p").exists()


def test_demo_asks_before_replacing(tmp_path):
    from annulusview.commands.demo import OUTPUT_NAMES, check_output_dir

    out = tmp_path / "demo-output"
    assert check_output_dir(out, force=False, ask=None)  # new: no question
    (out / OUTPUT_NAMES[0]).write_bytes(b"earlier")
    questions: list[str] = []
    assert not check_output_dir(out, False, lambda q: questions.append(q) or "n")
    assert questions and "Replace the earlier demo" in questions[0]
    assert check_output_dir(out, False, lambda q: "yes")
    with pytest.raises(OutputError, match="--force"):
        check_output_dir(out, False, None)  # no terminal to ask
    assert check_output_dir(out, True, None)
    assert (out / OUTPUT_NAMES[0]).read_bytes() == b"earlier"  # checking writes nothing


def test_demo_in_an_unwritable_folder_is_one_line():
    env = dict(os.environ, ANNULUSVIEW_HEADLESS="1")
    run = subprocess.run(
        [*CLI, "demo"], capture_output=True, text=True, timeout=120, env=env, cwd="/proc"
    )
    assert run.returncode == 3, run.stderr
    assert "Cannot create" in run.stderr and "Traceback" not in run.stderr


# --- stale temporaries of a killed run ----------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_kill_9_during_a_write_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from annulusview.core.atomic import atomic_open\n"
        "with atomic_open(Path(sys.argv[1]), 'w') as f:\n"
        "    f.write('half'); f.flush(); print('writing', flush=True); time.sleep(60)\n"
    )
    target = tmp_path / "results.json"
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(target)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    left = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    assert len(left) == 1  # the live writer's temporary
    # a write while that process lives does not touch its temporary
    atomic.atomic_write_text(tmp_path / "other.json", "{}")
    assert left[0].exists()
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert left[0].exists() and not target.exists()
    atomic.atomic_write_text(tmp_path / "other.json", "{}")
    assert not left[0].exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.json"]


def test_only_this_programs_stale_temporaries_are_removed(tmp_path):
    old = time.time() - 3 * 86400
    dead = _dead_pid()
    stale_new = tmp_path / f".a.json.{dead}-abcd1234.part"
    stale_old = tmp_path / ".b.json.abcd1234.part"  # pattern of earlier versions, 3 days old
    live = tmp_path / f".c.json.{os.getppid()}-abcd1234.part"
    recent_old = tmp_path / ".d.json.abcd1234.part"  # no PID, an hour old: maybe still writing
    others = [tmp_path / ".e.part", tmp_path / "f.json.abcd1234.part", tmp_path / "g.json"]
    stale_dir = tmp_path / f".OUT.{dead}-zz99yy88.part"
    stale_dir.mkdir()
    (stale_dir / "CT0001.dcm").write_bytes(b"x")
    for p in [stale_new, stale_old, live, recent_old, *others]:
        p.write_text("x")
    for p in [stale_new, stale_old, live, *others, stale_dir]:
        os.utime(p, (old, old))
    os.utime(recent_old, (time.time() - 3600,) * 2)
    removed = atomic.clean_stale_parts(tmp_path)
    assert sorted(removed) == sorted([stale_new, stale_old, stale_dir])
    for p in [live, recent_old, *others]:
        assert p.exists(), p


def test_phantom_cleans_a_killed_phantoms_folder(tmp_path):
    from annulusview.phantom.dicom import write_case

    stale = tmp_path / f".case.{_dead_pid()}-abcd1234.part"
    stale.mkdir()
    (stale / "half.dcm").write_bytes(b"x")
    old = time.time() - 60
    os.utime(stale, (old, old))
    write_case(tmp_path / "case2", "tavr-contrast", seed=0, size="small")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case2"]


# --- which stack on a tie -----------------------------------------------------------------------


def test_a_tie_of_stacks_picks_the_full_size_images(case, tmp_path):
    """A cropped 128x128 copy of the series with a lower SeriesNumber and as many images."""
    from annulusview.core.io.loader import load

    study = tmp_path / "study"
    shutil.copytree(case / "dicom", study / "full")
    (study / "crop").mkdir()
    uid = pydicom.uid.generate_uid()
    full_shape = None
    for f in sorted((study / "full").iterdir()):
        ds = pydicom.dcmread(f)
        full_shape = (ds.Rows, ds.Columns)
        ds.SeriesNumber = int(getattr(ds, "SeriesNumber", 2) or 2)
        pixels = ds.pixel_array[:128, :128].copy()
        crop = copy.deepcopy(ds)
        crop.SeriesInstanceUID = uid
        crop.SOPInstanceUID = pydicom.uid.generate_uid()
        crop.SeriesNumber = ds.SeriesNumber - 1
        crop.Rows, crop.Columns = pixels.shape
        crop.PixelData = np.ascontiguousarray(pixels).tobytes()
        crop.save_as(study / "crop" / f.name)
        ds.save_as(f)
    assert full_shape is not None and min(full_shape) > 128
    volume = load(study)
    assert volume.hu.shape[1:] == full_shape
    assert any("largest images" in w for w in volume.warnings), volume.warnings


def test_full_disk_inside_pydicom_is_one_plain_line(case, tmp_path):
    """pydicom re-raises a write error as a copy whose message holds a whole traceback; the
    user sees one line that says the disk is full, and no temporary is left."""
    import errno
    import io

    class FullDisk(io.BytesIO):
        def write(self, data) -> int:  # type: ignore[override]
            if self.tell() + len(data) > 4096:
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)

    ds = pydicom.dcmread(_first_slice(case))
    target = tmp_path / "seg.dcm"

    def writer(tmp: Path) -> None:
        ds.save_as(FullDisk(), enforce_file_format=True)

    with pytest.raises(OutputError) as info:
        atomic.atomic_write_with(target, writer)
    text = str(info.value)
    assert text == f"The disk is full while writing {target}. Free space."
    assert list(tmp_path.iterdir()) == []
