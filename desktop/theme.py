"""Colours and styles in one place, following the system palette (light or dark).

Widgets never name a colour: they ask for a role here (`colors().negative`, a message
tone), and what they get is picked for the palette in use, so a dark desktop theme is as
readable as a light one. Colours are computed from the application palette each time it
changes (cached by its cache key); widgets that set a style re-apply it when the palette
changes (see desktop/widgets/labels.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QWidget


class Tone(StrEnum):
    """What a piece of text says about the state of things."""

    NORMAL = "normal"
    MUTED = "muted"
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Colors:
    """The colours of one palette, by role."""

    dark: bool
    text: QColor
    muted: QColor
    negative: QColor  # money going out, negative balances, refusals
    positive: QColor  # money coming in
    accent: QColor  # the balance line, selected things
    base: QColor  # the background of views and charts
    grid: QColor
    # Message panels: (text, background, border) per tone.
    ok_panel: tuple[QColor, QColor, QColor]
    warning_panel: tuple[QColor, QColor, QColor]
    error_panel: tuple[QColor, QColor, QColor]
    warning: QColor  # warning text outside a panel
    bars: tuple[QColor, QColor, QColor]  # deposits, withdrawals, transfers


# Each role's colour on a light palette and on a dark one (text colours >= 4.5:1 on the base).
_PAIRS: dict[str, tuple[str, str]] = {
    "muted": ("#5f6368", "#a8abb0"), "negative": ("#b3261e", "#ff8a80"),
    "positive": ("#1e7b34", "#81c995"), "accent": ("#1f5fbf", "#8ab4f8"),
    "grid": ("#d0d0d0", "#4a4a4a"), "warning": ("#8a5a00", "#fdd663"),
    "ok_text": ("#1e4620", "#c8e6c9"), "ok_back": ("#edf7ed", "#1b3320"),
    "ok_line": ("#b7dfb9", "#3f7046"), "warning_text": ("#5c3b00", "#ffe0a3"),
    "warning_back": ("#fff4e5", "#3d2e0f"), "warning_line": ("#f0b45a", "#8a6a25"),
    "error_text": ("#b3261e", "#ffb4ab"), "error_back": ("#fdecea", "#41201d"),
    "error_line": ("#f5c2c0", "#8c3a33"), "deposits": ("#2e7d32", "#81c995"),
    "withdrawals": ("#c62828", "#ff8a80"), "transfers": ("#1f5fbf", "#8ab4f8"),
}  # fmt: skip

_cache: dict[int, Colors] = {}


def is_dark(palette: QPalette) -> bool:
    """Tell whether a palette draws light text on a dark window."""
    window = palette.color(QPalette.ColorRole.Window)
    text = palette.color(QPalette.ColorRole.WindowText)
    return window.lightness() < text.lightness()


def colors(palette: QPalette | None = None) -> Colors:
    """Return the colours for a palette (the application's by default)."""
    palette = palette if palette is not None else QGuiApplication.palette()
    key = int(palette.cacheKey())
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = _build(palette)
    return found


def paper_colors() -> Colors:
    """Return the colours for print (receipts): paper is white whatever the screen's theme."""
    return colors(QPalette(QColor("#ffffff")))


def _build(palette: QPalette) -> Colors:
    dark = is_dark(palette)

    def color(name: str) -> QColor:
        return QColor(_PAIRS[name][1 if dark else 0])

    def panel(tone: str) -> tuple[QColor, QColor, QColor]:
        return color(f"{tone}_text"), color(f"{tone}_back"), color(f"{tone}_line")

    return Colors(
        dark=dark,
        text=palette.color(QPalette.ColorRole.Text),
        muted=color("muted"),
        negative=color("negative"),
        positive=color("positive"),
        accent=color("accent"),
        base=palette.color(QPalette.ColorRole.Base),
        grid=color("grid"),
        ok_panel=panel("ok"),
        warning_panel=panel("warning"),
        error_panel=panel("error"),
        warning=color("warning"),
        bars=(color("deposits"), color("withdrawals"), color("transfers")),
    )


def text_style(tone: Tone, palette: QPalette | None = None) -> str:
    """Return the style sheet of plain text in a tone ("" for normal text)."""
    c = colors(palette)
    color = {
        Tone.MUTED: c.muted,
        Tone.OK: c.positive,
        Tone.WARNING: c.warning,
        Tone.ERROR: c.negative,
    }.get(tone)
    return f"color: {color.name()};" if color is not None else ""


def panel_style(tone: Tone, palette: QPalette | None = None) -> str:
    """Return the style sheet of a message panel: text, background and border of a tone."""
    c = colors(palette)
    panel = {Tone.OK: c.ok_panel, Tone.WARNING: c.warning_panel}.get(tone, c.error_panel)
    text, background, border = (color.name() for color in panel)
    return (
        f"color: {text}; background: {background}; border: 1px solid {border};"
        " border-radius: 4px; padding: 8px;"
    )


def frame_style(palette: QPalette | None = None) -> str:
    """Return the style sheet of a quiet framed box (a confirmation to read)."""
    return f"padding: 8px; border: 1px solid {colors(palette).grid.name()}; border-radius: 4px;"


def banner_style(name: str, palette: QPalette | None = None) -> str:
    """Return the style sheet of a strip across the window (by object name)."""
    _text, background, border = (color.name() for color in colors(palette).warning_panel)
    return f"#{name} {{ background: {background}; border-bottom: 1px solid {border}; }}"


def emphasize(widget: QWidget, scale: float = 1.0, bold: bool = True) -> None:
    """Make a widget's font larger and/or bold (headings, balances), keeping the family."""
    font = QFont(widget.font())
    font.setBold(bold)
    if scale != 1.0 and font.pointSizeF() > 0:
        font.setPointSizeF(font.pointSizeF() * scale)
    widget.setFont(font)
