"""Where the main window's actions appear: the toolbar and the menus."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolBar

from desktop.text import tr
from desktop.widgets import named


def place_actions(window: Any) -> QToolBar:
    """Put a main window's actions in its toolbar and menus; return the toolbar."""
    w = window
    toolbar = named(QToolBar(tr("Main"), w), "mainToolbar")
    toolbar.setMovable(False)
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    toolbar.addActions([w.deposit_action, w.withdraw_action, w.transfer_action])
    toolbar.addSeparator()
    toolbar.addActions([w.new_customer_action, w.edit_customer_action, w.new_account_action,
                        w.export_action])  # fmt: skip
    toolbar.addSeparator()
    toolbar.addActions([w.refresh_action, w.logout_action])
    w.addToolBar(toolbar)
    menu = w.menuBar()
    menu.addMenu(tr("&Money")).addActions([w.deposit_action, w.withdraw_action,
                                           w.transfer_action])  # fmt: skip
    accounts = menu.addMenu(tr("&Accounts"))
    accounts.addActions([w.new_customer_action, w.edit_customer_action, w.new_account_action,
                         w.export_action])  # fmt: skip
    accounts.addSeparator()
    accounts.addActions(list(w.admin_actions))
    accounts.addSeparator()
    accounts.addActions([w.find_action, w.refresh_action])
    menu.addMenu(tr("&Session")).addAction(w.logout_action)
    menu.addMenu(tr("&Help")).addAction(w.about_action)
    return toolbar
