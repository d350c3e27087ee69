"""Cohort analysis on Dask: every case of a manifest analysed as one task, resumable.

::

    import annulusview as av
    report = av.batch.run("cohort.csv", "out/")            # embedded local cluster
    report = av.batch.run("cohort.csv", "out/", client=c)  # an existing distributed.Client

See :func:`annulusview.batch.engine.run` and docs/batch.md. Dask is imported only when a batch
runs.
"""

from __future__ import annotations

from annulusview.batch.engine import BatchInterrupted, BatchProgress, BatchReport, run
from annulusview.batch.manifest import Manifest, ManifestError, ManifestRow, read_manifest

__all__ = [
    "BatchInterrupted",
    "BatchProgress",
    "BatchReport",
    "Manifest",
    "ManifestError",
    "ManifestRow",
    "read_manifest",
    "run",
]
