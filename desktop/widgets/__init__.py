"""Reusable widgets and small helpers for building them."""

from __future__ import annotations

from PySide6.QtCore import QObject


def named[W: QObject](widget: W, name: str) -> W:
    """Give a widget its objectName (tests and accessibility tools find it by that)."""
    widget.setObjectName(name)
    return widget


def child[W: QObject](parent: QObject, kind: type[W], name: str) -> W:
    """Return the named child widget, which must exist."""
    found = parent.findChild(kind, name)
    if found is None:
        raise LookupError(f"no {kind.__name__} named {name!r}")
    return found
