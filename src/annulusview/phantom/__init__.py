"""Synthetic cardiac CT phantoms with closed-form answers (``truth.json``).

Used by the tests of every layer, the benchmarks and the demo::

    from annulusview.phantom import make_case, write_case
    case = make_case("tavr-contrast", seed=0, size="small")   # volume, landmarks, truth
    folder = write_case("out/", "tavr-contrast", seed=0, size="small")
"""

from __future__ import annotations

from annulusview.phantom.anatomy import BUILT_CASES, CASES
from annulusview.phantom.case import PhantomCase, PhantomCaseNotBuilt, make_case, make_varied_case
from annulusview.phantom.render import SIZES

__all__ = [
    "BUILT_CASES",
    "CASES",
    "SIZES",
    "PhantomCase",
    "PhantomCaseNotBuilt",
    "make_case",
    "make_varied_case",
]
