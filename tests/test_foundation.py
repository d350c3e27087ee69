"""Foundation: resources found from editable and wheel installs, atomic writes, CLI basics."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import annulusview
from annulusview.cli import main
from annulusview.core.atomic import atomic_open, atomic_write_text, check_output_path
from annulusview.core.errors import OutputError
from annulusview.core.resources import resource_path, resources_dir

REPO = Path(__file__).resolve().parents[1]


def test_resources_found_in_source_checkout() -> None:
    rules = resource_path("rules", "default.toml")
    assert rules.is_file()
    assert resources_dir() == REPO / "resources"


@pytest.mark.slow
def test_resources_found_from_built_wheel(tmp_path: Path) -> None:
    """Build the wheel, install it alone into a folder, and import from there."""
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheel_dir), str(REPO)],
        check=True,
    )
    wheels = list(wheel_dir.glob("annulusview-*.whl"))
    assert len(wheels) == 1
    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "annulusview/resources/rules/default.toml" in names
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(target),
            str(wheels[0]),
        ],
        check=True,
    )
    code = (
        "import annulusview.core.resources as r; p = r.resources_dir(); "
        "print(p); assert (p / 'rules' / 'default.toml').is_file()"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == target / "annulusview" / "resources"


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    atomic_write_text(path, "first")
    atomic_write_text(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"]


def test_atomic_write_failure_keeps_last_save(tmp_path: Path) -> None:
    path = tmp_path / "session.json"
    atomic_write_text(path, "good")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("crash mid-write")
    assert path.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["session.json"]


def test_check_output_path_refuses_existing_without_force(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"1")
    with pytest.raises(OutputError, match="already exists"):
        check_output_path(path)
    assert check_output_path(path, force=True) == path
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(tmp_path / "missing" / "x.png")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert annulusview.__version__ in capsys.readouterr().out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["analyze"])
    assert info.value.code == 2


def test_console_script_installed() -> None:
    exe = Path(sys.executable).parent / "annulusview"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for command in ("info", "phantom", "analyze", "screenshot", "report", "demo"):
        assert command in out.stdout


def test_core_does_not_pull_in_qt_or_vtk() -> None:
    """Importing the headless API must not load Qt or VTK (checked in a clean interpreter)."""
    code = (
        "import sys, annulusview, annulusview.core.landmarks, annulusview.core.volume; "
        "top = {m.split('.')[0] for m in sys.modules}; "
        "bad = top & {'PySide6', 'vtk', 'vtkmodules', 'pyvista'}; "
        "assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
