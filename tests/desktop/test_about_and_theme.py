"""Help → About against a real server (versions, the server, where things are kept), and the
theme under a dark palette: every colour the desktop picks is readable on dark."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication, QLabel

from desktop import __version__, theme, workers
from desktop.api.client import BankClient
from desktop.dialogs.about import AboutDialog, Places
from desktop.main_window import MainWindow
from desktop.models.accounts import AccountsModel
from desktop.theme import Tone
from desktop.widgets.labels import ToneLabel
from tests.support import Api, ServerProcess, expect

MakeUser = Callable[..., tuple[dict[str, Any], Api]]
WAIT_MS = 15_000


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def teller_window(qtbot: Any, server: ServerProcess, make_user: MakeUser,
                  **kwargs: Any) -> MainWindow:  # fmt: skip
    me, _ = make_user("teller")
    client = BankClient(server.url)
    user = client.login(me["username"], f"pw-{me['username']}-secret")
    window = MainWindow(client, user, **kwargs)
    qtbot.addWidget(window)
    window.show()
    return window


def test_help_about_names_both_versions_the_server_and_where_things_are(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, tmp_path: Path
) -> None:
    settings = QSettings(str(tmp_path / "desktop.ini"), QSettings.Format.IniFormat)
    places = Places(settings.fileName(), tmp_path / "bank-data", tmp_path / "server.log")
    window = teller_window(qtbot, server, make_user, settings=settings, places=places)
    assert window.about_action.shortcut().toString() == "F1"
    window.about_action.trigger()
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(AboutDialog)),
                    timeout=WAIT_MS)  # fmt: skip
    about = next(d for d in window.findChildren(AboutDialog) if d.isVisible())
    qtbot.waitUntil(lambda: about.server_info is not None, timeout=WAIT_MS)
    service = httpx.get(f"{server.url}/").json()
    rows = dict(about.rows())
    assert __version__ in rows["Desktop"]
    assert rows["Server"].startswith(server.url)
    assert rows["Server version"] == f"{service['name']}, version {service['version']}"
    assert rows["Settings"] == str(tmp_path / "desktop.ini")
    assert rows["Bank data"] == str(tmp_path / "bank-data")
    assert rows["Server log"] == str(tmp_path / "server.log")
    shown = about.findChild(QLabel, "aboutText").text()
    for value in rows.values():
        assert value.replace("&", "&amp;") in shown
    about.reject()
    window.close()


def contrast(a: QColor, b: QColor) -> float:
    """Return the WCAG contrast ratio of two colours."""

    def luminance(color: QColor) -> float:
        def channel(value: float) -> float:
            return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

        return (0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF())
                + 0.0722 * channel(color.blueF()))  # fmt: skip

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, color in (
        (QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.WindowText, "#e8eaed"),
        (QPalette.ColorRole.Base, "#171717"), (QPalette.ColorRole.AlternateBase, "#262626"),
        (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.Button, "#2d2e30"),
        (QPalette.ColorRole.ButtonText, "#e8eaed"),
    ):  # fmt: skip
        palette.setColor(role, QColor(color))
    return palette


@pytest.fixture
def dark(qapp: QApplication) -> Iterator[QPalette]:
    before = QGuiApplication.palette()
    qapp.setPalette(dark_palette())
    yield QGuiApplication.palette()
    qapp.setPalette(before)


def test_a_dark_palette_gets_colours_readable_on_dark(
    qtbot: Any, server: ServerProcess, make_user: MakeUser, open_account: Any, admin: Api,
    dark: QPalette,
) -> None:  # fmt: skip
    colors = theme.colors()
    assert colors.dark
    base = dark.color(QPalette.ColorRole.Base)
    for name in ("muted", "negative", "positive", "accent", "warning"):
        assert contrast(getattr(colors, name), base) >= 4.5, name
    for panel in (colors.ok_panel, colors.warning_panel, colors.error_panel):
        assert contrast(panel[0], panel[1]) >= 4.5
    assert theme.colors(QPalette(QColor("#ffffff"))).dark is False  # and light stays light

    # The window under the dark palette: the model's negative balance, the chart's
    # background, a message panel, all from the dark set.
    owner, _ = make_user("user", full_name="Dora Dark")
    account = open_account(owner["id"], deposit="5.00")
    expect(admin.put(f"/accounts/{account['id']}/admin", json={"overdraft_limit": "50.00"}), 200)
    expect(admin.post(f"/accounts/{account['id']}/withdraw", json={"amount": "20.00"}), 201)
    window = teller_window(qtbot, server, make_user)
    model = window.accounts_model
    qtbot.waitUntil(lambda: model.row_of(account["id"]) is not None, timeout=WAIT_MS)
    row = model.row_of(account["id"])
    foreground = model.index(row, AccountsModel.Column.BALANCE).data(9)  # ForegroundRole
    assert foreground.name() == colors.negative.name()
    assert contrast(foreground, base) >= 4.5
    window.accounts_table.selectRow(row)
    chart = window.chart
    qtbot.waitUntil(lambda: chart._plot is not None and chart.plot.isVisible(), timeout=WAIT_MS)
    assert chart.plot.backgroundBrush().color().name() == base.name()
    label = ToneLabel("probe", panel=True)
    qtbot.addWidget(label)
    label.show_text("Refused", Tone.ERROR)
    assert colors.error_panel[1].name() in label.styleSheet()
    window.close()


def test_labels_follow_a_palette_switch_at_run_time(qtbot: Any, qapp: QApplication) -> None:
    before = QGuiApplication.palette()
    label = ToneLabel("probe", panel=True)
    qtbot.addWidget(label)
    label.show_text("Saved", Tone.OK)
    light = theme.colors().ok_panel[1].name()
    assert light in label.styleSheet()
    try:
        qapp.setPalette(dark_palette())
        qtbot.waitUntil(lambda: theme.colors().ok_panel[1].name() in label.styleSheet(),
                        timeout=WAIT_MS)  # fmt: skip
        assert light not in label.styleSheet()
    finally:
        qapp.setPalette(before)
