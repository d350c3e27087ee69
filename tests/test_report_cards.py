"""Report risk rules: an outcome table for every rule, then a whole evidence card for each rule
that says something (met or indeterminate); rules not met or not assessed print their source
and where it applies in the outcome table (the results JSON keeps every card whole)."""

from __future__ import annotations

import re

from reportlab.platypus import BalancedColumns, Paragraph, Table

from annulusview.core.flags import MET, NOT_ASSESSED, NOT_MET
from annulusview.core.outputs.deid import CaseIdentity
from annulusview.core.outputs.pdf_report import report_story, short_source


def _tables(res) -> tuple[dict[str, str], dict[str, str]]:
    """(rule id -> its outcome-table row text, rule id -> its evidence card text).

    The cards flow in two balanced columns as (title, text) paragraph pairs; a card that
    several rules share names them all in its title: "(id, id)".
    """
    ids = {f.id for f in res.flags}
    outcome: dict[str, str] = {}
    cards: dict[str, str] = {}
    for item in report_story(res, CaseIdentity("AV-1"), ()):
        if isinstance(item, BalancedColumns):
            paragraphs = [p for p in item._content if isinstance(p, Paragraph)]
            for title, body in zip(paragraphs[::2], paragraphs[1::2], strict=True):
                named = re.search(r"\(([^()]*)\)\s*$", title.getPlainText())
                assert named is not None, title.getPlainText()
                for rule in named.group(1).split(", "):
                    cards[rule] = body.getPlainText()
            continue
        if not isinstance(item, Table):
            continue
        for row in item._cellvalues:
            if len(row) == 3 and all(isinstance(c, Paragraph) for c in row):
                finding, source = row[1].getPlainText(), row[2].getPlainText()
                for rule in ids:
                    if f"({rule})" in finding:
                        outcome[rule] = f"{finding} | {source}"
    return outcome, cards


def test_cards_by_status(phantom_results) -> None:
    outcome, cards = _tables(phantom_results)
    by_id = {f.id: f for f in phantom_results.flags}
    assert set(outcome) == set(by_id)  # every rule is in the outcome table
    met = [i for i, f in by_id.items() if f.status == MET]
    quiet = [i for i, f in by_id.items() if f.status in (NOT_MET, NOT_ASSESSED)]
    assert met and quiet  # the phantom (no valve planned) has both kinds
    assert set(cards) <= set(by_id)
    for rule in met:
        card = cards[rule]
        for label in ("Source:", "Population:", "Device:", "Endpoint:", "Effect:", "Verified:"):
            assert label in card, (rule, label)
        number = re.search(r"card (\d+)", outcome[rule])
        assert number is not None, outcome[rule]
    for rule in quiet:
        assert rule not in cards
        flag = by_id[rule]
        assert "Applies to:" in outcome[rule]
        assert flag.reference.split()[0] in outcome[rule]


def test_short_source_by_hand() -> None:
    assert short_source("Hamdan A et al. Inverse relationship ... 2015;8:1218-28") == (
        "Hamdan A et al. 2015"
    )
    assert short_source("Vahanian A et al. 2021 ESC/EACTS Guidelines. Eur Heart J 2022") == (
        "Vahanian A et al. 2021"
    )
    assert short_source("Edwards Lifesciences instructions for use") == (
        "Edwards Lifesciences instructions for use "
    )


def test_report_lists_the_ten_largest_lesions(phantom_results) -> None:
    """A root with more lesions than the report lists: the 10 largest by volume are listed
    (in id order) and the heading says how many there are and where the rest are."""
    from dataclasses import replace

    base = phantom_results.lesions[0]
    # 14 lesions with volumes 1..14 mm3 in a shuffled id order: the largest are 5..14 mm3
    volumes = [7.0, 1.0, 12.0, 3.0, 14.0, 5.0, 9.0, 2.0, 11.0, 4.0, 13.0, 6.0, 10.0, 8.0]
    lesions = tuple(replace(base, id=k + 1, volume_mm3=v) for k, v in enumerate(volumes))
    res = replace(phantom_results, lesions=lesions)
    story = report_story(res, CaseIdentity("AV-1"), ())
    texts = [item.getPlainText() for item in story if isinstance(item, Paragraph)]
    assert any(
        t.startswith("Lesions (14; the 10 largest listed, every lesion in the results JSON)")
        for t in texts
    ), texts
    table = next(
        item
        for item in story
        if isinstance(item, Table) and item._cellvalues and item._cellvalues[0][0] == "#"
    )
    listed = [(int(row[0]), float(row[1].split()[0])) for row in table._cellvalues[1:]]
    assert [v for _, v in listed] == [v for v in volumes if v >= 5.0]  # id order kept
    assert sorted(v for _, v in listed) == [5.0 + k for k in range(10)]


def test_first_page_says_the_landmarks_are_proposed(phantom_results) -> None:
    """Results that rest on proposed (unconfirmed) landmarks say so in the case table at the
    top of the report, naming them; confirmed landmarks add no such row."""
    from dataclasses import replace

    def case_rows(res) -> list[str]:
        story = report_story(res, CaseIdentity("AV-1"), ())
        tables = [item for item in story if isinstance(item, Table)][:2]
        return [
            " ".join(c.getPlainText() if isinstance(c, Paragraph) else str(c) for c in row)
            for t in tables
            for row in t._cellvalues
        ]

    assert not any(r.startswith("Landmarks") for r in case_rows(phantom_results))
    proposed = replace(phantom_results, landmarks_proposed=("RCC_hinge", "LCA_ostium"))
    rows = [r for r in case_rows(proposed) if r.startswith("Landmarks")]
    assert len(rows) == 1
    assert "2 proposed by the program and not yet confirmed" in rows[0]
    assert "RCC_hinge, LCA_ostium" in rows[0]
