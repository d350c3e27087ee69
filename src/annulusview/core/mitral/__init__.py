"""The mitral analysis (clinical-model.md section 8), one concern per module.

- :mod:`.annulus`: the annulus curve and its measurements;
- :mod:`.mac`: mitral annular calcification, its extent and the MAC CT score;
- :mod:`.thickness`: MAC cross-section widths;
- :mod:`.neo_lvot`: the virtual valve and the predicted neo-LVOT;
- :mod:`.analysis`: the entry point :func:`analyze_mitral` and :class:`MitralResults`.
"""

from annulusview.core.mitral.analysis import MitralResults, analyze_mitral
from annulusview.core.mitral.annulus import MitralAnnulus, fit_mitral_annulus
from annulusview.core.mitral.mac import MacLesion, MacResult, MacScore, analyze_mac, mac_score
from annulusview.core.mitral.neo_lvot import NeoLvotResult, VirtualValve, analyze_neo_lvot

__all__ = [
    "MacLesion",
    "MacResult",
    "MacScore",
    "MitralAnnulus",
    "MitralResults",
    "NeoLvotResult",
    "VirtualValve",
    "analyze_mac",
    "analyze_mitral",
    "analyze_neo_lvot",
    "fit_mitral_annulus",
    "mac_score",
]
