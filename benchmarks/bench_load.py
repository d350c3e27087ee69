"""Load-time benchmark: annulusview.load against its peers on one 512x512x300 CT series.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--runs 5] [--j2k-slices 120]

Writes (once, then reuses) a synthetic int16 CT series under ``benchmarks/_data/`` (gitignored)
and a JPEG 2000 lossless copy, then prints the median of ``--runs`` warm-cache runs of

- ``annulusview.load``,
- ``vtkDICOMImageReader`` (folder),
- SimpleITK ``ImageSeriesReader`` (GDCM file list),
- a plain pydicom loop (sort by position, rescale) + ``np.stack``,

with ratios to ours; the peak memory of ``annulusview.load`` measured in a fresh subprocess
(peak RSS after the load minus peak RSS just before it, from VmHWM on Linux: the extra peak
resident memory the load needed, compared with the volume's bytes); and the JPEG 2000 decode
time with one process against the worker pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
ROWS = COLS = 512


def write_series(folder: Path, n_slices: int, transfer_syntax: str = "explicit") -> Path:
    """A 512x512 int16 CT series: body ellipse, bright 'aorta', noise; skipped if present."""
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import (
        CTImageStorage,
        ExplicitVRLittleEndian,
        JPEG2000Lossless,
        generate_uid,
    )

    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:ROWS, :COLS]
    body = ((xx - 256) / 220.0) ** 2 + ((yy - 256) / 170.0) ** 2 <= 1.0
    series_uid, study_uid, frame_uid = generate_uid(), generate_uid(), generate_uid()
    for k in range(n_slices):
        hu = np.full((ROWS, COLS), -1000, dtype=np.int16)
        hu[body] = 40
        aorta = (xx - 270) ** 2 + (yy - 230 + 20 * np.sin(k / 40)) ** 2 <= 30**2
        hu[aorta] = 350
        hu += rng.normal(0, 15, size=hu.shape).astype(np.int16)
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.FrameOfReferenceUID = (
            study_uid,
            series_uid,
            frame_uid,
        )
        ds.Modality = "CT"
        ds.SeriesDescription = "benchmark"
        ds.InstanceNumber = k + 1
        ds.ImagePositionPatient = [-160.0, -160.0, -0.5 * k]
        ds.ImageOrientationPatient = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
        ds.PixelSpacing = [0.625, 0.625]
        ds.SliceThickness = 0.5
        ds.Rows, ds.Columns = ROWS, COLS
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, 16, 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
        ds.PixelData = (hu.astype(np.int32) + 1024).astype(np.int16).tobytes()
        if transfer_syntax == "j2k":
            ds.compress(JPEG2000Lossless)  # pylibjpeg-openjpeg encodes lossless J2K
        pydicom.dcmwrite(folder / f"CT{k:04d}.dcm", ds, enforce_file_format=True)
    done.touch()
    return folder


def median_time(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm the page cache and imports
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def load_ours(folder: Path) -> object:
    import annulusview as av

    return av.load(folder).hu


def load_vtk(folder: Path) -> object:
    import vtk
    from vtk.util.numpy_support import vtk_to_numpy

    reader = vtk.vtkDICOMImageReader()
    reader.SetDirectoryName(str(folder))
    reader.Update()
    return vtk_to_numpy(reader.GetOutput().GetPointData().GetScalars())


def load_sitk(folder: Path) -> object:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayViewFromImage(reader.Execute())


def load_pydicom_loop(folder: Path) -> object:
    import pydicom

    dss = [pydicom.dcmread(f) for f in sorted(folder.glob("*.dcm"))]
    dss.sort(key=lambda d: float(d.ImagePositionPatient[2]))
    return np.stack(
        [d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in dss]
    )


MEMORY_PROBE = """
import resource, sys
import numpy, pydicom, annulusview as av
from annulusview.core.io import loader


def peak_rss():
    # VmHWM is this process's own peak (ru_maxrss survives exec on Linux, so it would report
    # the parent's peak); elsewhere fall back to ru_maxrss (bytes on macOS, KiB on Linux).
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    value = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return value if sys.platform == "darwin" else value * 1024


before = peak_rss()
vol = av.load(sys.argv[1])
after = peak_rss()
print(before, after, vol.hu.nbytes)
"""


def peak_memory(folder: Path) -> tuple[int, int]:
    """Extra peak RSS (bytes) of one load in a fresh process, and the volume's bytes."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(folder)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    before, after, nbytes = (int(v) for v in out)
    return after - before, nbytes


def j2k_speedup(folder: Path, runs: int) -> tuple[float, float]:
    from annulusview.core.io.loader import _scan_stacks
    from annulusview.core.io.pixels import read_stack

    stacks, _ = _scan_stacks(folder, None, None)
    plan = stacks[0].plan
    one = median_time(lambda: read_stack(plan, workers=1), runs)
    pool = median_time(lambda: read_stack(plan, workers=None), runs)
    return one, pool


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--j2k-slices", type=int, default=300)
    parser.add_argument("--j2k-runs", type=int, default=3)
    args = parser.parse_args()

    series = write_series(DATA / f"ct_{ROWS}x{COLS}x{args.slices}", args.slices)
    print(f"series: {series} ({args.slices} slices of {ROWS}x{COLS} int16), {os.cpu_count()} cores")
    ours = median_time(lambda: load_ours(series), args.runs)
    results = {
        "annulusview.load": ours,
        "vtkDICOMImageReader": median_time(lambda: load_vtk(series), args.runs),
        "SimpleITK ImageSeriesReader": median_time(lambda: load_sitk(series), args.runs),
        "pydicom loop + np.stack": median_time(lambda: load_pydicom_loop(series), args.runs),
    }
    print(f"\nmedian of {args.runs} warm runs")
    for name, seconds in results.items():
        print(f"  {name:<28} {seconds:7.3f} s   ours / this = {ours / seconds:5.2f}")

    extra, nbytes = peak_memory(series)
    limit = 1.5 * nbytes + 250 * 1024**2
    print(
        f"\npeak memory of one load (fresh process, peak RSS delta): {extra / 1024**2:.0f} MB "
        f"for a {nbytes / 1024**2:.0f} MB volume; budget 1.5 x volume + 250 MB = "
        f"{limit / 1024**2:.0f} MB -> {'OK' if extra <= limit else 'OVER'}"
    )

    j2k = write_series(DATA / f"ct_j2k_{ROWS}x{COLS}x{args.j2k_slices}", args.j2k_slices, "j2k")
    one, pool = j2k_speedup(j2k, args.j2k_runs)
    print(
        f"\nJPEG 2000 lossless, {args.j2k_slices} slices, median of {args.j2k_runs}: "
        f"1 process {one:.2f} s, pool of {os.cpu_count()} {pool:.2f} s, speedup {one / pool:.2f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
