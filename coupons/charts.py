"""Server-rendered SVG charts for admin (no CDN, no JavaScript)."""

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 760, 220, 40, 28, 12


def bar_chart(
    labels: Sequence[str], series: Sequence[tuple[str, str, Sequence[int]]], *, title: str = ""
) -> SafeString:
    """Grouped bars: ``series`` is a list of (name, colour, values), one value per label."""
    peak = max([1, *(v for _name, _colour, values in series for v in values)])
    plot_w, plot_h = WIDTH - PAD_LEFT - 10, HEIGHT - PAD_BOTTOM - PAD_TOP
    slot = plot_w / max(len(labels), 1)
    bar = max(slot / (len(series) + 1), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'style="max-width:100%;height:auto;font:11px sans-serif" aria-label="{escape(title)}">',
        f'<line x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD_BOTTOM}" '
        'stroke="#999"/>',
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" text-anchor="end" fill="#666">{peak}</text>',
        f'<text x="{PAD_LEFT - 4}" y="{HEIGHT - PAD_BOTTOM}" text-anchor="end" fill="#666">0</text>',
    ]
    for i, label in enumerate(labels):
        x0 = PAD_LEFT + i * slot
        for j, (name, colour, values) in enumerate(series):
            value = values[i]
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + bar * (j + 0.5):.1f}" y="{HEIGHT - PAD_BOTTOM - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{escape(colour)}">'
                f"<title>{escape(label)} {escape(name)}: {value}</title></rect>"
            )
        if len(labels) <= 10 or i % max(len(labels) // 10, 1) == 0:
            parts.append(
                f'<text x="{x0 + slot / 2:.1f}" y="{HEIGHT - 10}" text-anchor="middle" fill="#666">'
                f"{escape(label)}</text>"
            )
    # The legend sits top right, each entry as wide as its name (CJK characters count double).
    widths = [24 + 7 * sum(2 if ord(ch) > 0x2E80 else 1 for ch in name) for name, _colour, _values in series]
    x = WIDTH - 10 - sum(widths)
    for (name, colour, _values), width in zip(series, widths, strict=True):
        parts.append(
            f'<rect x="{x}" y="2" width="10" height="10" fill="{escape(colour)}"/>'
            f'<text x="{x + 14}" y="11" fill="#333">{escape(name)}</text>'
        )
        x += width
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated value is escaped above


def progress_bar(done: int, total: int) -> SafeString:
    percent = 100 if total == 0 and done == 0 else int(100 * done / total) if total else 0
    return format_html(
        '<div style="background:#eee;border-radius:4px;width:160px;display:inline-block;vertical-align:middle">'
        '<div style="background:#218838;height:10px;border-radius:4px;width:{}%"></div></div> {} / {} ({}%)',
        min(percent, 100),
        done,
        total,
        min(percent, 100),
    )
