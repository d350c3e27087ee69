"""Draw the AnnulusView application icon: an annulus ring with calcium nodules.

Run once when the drawing changes; the PNG, ICO and ICNS it writes are kept in
``resources/icons/``::

    .venv/bin/python packaging/make_icon.py
"""

from __future__ import annotations

import math
from pathlib import Path

from PIL import Image, ImageDraw

ICONS = Path(__file__).resolve().parent.parent / "resources" / "icons"
SIZE = 1024  # drawn large, scaled down for the smaller sizes


def draw_icon(size: int = SIZE) -> Image.Image:
    """The icon as an RGBA image of ``size`` x ``size`` pixels."""
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    s = size / 1024
    draw.rounded_rectangle((40 * s, 40 * s, 984 * s, 984 * s), radius=200 * s, fill="#1f2a3a")
    # The annulus: an ellipse ring seen slightly obliquely, as in the annular-plane view.
    box = (190 * s, 250 * s, 834 * s, 774 * s)
    draw.ellipse(box, outline="#d8475a", width=round(96 * s))
    # Calcium nodules on the ring (bright, as on CT).
    cx, cy, rx, ry = 512 * s, 512 * s, 322 * s, 262 * s
    for angle_deg, radius in ((205, 62), (250, 44), (20, 52), (105, 38)):
        a = math.radians(angle_deg)
        x, y = cx + rx * math.cos(a), cy + ry * math.sin(a)
        r = radius * s
        draw.ellipse((x - r, y - r, x + r, y + r), fill="#f4f1e8", outline="#1f2a3a", width=6)
    return image


def main() -> None:
    ICONS.mkdir(parents=True, exist_ok=True)
    icon = draw_icon()
    icon.resize((512, 512), Image.LANCZOS).save(ICONS / "annulusview.png")
    icon.save(ICONS / "annulusview.ico", sizes=[(n, n) for n in (16, 24, 32, 48, 64, 128, 256)])
    icon.save(ICONS / "annulusview.icns")
    for path in sorted(ICONS.iterdir()):
        print(path, path.stat().st_size)


if __name__ == "__main__":
    main()
