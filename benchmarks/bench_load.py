"""Load-time benchmark: annulusview.load against its peers, for every common pixel layout.

Usage::

    .venv/bin/python benchmarks/bench_load.py [--runs 3] [--slices 300] [--no-j2k]

Writes (once, then reuses) synthetic 512x512 CT series under ``benchmarks/_data/`` (gitignored),
one per pixel layout (signed int16 intercept -1024 and 0, unsigned uint16 intercept -1024,
slope 0.5 -> float32, BitsStored 12 in 16 with junk in the high bits, per-slice intercepts),
plus a JPEG 2000 lossless copy of the signed series, then prints

- per layout, interleaved rounds (median of ``--runs``, warm cache) of the raw read of the same
  files' bytes into one buffer (the page-cache floor), ``annulusview.load`` and
  ``vtkDICOMImageReader``, with ``ours / raw`` (target <= 2) and ``ours / vtk`` (<= 0.5), and the
  peak memory of one load in a fresh process (budget 1.5 x volume + 250 MB);
- for the signed series, SimpleITK ``ImageSeriesReader`` (GDCM file list) and a plain pydicom
  loop (sort by position, rescale) + ``np.stack``, with ratios to ours;
- the JPEG 2000 decode time with one process against the worker pool;
- a 10-phase study (the phantom's ``--phases 10`` at ``full`` size: 10 series of 512x512x320,
  3,200 files in one folder, written to a temporary folder), interleaved rounds (median of
  ``--phase-runs``) of the raw header read of every file (pydicom ``dcmread(stop_before_pixels)``,
  and the loader's own per-file header read without grouping), the phase listing
  (``annulusview.scan``), loading the 40 % phase (``load(folder, series=uid)``, and
  ``load_scanned`` after one scan as the window does) and loading a single-phase phantom of the
  same size, with ``listing / header read`` (target <= 1.5) and ``one phase / single series``.

Peak memory: peak RSS after the load minus peak RSS just before it, from VmHWM on Linux: the
extra peak resident memory the load needed, compared with the volume's bytes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE / "_data"
ROWS = COLS = 512


@dataclass(frozen=True)
class Layout:
    """How a series stores its pixels: signedness, BitsStored, rescale of slice k."""

    name: str
    signed: bool = True
    bits_stored: int = 16
    slopes: tuple[float, ...] = (1.0,)
    intercepts: tuple[float, ...] = (-1024.0,)
    high_bit_junk: bool = False

    def rescale(self, k: int) -> tuple[float, float]:
        return self.slopes[k % len(self.slopes)], self.intercepts[k % len(self.intercepts)]


LAYOUTS = (
    Layout("int16 intercept -1024"),
    Layout("int16 intercept 0", intercepts=(0.0,)),
    Layout("uint16 intercept -1024", signed=False),
    Layout("uint16 slope 0.5 (float32)", signed=False, slopes=(0.5,)),
    Layout("uint16 12-in-16 + junk", signed=False, bits_stored=12, high_bit_junk=True),
    Layout("uint16 per-slice intercept", signed=False, intercepts=(-1024.0, -1000.0, -1010.0)),
)
SIGNED = LAYOUTS[0]


def _slug(layout: Layout) -> str:
    return "".join(c if c.isalnum() else "_" for c in layout.name).strip("_")


def write_series(
    folder: Path,
    n_slices: int,
    transfer_syntax: str = "explicit",
    layout: Layout = SIGNED,
) -> Path:
    """A 512x512 CT series: body ellipse, bright 'aorta', noise; skipped if present.

    The HU are the same for every layout; the stored values are ``(hu - intercept) / slope`` in
    the layout's signedness and bits (junk above BitsStored when ``high_bit_junk``).
    """
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
        bits = layout.bits_stored
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 16, bits, bits - 1
        ds.PixelRepresentation = 1 if layout.signed else 0
        slope, intercept = layout.rescale(k)
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
        stored = np.rint((hu.astype(np.float64) - intercept) / slope).astype(np.int64)
        if layout.signed:
            half = 1 << (bits - 1)
            words = np.clip(stored, -half, half - 1)
        else:
            words = np.clip(stored, 0, (1 << bits) - 1)
        if layout.high_bit_junk:  # bits above BitsStored the reader must ignore
            words = (words & ((1 << bits) - 1)) | (
                rng.integers(0, 1 << (16 - bits), size=words.shape) << bits
            )
        ds.PixelData = words.astype(np.int16 if layout.signed else np.uint16).tobytes()
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


class RawRead:
    """The floor: every file's bytes read into one buffer, one ``pread`` per file.

    The file list and sizes are made outside the timing. ``fresh=True`` allocates a new
    (untouched) buffer per call, as any reader must allocate its output: the kernel faults and
    zeroes its pages during the read. ``fresh=False`` reuses one resident buffer: only the
    page-cache copy is timed.
    """

    def __init__(self, folder: Path, fresh: bool = True) -> None:
        self.files = sorted(folder.glob("*.dcm"))
        self.sizes = [f.stat().st_size for f in self.files]
        self.fresh = fresh
        self.buffer = np.ones(sum(self.sizes), dtype=np.uint8)

    def __call__(self) -> object:
        buffer = np.empty_like(self.buffer) if self.fresh else self.buffer
        view = memoryview(buffer)
        at = 0
        for f, size in zip(self.files, self.sizes, strict=True):
            fd = os.open(f, os.O_RDONLY)
            try:
                os.preadv(fd, [view[at : at + size]], 0)
            finally:
                os.close(fd)
            at += size
        return buffer


def scan_ours(folder: Path) -> object:
    from annulusview.core.io import scan

    return scan(folder)


def interleaved_medians(
    fns: dict[str, Callable[[], object]], runs: int, collect: bool = False
) -> dict[str, float]:
    """Median seconds of each function over ``runs`` rounds, the functions taking turns.

    ``collect``: run the garbage collector before each timed call (outside the timing), so that
    no function pays for the cycles another left (3,200 pydicom datasets make a long collection).
    """
    for fn in fns.values():
        fn()  # warm the page cache and imports
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            if collect:
                gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(ts) for name, ts in times.items()}


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
    # the pool forced to one process per core (a load sizes it from the free cores itself)
    pool = median_time(lambda: read_stack(plan, workers=os.cpu_count() or 2), runs)
    return one, pool


def header_read_pydicom(files: list[Path]) -> object:
    """Every file's header with pydicom, stopped before the pixels (the file list is given)."""
    import pydicom

    return [pydicom.dcmread(f, stop_before_pixels=True) for f in files]


