"""CT loading: DICOM folders, zips, single files and NIfTI volumes into :class:`Volume`.

Public API::

    from annulusview.core.io import load, scan
    result = scan("study/")          # headers only: series, warnings, skipped files
    vol = load("study/", series=result.series[0].id)
"""

from __future__ import annotations

from annulusview.core.io.loader import load, scan
from annulusview.core.io.types import INFO_SCHEMA, ScanResult, SeriesSummary, SkippedFile

__all__ = ["INFO_SCHEMA", "ScanResult", "SeriesSummary", "SkippedFile", "load", "scan"]
