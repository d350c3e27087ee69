"""Report evidence cards: full for rules that ran, short (source, scope) for rules that did not."""

from __future__ import annotations

from reportlab.platypus import Paragraph, Table

from annulusview.core.flags import NOT_ASSESSED
from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.outputs.pdf_report import report_story


def _flag_rows(res) -> dict[str, str]:
    """Rule id -> its evidence cell text, from the risk-rule table of the story."""
    ids = {f.id for f in res.flags}
    out: dict[str, str] = {}
    for item in report_story(res, CaseIdentity("AV-1"), ()):
        if not isinstance(item, Table):
            continue
        for row in item._cellvalues[1:]:
            if len(row) == 3 and all(isinstance(c, Paragraph) for c in row):
                finding, card = row[1].getPlainText(), row[2].getPlainText()
                for rule in ids:
                    if f"({rule})" in finding:
                        out[rule] = card
    return out


def test_cards_by_status(phantom_results) -> None:
    rows = _flag_rows(phantom_results)
    by_id = {f.id: f for f in phantom_results.flags}
    assessed = [i for i, f in by_id.items() if f.status != NOT_ASSESSED]
    skipped = [i for i, f in by_id.items() if f.status == NOT_ASSESSED]
    assert assessed and skipped  # the phantom (no valve planned) has both kinds
    for rule in assessed:
        assert "Population:" in rows[rule] and "Source:" in rows[rule]
    for rule in skipped:
        assert "Source:" in rows[rule] and "Population:" not in rows[rule]
        assert by_id[rule].evidence.reference.split()[0] in rows[rule]