def header_read_ours(folder: Path) -> object:
    """The loader's per-file header read (fast path, else pydicom), without grouping."""
    from annulusview.core.io.fastheader import read_native_header
    from annulusview.core.io.headers import HeaderRejected, read_frames
    from annulusview.core.io.sources import list_sources

    sources, _ = list_sources(folder)
    cache: dict[str, object] = {}
    frames: list[object] = []
    for source in sources:
        fast = read_native_header(source, cache)
        if fast is not None:
            frames.append(fast)
            continue
        with contextlib.suppress(HeaderRejected):  # not a CT image: left out, as scan does
            frames.extend(read_frames(source, cache))
    return frames


def bench_phases(n_phases: int, runs: int) -> None:
    """The multi-phase case: listing against the header read, one phase against one series."""
    from annulusview.core.io import load, scan
    from annulusview.core.io.loader import load_scanned
    from annulusview.phantom.dicom import write_case

    with tempfile.TemporaryDirectory(prefix="av-bench-phases-") as tmp:
        t0 = time.perf_counter()
        study = write_case(Path(tmp) / "study", size="full", phases=n_phases) / "dicom"
        single = write_case(Path(tmp) / "single", size="full") / "dicom"
        files = sorted(study.glob("*.dcm"))
        listed = scan(study)
        wanted = min(listed.series, key=lambda s: abs((s.cardiac_phase_pct or 0.0) - 40.0))
        shape = " x ".join(str(v) for v in wanted.shape)
        print(
            f"\n{n_phases}-phase study: {len(listed.series)} series of {shape}, {len(files)} "
            f"files (written in {time.perf_counter() - t0:.0f} s); phases "
            + ", ".join(f"{s.cardiac_phase_pct:g}%" for s in listed.series)
        )
        medians = interleaved_medians(
            {
                "header read, pydicom": lambda: header_read_pydicom(files),
                "header read, loader's own": lambda: header_read_ours(study),
                "phase listing (scan)": lambda: scan(study),
                f"load one phase ({wanted.cardiac_phase_pct:g}%)": lambda: load(
                    study, series=wanted.id
                ),
                "load_scanned one phase": lambda: load_scanned(listed, wanted.id),
                "load single-phase series": lambda: load(single),
            },
            runs,
            collect=True,
        )
        print(f"  median of {runs} interleaved warm rounds (seconds)")
        for name, seconds in medians.items():
            print(f"  {name:<30} {seconds:7.3f}")
        names = list(medians)
        listing, single_s = medians[names[2]], medians[names[5]]
        print(
            f"  listing / header read: {listing / medians[names[0]]:.2f} (pydicom), "
            f"{listing / medians[names[1]]:.2f} (loader's own); target <= 1.5"
        )
        print(
            f"  one phase / single series: {medians[names[3]] / single_s:.2f} (load by UID: "
            f"reads the first 16 KB of every file), {medians[names[4]] / single_s:.2f} "
            "(load_scanned after the listing: pixels only)"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--j2k-slices", type=int, default=300)
    parser.add_argument("--j2k-runs", type=int, default=3)
    parser.add_argument("--no-j2k", action="store_true", help="skip the JPEG 2000 part")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory probes")
    parser.add_argument("--phases", type=int, default=10, help="phases of the multi-phase case")
    parser.add_argument("--phase-runs", type=int, default=5)
    parser.add_argument("--no-phases", action="store_true", help="skip the multi-phase case")
    parser.add_argument("--only-phases", action="store_true", help="run the multi-phase case alone")
    args = parser.parse_args()

    load_avg = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{ROWS}x{COLS}x{args.slices} series, {os.cpu_count()} cores, load average {load_avg}")
    if args.only_phases:
        bench_phases(args.phases, args.phase_runs)
        load_avg = ", ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"\nload average at the end: {load_avg}")
        return 0
    series = {}
    for layout in LAYOUTS:
        name = f"ct_{ROWS}x{COLS}x{args.slices}"
        if layout != SIGNED:
            name += f"_{_slug(layout)}"
        series[layout] = write_series(DATA / name, args.slices, layout=layout)

    print(f"\nper layout, median of {args.runs} interleaved warm rounds (seconds)")
    print(
        "  raw = the files' bytes into a fresh buffer (the floor), resident = into a reused one;\n"
        "  headers = annulusview.scan (the header pass alone); targets ours/raw <= 2, "
        "ours/vtk <= 0.5"
    )
    print(
        f"  {'layout':<28} {'resident':>8} {'raw':>6} {'headers':>7} {'ours':>6} {'vtk':>6} "
        f"{'ours/raw':>8} {'ours/vtk':>8}  dtype    peak MB / budget"
    )
    for layout, folder in series.items():
        medians = interleaved_medians(
            {
                "resident": RawRead(folder, fresh=False),
                "raw": RawRead(folder),
                "headers": lambda f=folder: scan_ours(f),
                "ours": lambda f=folder: load_ours(f),
                "vtk": lambda f=folder: load_vtk(f),
            },
            args.runs,
        )
        ours, raw, vtk_s = medians["ours"], medians["raw"], medians["vtk"]
        dtype = str(load_ours(folder).dtype)  # type: ignore[attr-defined]
        memory = ""
        if not args.no_memory:
            extra, nbytes = peak_memory(folder)
            limit = 1.5 * nbytes + 250 * 1024**2
            verdict = "OK" if extra <= limit else "OVER"
            memory = f"{extra / 1024**2:6.0f} / {limit / 1024**2:.0f} {verdict}"
        print(
            f"  {layout.name:<28} {medians['resident']:8.3f} {raw:6.3f} {medians['headers']:7.3f} "
            f"{ours:6.3f} {vtk_s:6.3f} {ours / raw:8.2f} {ours / vtk_s:8.2f}  {dtype:<8} {memory}"
        )

    signed = series[SIGNED]
    print(f"\n{SIGNED.name}: other peers, median of {args.runs} interleaved warm rounds")
    results = interleaved_medians(
        {
            "annulusview.load": lambda: load_ours(signed),
            "SimpleITK ImageSeriesReader": lambda: load_sitk(signed),
            "pydicom loop + np.stack": lambda: load_pydicom_loop(signed),
        },
        args.runs,
    )
    ours = results["annulusview.load"]
    for name, seconds in results.items():
        print(f"  {name:<28} {seconds:7.3f} s   ours / this = {ours / seconds:5.2f}")

    if not args.no_j2k:
        j2k = write_series(DATA / f"ct_j2k_{ROWS}x{COLS}x{args.j2k_slices}", args.j2k_slices, "j2k")
        one, pool = j2k_speedup(j2k, args.j2k_runs)
        print(
            f"\nJPEG 2000 lossless, {args.j2k_slices} slices, median of {args.j2k_runs}: "
            f"1 process {one:.2f} s, pool of {os.cpu_count()} {pool:.2f} s, "
            f"speedup {one / pool:.2f}x"
        )
    if not args.no_phases:
        bench_phases(args.phases, args.phase_runs)
    load_avg = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"\nload average at the end: {load_avg}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
