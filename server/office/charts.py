"""Charts as inline SVG, drawn on the server (no script, no CDN; they print and scale)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#0d9488", "#d97706", "#7c3aed", "#dc2626", "#0891b2", "#65a30d", "#6b7280")
FONT = (
    "font-family=\"'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif\""
)


def bars(items: Sequence[tuple[str, int]], title: str, *, color: str = PALETTE[0]) -> Markup:
    """A horizontal bar chart of labelled counts."""
    row, label_w, width = 30, 150, 520
    height = max(1, len(items)) * row + 10
    top = max([n for _, n in items] + [1])
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" {FONT}>',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        parts.append(f'<text x="0" y="20" font-size="13" fill="#6b7280">{escape(title)}: 0</text>')
    for i, (label, n) in enumerate(items):
        y = i * row + 5
        w = 0 if n == 0 else max(2.0, (width - label_w - 50) * n / top)
        short = _fit(label, 22)
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 17}" font-size="13" text-anchor="end" '
            f'fill="#374151">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="18" rx="3" fill="{color}">'
            f"<title>{escape(label)}: {n}</title></rect>"
            f'<text x="{label_w + w + 6:.1f}" y="{y + 17}" font-size="13" '
            f'fill="#111827">{n}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def _fit(label: str, room: int) -> str:
    """Shorten a label to about ``room`` half-width units (CJK characters count two)."""
    used, out = 0, list[str]()
    for char in label:
        used += 2 if ord(char) > 0x2E80 else 1
        if used > room:
            return "".join(out[:-1]) + "…"
        out.append(char)
    return label


def percent_text(rate: float) -> str:
    """A rate as the office shows it everywhere, card and chart alike: one decimal place."""
    return f"{rate * 100:.1f}%"


def ring(rate: float | None, caption: str, *, color: str = PALETTE[1]) -> Markup:
    """A ring showing one rate (0..1) with the percentage in the middle."""
    size, radius, stroke = 120, 48, 14
    circumference = 2 * math.pi * radius
    filled = 0.0 if rate is None else max(0.0, min(1.0, rate)) * circumference
    text = "—" if rate is None else percent_text(rate)
    c = size / 2
    return Markup(
        f'<svg class="ring" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="{escape(caption)} {text}" xmlns="http://www.w3.org/2000/svg" {FONT}>'
        f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="#e5e7eb" '
        f'stroke-width="{stroke}"/>'
        f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="{color}" '
        f'stroke-width="{stroke}" stroke-dasharray="{filled:.2f} {circumference:.2f}" '
        f'transform="rotate(-90 {c} {c})" stroke-linecap="butt"/>'
        f'<text x="{c}" y="{c + 7}" font-size="20" font-weight="600" text-anchor="middle" '
        f'fill="#111827">{text}</text></svg>'
    )
