"""Layout pieces shared by the PDF report's sections: styles, tables, headings, pictures."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    CondPageBreak,
    Image,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from annulusview.core.presentation import (
    fmt,
)

HEADER_BG = colors.HexColor("#E8EAEE")


GRID = colors.HexColor("#B8BCC4")


@dataclass(frozen=True)
class ReportPicture:
    """A picture for the report: caption and PNG bytes."""

    caption: str
    png: bytes


def _esc(text: Any) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("body", parent=base["BodyText"], fontSize=9, leading=11.5)
    return {
        "title": ParagraphStyle("title", parent=base["Title"], fontSize=17, spaceAfter=2),
        # keepWithNext: a heading never ends a page without what it heads
        "h2": ParagraphStyle(
            "h2",
            parent=base["Heading2"],
            fontSize=11.5,
            spaceBefore=6,
            spaceAfter=4,
            keepWithNext=1,
        ),
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5),
        "h2_split": ParagraphStyle(
            "h2_split", parent=base["Heading2"], fontSize=11.5, spaceBefore=6, spaceAfter=4
        ),
        # BodyText puts 6 pt before every paragraph: cards and bullets are set closer
        "card": ParagraphStyle("card", parent=body, fontSize=6.8, leading=8.4, spaceBefore=0),
        "card_title": ParagraphStyle(
            "card_title", parent=body, fontSize=7.5, leading=9.5, spaceBefore=0, spaceAfter=1
        ),
        "bullet": ParagraphStyle("bullet", parent=body, fontSize=7.5, leading=9.5, spaceBefore=2),
        "small_keep": ParagraphStyle(
            "small_keep", parent=body, fontSize=7.5, leading=9.5, keepWithNext=1
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8, leading=10),
        "cell_white": ParagraphStyle(
            "cell_white",
            parent=body,
            fontSize=7.5,
            leading=9.5,
            textColor=colors.white,
            fontName="Helvetica-Bold",
        ),
        "caption": ParagraphStyle(
            "caption", parent=body, fontSize=8, leading=10, alignment=TA_CENTER
        ),
    }


def _table(
    rows: list[list[Any]], widths: Sequence[float], header: bool = True, extra: Any = ()
) -> Table:
    t = Table(rows, colWidths=list(widths), hAlign="LEFT", repeatRows=1 if header else 0)
    style = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 8.5),
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if header:
        style += [
            ("BACKGROUND", (0, 0), (-1, 0), HEADER_BG),
            ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8.5),
        ]
    t.setStyle(TableStyle(style + list(extra)))
    return t


def _mm(value: float | None, digits: int = 1) -> str:
    return fmt(value, digits, "mm")


def _picture_grid(rows: list[list[Any]], widths: list[float]) -> Table:
    grid = Table(rows, colWidths=widths, hAlign="LEFT")
    grid.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 2 * mm),
            ]
        )
    )
    return grid


def _heading(title: str, st: dict[str, Any], room: float = 35 * mm) -> list[Any]:
    """A heading over a long table that may split: a new page first when less than ``room``
    is left (so the heading never ends a page), without pulling the whole table along."""
    return [CondPageBreak(room), Paragraph(_esc(title), st["h2_split"])]


def _picture(pic: ReportPicture, width: float, st: dict[str, ParagraphStyle]) -> list[Any]:
    img = Image(io.BytesIO(pic.png))
    img.drawHeight = img.imageHeight * width / float(img.imageWidth)
    img.drawWidth = width
    return [Spacer(1, 2 * mm), img, Paragraph(_esc(pic.caption), st["caption"])]
