"""`annulusview demo` with no display: the demo case is made, analysed and exported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import vtk
from vtkmodules.util.numpy_support import vtk_to_numpy

IDENTITY = (b"PHANTOM^DEMO", b"AV-PHANTOM-001", b"19500101", b"ACC0001")


def _png_size(path: Path) -> tuple[int, int]:
    reader = vtk.vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    w, h, _ = reader.GetOutput().GetDimensions()
    pixels = vtk_to_numpy(reader.GetOutput().GetPointData().GetScalars())
    assert np.ptp(pixels) > 0, f"{path.name} is blank"
    return w, h


def test_headless_demo_writes_pictures_report_results(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "ANNULUSVIEW_HEADLESS": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),  # a fresh cache: the demo is generated
    }
    exe = Path(sys.executable).parent / "annulusview"
    out = subprocess.run(
        [str(exe), "demo"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr
    printed = [Path(line) for line in out.stdout.split()]
    names = {p.name for p in printed}
    assert names == {"demo-3d.png", "demo-annulus.png", "demo-report.pdf", "demo-results.json"}
    folder = tmp_path / "demo-output"
    for path in printed:
        assert path.parent == folder.resolve()
        assert not any(tag in path.read_bytes() for tag in IDENTITY), path.name
    assert _png_size(folder / "demo-3d.png") == (1920, 1080)
    assert _png_size(folder / "demo-annulus.png") == (1920, 1080)
    assert (folder / "demo-report.pdf").read_bytes().startswith(b"%PDF")
    doc = json.loads((folder / "demo-results.json").read_text())
    truth = json.loads(next((tmp_path / "cache").rglob("truth.json")).read_text())
    assert doc["schema"] == "annulusview.results/2"
    assert abs(doc["annulus"]["area_mm2"] / truth["annulus"]["area_mm2"] - 1) < 0.02
    assert len(doc["lesions"]) == len(truth["lesions"])


def test_demo_cache_names_agree() -> None:
    """The window finds the cached demo without importing the phantom generator; both name the
    folder the same way, including the generator's generation (a changed anatomy is not reused)."""
    from annulusview.app.demo import demo_folder_name as app_name
    from annulusview.phantom.dicom import demo_folder_name as phantom_name

    assert app_name() == phantom_name()
