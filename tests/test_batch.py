"""``annulusview batch``: a cohort of small phantoms on Dask, failures as rows, resume, clusters.

The batch runs as a real command (a subprocess with its own embedded LocalCluster) except in
the API tests, which hand ``av.batch.run`` an in-process client. Every run has a timeout: a
hung batch fails the test instead of hanging the suite.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from annulusview.cli import main

TIMEOUT_S = 150  # any single batch command; a hang fails here
GOOD = ("A", "B", "C")
BROKEN = ("JUNK", "NOHINGE")
#: Results keys that hold timings or dates (everything else must match analyze exactly).
TIMING_KEYS = ("timings_s",)


def _cli(*argv: object) -> list[str]:
    return [sys.executable, "-m", "annulusview.cli", *map(str, argv)]


def _batch(*argv: object, timeout: float = TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _cli("batch", *argv), capture_output=True, text=True, timeout=timeout, check=False
    )


def _write_manifest(path: Path, rows: list[dict[str, str]]) -> Path:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _log_count(out: Path, what: str) -> int:
    return len(re.findall(rf" case {re.escape(what)}\b", (out / "batch.log").read_text()))


def _without_timings(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k not in TIMING_KEYS}


def _write_huge_nifti(path: Path, shape: tuple[int, int, int] = (512, 512, 1000)) -> Path:
    """A NIfTI of zeros that needs ~0.5 GB to read and more to convert (2 MB on disk),
    streamed so the test itself never holds it."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_shape(shape)
    header.set_data_dtype(np.int16)
    header.set_zooms((0.5, 0.5, 0.5))
    header.set_sform(np.diag([0.5, 0.5, 0.5, 1.0]), code=1)
    header["vox_offset"] = 352
    plane = bytes(shape[0] * shape[1] * 2)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        handle.write(header.binaryblock + b"\0" * 4)
        for _ in range(shape[2]):
            handle.write(plane)
    return path


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three small phantoms (C in JPEG 2000: decoded inside a daemonic Dask worker, which may
    not start the loader's decode pool), a folder of non-DICOM files, a landmarks file with a
    missing hinge, and the manifest naming them (plus an ``auto`` row), with relative paths."""
    from annulusview.phantom.dicom import write_case

    root = tmp_path_factory.mktemp("cohort")
    for case_id, kind, seed, syntax in zip(
        GOOD,
        ("tavr-contrast", "mac", "tavr-contrast"),
        (1, 2, 3),
        ("explicit", "explicit", "jpeg2000"),
        strict=True,
    ):
        write_case(
            root / "studies" / case_id, kind, seed=seed, size="small", transfer_syntax=syntax
        )
    junk = root / "studies" / "junk"
    junk.mkdir()
    (junk / "notes.txt").write_text("not a CT\n")
    (junk / "IM0001.dcm").write_bytes(os.urandom(2048))
    markups = json.loads((root / "studies" / "A" / "landmarks.mrk.json").read_text())
    for markup in markups["markups"]:
        markup["controlPoints"] = [
            p for p in markup["controlPoints"] if p.get("label") != "NCC_hinge"
        ]
    (root / "no-ncc-hinge.mrk.json").write_text(json.dumps(markups))
    _write_manifest(
        root / "cohort.csv",
        [
            {"case_id": "A", "study": "studies/A/dicom",
             "landmarks": "studies/A/landmarks.mrk.json", "valve": "sapien3:26",
             "implant_depth_mm": "", "sex": "", "site": "north"},
            {"case_id": "B", "study": "studies/B/dicom",
             "landmarks": "studies/B/landmarks.mrk.json", "site": "south"},
            {"case_id": "C", "study": "studies/C/dicom",
             "landmarks": "studies/C/landmarks.mrk.json", "valve": "evolut:29",
             "implant_depth_mm": "4", "sex": "F"},
            {"case_id": "JUNK", "study": "studies/junk",
             "landmarks": "studies/A/landmarks.mrk.json"},
            {"case_id": "NOHINGE", "study": "studies/A/dicom",
             "landmarks": "no-ncc-hinge.mrk.json"},
            {"case_id": "AUTO", "study": "studies/A/dicom", "landmarks": "auto"},
        ],
    )  # fmt: skip
    return root


@pytest.fixture(scope="module")
def batch_run(cohort: Path, tmp_path_factory: pytest.TempPathFactory):
    """``annulusview batch cohort.csv --out DIR --workers 2 --summary`` run once."""
    out = tmp_path_factory.mktemp("batch") / "out"
    started = time.perf_counter()
    proc = _batch(cohort / "cohort.csv", "--out", out, "--workers", 2, "--summary")
    return proc, out, time.perf_counter() - started


def test_batch_exits_0_with_failed_cases_listed(batch_run):
    proc, _, _ = batch_run
    assert proc.returncode == 0, proc.stderr
    assert "6 cases: 4 ok, 2 failed, 0 not analysed" in proc.stdout
    for case_id in BROKEN:
        assert f"  {case_id}: " in proc.stdout
    assert "Traceback" not in proc.stderr
    # progress on stderr (plain lines: not a terminal) and the cluster, bound to localhost
    assert re.search(r"batch: \d/6 done \(\d failed\), \d running, ETA", proc.stderr)
    assert "embedded local cluster: 2 worker process(es) x 1 thread" in proc.stderr
    assert "(tcp://127.0.0.1:" in proc.stderr
    assert re.search(r"Dask dashboard: http://127\.0\.0\.1:\d+/status", proc.stderr)


def test_every_row_has_its_status_and_reason(batch_run, cohort):
    _, out, _ = batch_run
    rows = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
    assert list(rows) == ["A", "B", "C", "JUNK", "NOHINGE", "AUTO"]  # manifest order
    for case_id in GOOD:
        row = rows[case_id]
        assert (row["status"], row["reason"], row["results"]) == (
            "ok", "", f"{case_id}/results.json"
        )  # fmt: skip
        assert (out / case_id / "results.json").is_file()
        assert 300 < float(row["annulus_area_mm2"]) < 700
        # the plane check's range, read from the case's own results file
        with (out / case_id / "results.json").open() as fh:
            low, high = json.load(fh)["annulus"]["area_plane_range_mm2"]
        assert float(row["annulus_area_plane_min_mm2"]) == pytest.approx(low)
        assert float(row["annulus_area_plane_max_mm2"]) == pytest.approx(high)
        assert low - 1e-3 <= float(row["annulus_area_mm2"]) <= high + 1e-3  # CSV: 4 decimals
        assert row["pvl.lvot_calcium.status"] in ("met", "not_met", "not_assessed")
        assert float(row["analysis_s"]) > 0 and float(row["case_s"]) > 0
        assert row["app_version"] and row["resumed"] == "false"
    assert rows["A"]["valve"] == "sapien3:26" and rows["C"]["implant_depth_mm"] == "4"
    assert rows["B"]["mac_score_total"] != ""

    junk, nohinge, auto = rows["JUNK"], rows["NOHINGE"], rows["AUTO"]
    assert junk["status"] == "failed" and junk["error_type"] == "NoSeriesError"
    assert junk["reason"].startswith(f"No usable CT series in {cohort / 'studies' / 'junk'}")
    assert nohinge["status"] == "failed" and nohinge["error_type"] == "LandmarkError"
    assert nohinge["reason"].startswith("Missing required landmark(s) NCC_hinge.")
    # Automatic landmarks: proposed from the study, analysed, and marked unconfirmed.
    assert (auto["status"], auto["reason"], auto["landmarks"]) == ("ok", "", "auto")
    auto_doc = json.loads((out / "AUTO" / "results.json").read_text())
    assert {"RCC_hinge", "LCC_hinge", "NCC_hinge"} <= set(auto_doc["landmarks_proposed"])
    assert any("not yet confirmed" in w for w in auto_doc["warnings"])
    # proposed on a phantom whose true annulus area is known: the same annulus
    assert float(auto["annulus_area_mm2"]) == pytest.approx(
        float(rows["A"]["annulus_area_mm2"]), rel=0.03
    )
    for case_id in BROKEN:
        assert not (out / case_id / "results.json").exists()
        assert rows[case_id]["annulus_area_mm2"] == ""
        meta = json.loads((out / case_id / "batch-meta.json").read_text())
        assert meta["status"] == "failed" and meta["reason"] == rows[case_id]["reason"]

    failures = _read_csv(out / "failures.csv")
    assert [f["case_id"] for f in failures] == list(BROKEN)
    assert [f["reason"] for f in failures] == [rows[c]["reason"] for c in BROKEN]
    assert [f["line"] for f in failures] == ["5", "6"]


def test_broken_cases_fail_with_the_reason_analyze_gives(batch_run, cohort, capsys):
    """The plain reason in the table is the line `annulusview analyze` prints for that case."""
    _, out, _ = batch_run
    rows = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
    studies = cohort / "studies"
    for case_id, study, landmarks in (
        ("JUNK", studies / "junk", studies / "A" / "landmarks.mrk.json"),
        ("NOHINGE", studies / "A" / "dicom", cohort / "no-ncc-hinge.mrk.json"),
    ):
        code = main(["analyze", str(study), "--landmarks", str(landmarks), "--json", "-"])
        _, err = capsys.readouterr()
        assert code == 3
        assert err.strip().splitlines()[-1] == f"annulusview: {rows[case_id]['reason']}"


def test_parquet_matches_the_csv(batch_run):
    import pyarrow.parquet as pq

    _, out, _ = batch_run
    table = pq.read_table(out / "cohort.parquet")
    csv_rows = _read_csv(out / "cohort.csv")
    assert table.column_names == list(csv_rows[0])
    assert table.num_rows == 6
    assert str(table.schema.field("annulus_area_mm2").type) == "double"
    assert str(table.schema.field("resumed").type) == "bool"
    assert str(table.schema.field("lesion_count").type) == "int64"
    data = table.to_pylist()
    assert [r["status"] for r in data] == [r["status"] for r in csv_rows]
    for parquet_row, csv_row in zip(data, csv_rows, strict=True):
        area = parquet_row["annulus_area_mm2"]
        if area is None:
            assert csv_row["annulus_area_mm2"] == ""
        else:
            assert area == pytest.approx(float(csv_row["annulus_area_mm2"]), abs=1e-4)


def test_results_equal_single_case_analyze(batch_run, cohort, tmp_path, capsys):
    """Each case's results.json is what `annulusview analyze --json` writes, byte for byte,
    apart from the timings."""
    _, out, _ = batch_run
    options = {"A": ["--valve", "sapien3:26"], "B": [],
               "C": ["--valve", "evolut:29", "--implant-depth", "4", "--sex", "F"]}  # fmt: skip
    timings = re.compile(r'"timings_s": \{[^{}]*\}')
    for case_id in GOOD:
        single = tmp_path / f"{case_id}.json"
        study = cohort / "studies" / case_id
        argv = ["analyze", str(study / "dicom"), "--landmarks", str(study / "landmarks.mrk.json")]
        assert main([*argv, *options[case_id], "--json", str(single)]) == 0
        capsys.readouterr()
        batch_text = (out / case_id / "results.json").read_text()
        single_text = single.read_text()
        batch_doc, single_doc = json.loads(batch_text), json.loads(single_text)
        assert set(batch_doc["timings_s"]) == set(single_doc["timings_s"])
        assert _without_timings(batch_doc) == _without_timings(single_doc)
        assert timings.sub("T", batch_text) == timings.sub("T", single_text)


def test_run_log_has_one_line_per_case(batch_run):
    _, out, _ = batch_run
    log = (out / "batch.log").read_text()
    assert "manifest columns ignored: site" in log
    assert re.search(r"cluster: embedded local cluster: 2 worker", log)
    for case_id in GOOD:
        assert _log_count(out, f"{case_id} ok") == 1
    for case_id in BROKEN:
        assert _log_count(out, f"{case_id} failed") == 1
    assert log.rstrip().splitlines()[-1].endswith("4 ok, 2 failed, 0 not analysed")


def test_summary_page(batch_run, artifacts_dir):
    from PIL import Image

    _, out, _ = batch_run
    pdf = (out / "summary.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type /Page\b", pdf)) == 1
    with Image.open(out / "summary.png") as image:
        assert image.size == (1684, 1190)
        pixels = np.asarray(image.convert("RGB"))
        image.save(artifacts_dir / "batch-summary.png")
    # the histogram bars (#4477AA) are drawn
    assert np.any(np.all(pixels == (0x44, 0x77, 0xAA), axis=-1))


def test_rerun_without_resume_is_refused(batch_run, cohort):
    _, out, _ = batch_run
    proc = _batch(cohort / "cohort.csv", "--out", out)
    assert proc.returncode == 3
    assert proc.stderr.strip().splitlines() == [
        f"annulusview: {out} holds an earlier batch run. Pass --resume to finish it, --force "
        "to analyse every case again, or choose another folder."
    ]


def test_resume_after_kill_and_ctrl_c_analyses_each_case_once(cohort, tmp_path):
    """kill -9 after the first case, then Ctrl-C during a resumed run, then a resume that
    finishes: every case is analysed exactly once, and no half-written file is left."""
    rows = [
        {"case_id": f"{case_id}{n}", "study": f"studies/{case_id}/dicom",
         "landmarks": f"studies/{case_id}/landmarks.mrk.json"}
        for n in (1, 2) for case_id in GOOD
    ]  # fmt: skip
    manifest = _write_manifest(cohort / "resume.csv", rows)
    out = tmp_path / "out"
    ids = [r["case_id"] for r in rows]

    def start(*extra: object) -> subprocess.Popen[str]:
        return subprocess.Popen(
            _cli("batch", manifest, "--out", out, "--workers", 1, *extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group, as a terminal job is
        )

    def oks() -> int:
        try:
            return len(re.findall(r" case \S+ ok in ", (out / "batch.log").read_text()))
        except FileNotFoundError:
            return 0

    def stop_after(proc: subprocess.Popen[str], count: int, sig: int) -> tuple[int, str]:
        deadline = time.monotonic() + TIMEOUT_S
        while oks() < count:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the batch did not progress"
            time.sleep(0.02)
        os.killpg(proc.pid, sig)  # the whole group, as Ctrl-C or a killed job
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err

    code, _ = stop_after(start(), 1, signal.SIGKILL)
    assert code == -signal.SIGKILL
    assert not (out / "cohort.csv").exists()  # killed before the tables: nothing half

    code, err = stop_after(start("--resume"), 2, signal.SIGINT)
    assert code == 130, err
    assert "Rerun with --resume to finish the rest." in err.splitlines()[-1]
    table = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
    assert [r["status"] for r in table.values()].count("ok") >= 2
    skipped = [r for r in table.values() if r["status"] == "skipped"]
    assert skipped and all("rerun with --resume" in r["reason"] for r in skipped)

    proc = _batch(manifest, "--out", out, "--workers", 1, "--resume")
    assert proc.returncode == 0, proc.stderr
    table = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
    assert [table[i]["status"] for i in ids] == ["ok"] * len(ids)
    for case_id in ids:
        assert _log_count(out, f"{case_id} ok") == 1, (out / "batch.log").read_text()
    kept = [i for i in ids if table[i]["resumed"] == "true"]
    assert len(kept) >= 2
    for case_id in kept:
        assert _log_count(out, f"{case_id} kept") >= 1
    leftovers = [p for p in out.rglob("*") if p.name.endswith(".part")]
    assert leftovers == []
    runs = {json.loads((out / i / "batch-meta.json").read_text())["run_id"] for i in ids}
    assert len(runs) == 3  # each run analysed some of the cases


def test_worker_out_of_memory_is_a_failed_row(cohort, tmp_path):
    """A study too big for the worker's memory limit kills that worker; the case fails with
    its reason and the next case runs on the restarted worker."""
    huge = _write_huge_nifti(tmp_path / "huge.nii.gz")
    studies = cohort / "studies"
    manifest = _write_manifest(
        tmp_path / "m.csv",
        [
            {"case_id": "HUGE", "study": str(huge),
             "landmarks": str(studies / "A" / "landmarks.mrk.json")},
            {"case_id": "A", "study": str(studies / "A" / "dicom"),
             "landmarks": str(studies / "A" / "landmarks.mrk.json")},
        ],
    )  # fmt: skip
    out = tmp_path / "out"
    proc = _batch(manifest, "--out", out, "--workers", 1, "--memory-per-worker", "700MB")
    assert proc.returncode == 0, proc.stderr
    rows = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
    assert rows["HUGE"]["status"] == "failed"
    assert rows["HUGE"]["error_type"] == "KilledWorker"
    assert rows["HUGE"]["reason"].startswith("The worker process died while analysing this case")
    assert "memory limit of 667.57 MiB" in rows["HUGE"]["reason"]
    assert rows["A"]["status"] == "ok"
    assert [f["case_id"] for f in _read_csv(out / "failures.csv")] == ["HUGE"]


def _start(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(argv, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def test_existing_scheduler(cohort, tmp_path):
    """`--scheduler` runs on a separately started `dask scheduler` + `dask worker`."""
    scheduler_file = tmp_path / "scheduler.json"
    scheduler = _start(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
        tmp_path / "scheduler.log",
    )  # fmt: skip
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            assert scheduler.poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline
            time.sleep(0.1)
        time.sleep(0.2)  # the file is written whole, but give it a moment
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        worker = _start(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file",
             str(scheduler_file), "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
             "--no-dashboard", "--memory-limit", "2GB"],
            tmp_path / "worker.log",
        )  # fmt: skip
        studies = cohort / "studies"
        manifest = _write_manifest(
            tmp_path / "m.csv",
            [
                {"case_id": "B", "study": str(studies / "B" / "dicom"),
                 "landmarks": str(studies / "B" / "landmarks.mrk.json")},
                {"case_id": "NOHINGE", "study": str(studies / "A" / "dicom"),
                 "landmarks": str(cohort / "no-ncc-hinge.mrk.json")},
            ],
        )  # fmt: skip
        out = tmp_path / "out"
        proc = _batch(manifest, "--out", out, "--scheduler", address)
        assert proc.returncode == 0, proc.stderr
        assert f"Dask: Dask scheduler at {address}" in proc.stderr
        rows = {r["case_id"]: r for r in _read_csv(out / "cohort.csv")}
        assert rows["B"]["status"] == "ok" and rows["NOHINGE"]["status"] == "failed"
        assert f"Dask scheduler at {address}" in (out / "batch.log").read_text()

        # --workers belongs to the embedded cluster
        proc = _batch(manifest, "--out", tmp_path / "o2", "--scheduler", address, "--workers", 2)
        assert proc.returncode == 2
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
    assert scheduler.returncode is not None and (worker is None or worker.returncode is not None)


def test_unreachable_scheduler_exits_3(cohort, tmp_path, capsys, monkeypatch):
    import socket

    from annulusview.batch import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT_S", 2.0)
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    manifest = _write_manifest(
        tmp_path / "m.csv", [{"case_id": "A", "study": str(cohort / "studies" / "A" / "dicom")}]
    )
    code = main(["batch", str(manifest), "--out", str(tmp_path / "o"), "--scheduler",
                 f"tcp://127.0.0.1:{port}"])  # fmt: skip
    assert code == 3
    assert "Could not connect to the Dask scheduler at tcp://127.0.0.1:" in capsys.readouterr().err


# --- the Python API (an in-process cluster: no worker processes to start) ----------------------


@pytest.fixture(scope="module")
def thread_client():
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address="127.0.0.1:0"
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client


def test_api_run_and_resume_with_a_client(cohort, tmp_path, thread_client):
    import annulusview as av

    studies = cohort / "studies"
    landmarks = tmp_path / "a.mrk.json"
    landmarks.write_bytes((studies / "A" / "landmarks.mrk.json").read_bytes())
    manifest = _write_manifest(
        tmp_path / "m.csv",
        [
            {"case_id": "A", "study": str(studies / "A" / "dicom"), "landmarks": "a.mrk.json"},
            {"case_id": "B", "study": str(studies / "B" / "dicom"),
             "landmarks": str(studies / "B" / "landmarks.mrk.json")},
            {"case_id": "AUTO", "study": str(studies / "A" / "dicom")},  # empty = auto
        ],
    )  # fmt: skip
    seen = []
    report = av.batch.run(manifest, tmp_path / "out", client=thread_client, progress=seen.append)
    assert (report.ok, report.failed, report.skipped) == (3, 0, 0)
    assert seen[-1].finished == 3 and seen[-1].eta_s == 0.0
    assert [r["status"] for r in report.table.rows] == ["ok", "ok", "ok"]
    assert thread_client.status == "running"  # a given client is left open

    # Nothing changed: everything ok is kept.
    again = av.batch.run(manifest, tmp_path / "out", client=thread_client, resume=True)
    assert [r["resumed"] for r in again.table.rows] == [True, True, True]

    # An edited landmarks file changes the row's hash: that case alone runs again.
    markups = json.loads(landmarks.read_text())
    markups["markups"][0]["controlPoints"][0]["position"][0] += 0.5
    landmarks.write_text(json.dumps(markups))
    third = av.batch.run(manifest, tmp_path / "out", client=thread_client, resume=True)
    assert [r["resumed"] for r in third.table.rows] == [False, True, True]
    out = tmp_path / "out"
    assert _log_count(out, "A ok") == 2 and _log_count(out, "B ok") == 1


def test_import_annulusview_does_not_import_dask():
    code = (
        "import sys, annulusview\n"
        "run = annulusview.batch.run\n"
        "bad = [m for m in ('dask', 'distributed', 'pyarrow') if m in sys.modules]\n"
        "assert not bad, bad\n"
        "assert callable(run)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


# --- manifests that cannot be used: exit 3 before any cluster starts ---------------------------

BAD_MANIFESTS = [
    # (name, text, what the one stderr line says)
    ("empty", "", "is empty"),
    ("no header", "A,studies/A/dicom\n", "has no case_id or study column"),
    ("no study column", "case_id,landmarks\nA,x.mrk.json\n", "has no study column"),
    ("duplicate id", "case_id,study\nA,s1\nB,s2\nA,s3\n", "'A' on line 4 of"),
    ("duplicate id by case", "case_id,study\nab,s1\nAB,s2\n", "repeats line 2"),
    ("parent folder", "case_id,study\n../x,s\n", "cannot be a folder name"),
    ("path separator", "case_id,study\na/b,s\n", "cannot be a folder name"),
    ("backslash", "case_id,study\na\\b,s\n", "cannot be a folder name"),
    ("dots only", "case_id,study\n..,s\n", "cannot be a folder name"),
    ("hidden", "case_id,study\n.x,s\n", "cannot be a folder name"),
    ("empty id", "case_id,study\n,s\n", "empty case_id on line 2"),
    ("output name", "case_id,study\ncohort.csv,s\n", "is the name of a batch output"),
    ("no study", "case_id,study\nA,\n", "names no study"),
    ("no case", "case_id,study\n\n", "lists no case"),
    ("extra fields", "case_id,study\nA,s,extra\n", "Line 2 of the manifest"),
    ("repeated column", "case_id,study,study\nA,s,t\n", "names the column(s) study twice"),
]


@pytest.mark.parametrize(("name", "text", "says"), BAD_MANIFESTS, ids=[b[0] for b in BAD_MANIFESTS])
def test_unusable_manifest_exits_3(tmp_path, capsys, name, text, says):
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    code = main(["batch", str(manifest), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3
    assert len(err.strip().splitlines()) == 1 and says in err, err
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_missing_or_binary_manifest_exits_3(tmp_path, capsys):
    code = main(["batch", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")])
    assert code == 3 and "The manifest" in capsys.readouterr().err
    binary = tmp_path / "m.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage\x00")
    assert main(["batch", str(binary), "--out", str(tmp_path / "out")]) == 3
    assert "is not utf-8 text" in capsys.readouterr().err


def test_outputs_never_land_in_a_study(cohort, tmp_path, capsys):
    # The case folder would be the study folder itself.
    study = tmp_path / "out" / "A"
    study.mkdir(parents=True)
    manifest = _write_manifest(tmp_path / "m.csv", [{"case_id": "A", "study": str(study)}])
    assert main(["batch", str(manifest), "--out", str(tmp_path / "out")]) == 3
    assert "lies inside the study folder" in capsys.readouterr().err
    # The tables would replace the manifest.
    out = tmp_path / "o2"
    out.mkdir()
    inside = _write_manifest(out / "cohort.csv", [{"case_id": "A", "study": "x"}])
    assert main(["batch", str(inside), "--out", str(out)]) == 3
    assert "is the manifest of this run" in capsys.readouterr().err


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    from annulusview.batch.manifest import read_manifest

    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "sub" / "m.csv"
    manifest.write_bytes(
        "\ufeffCase_ID, Study ,landmarks,valve\nP-1.a,../s/p,l.mrk.json,sapien3:26\n"
        "P2,/abs/study,AUTO,\n".encode()
    )  # a BOM, odd header case and spaces, as spreadsheets write them
    rows = read_manifest(manifest).rows
    assert rows[0].study == tmp_path / "sub" / ".." / "s" / "p"
    assert rows[0].landmarks == tmp_path / "sub" / "l.mrk.json"
    assert rows[0].valve == "sapien3:26" and rows[0].line == 2
    assert rows[1].study == Path("/abs/study") and rows[1].landmarks is None
    assert rows[0].row_hash() != rows[1].row_hash()
