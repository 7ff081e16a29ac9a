"""The desktop's words come from codes and facts: a server whose every error sentence is
nonsense (a transport rewrites `detail` in every error answer of the real server) makes the
desktop show exactly the same text, in every dialog that shows a refusal."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from PySide6.QtWidgets import QLabel, QLineEdit, QMessageBox, QPushButton, QWidget

from desktop import workers
from desktop.admin import AdminPanel
from desktop.api.client import BankClient
from desktop.dialogs.account_admin import LimitsDialog
from desktop.dialogs.login import LoginDialog
from desktop.dialogs.movement import movement_dialog
from desktop.dialogs.user_form import NewUserDialog
from desktop.main_window import MainWindow
from shared.schemas.accounts import AccountPublic
from tests.support import ADMIN_PASSWORD, Api, ServerProcess, expect

NONSENSE = "Qwerty flibbertigibbet 9000"
WAIT_MS = 15_000
MakeUser = Callable[..., tuple[dict[str, Any], Api]]
OpenAccount = Callable[..., dict[str, Any]]


class RewordingTransport(httpx.HTTPTransport):
    """A real transport that replaces the sentences of every error answer with nonsense."""

    def __init__(self) -> None:
        super().__init__()
        self.reworded = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if response.status_code < 400:
            return response
        response.read()
        body = json.loads(response.content)
        if isinstance(body.get("detail"), list):
            body["detail"] = [{**item, "msg": NONSENSE, "ctx": {}} for item in body["detail"]]
        else:
            body["detail"] = NONSENSE
        self.reworded += 1
        headers = {k: v for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "content-encoding")}  # fmt: skip
        return httpx.Response(response.status_code, headers=headers, json=body,
                              request=request)  # fmt: skip


@pytest.fixture(autouse=True)
def no_task_left_behind(qtbot: Any) -> Iterator[None]:
    yield
    qtbot.waitUntil(lambda: workers.pending() == 0, timeout=WAIT_MS)


def shown_text(qtbot: Any, label: QLabel) -> str:
    qtbot.waitUntil(lambda: label.isVisible() and bool(label.text()), timeout=WAIT_MS)
    return label.text()


def visible[W: QWidget](qtbot: Any, parent: QWidget, kind: type[W], name: str) -> W:
    found: list[W] = []

    def ready() -> bool:
        found[:] = [w for w in parent.findChildren(kind, name) if w.isVisible()]
        return len(found) == 1

    qtbot.waitUntil(ready, timeout=WAIT_MS)
    return found[0]


def refusals(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount, transport: httpx.BaseTransport | None,
) -> dict[str, str]:  # fmt: skip
    """Provoke one refusal of each kind through the widgets; return what each showed."""
    shown: dict[str, str] = {}
    client = BankClient(server.url, transport=transport)
    client.login("admin", ADMIN_PASSWORD)
    customer, _api = make_user("user", full_name="Rhea Reword")

    def account(**fields: Any) -> AccountPublic:
        return AccountPublic.model_validate(open_account(customer["id"], **fields))

    def dialog_error(kind: Any, target: AccountPublic, amount: str,
                     behind: Callable[[], object] | None = None) -> str:  # fmt: skip
        dialog = movement_dialog(client, kind, target)
        qtbot.addWidget(dialog)
        dialog.show()
        if behind is not None:  # once the dialog has read the account, change it on the server
            qtbot.wait(500)
            behind()
        dialog.findChild(QLineEdit, "amountEdit").setText(amount)
        dialog.submit()
        dialog.submit()
        return shown_text(qtbot, dialog.findChild(QLabel, "dialogError"))

    # Money: not enough of it, over the daily limit, a frozen account.
    # The withdrawal dialog stops an amount above what it read as available; the server's
    # refusal comes when the money went meanwhile (80.00 withdrawn behind the dialog's back).
    poor = account(deposit="100.00")
    shown["insufficient_funds"] = dialog_error("withdraw", poor, "75.00", lambda: expect(
        admin.post(f"/accounts/{poor.id}/withdraw", json={"amount": "80.00"}), 201))  # fmt: skip
    limited = account(deposit="500.00")
    limited = AccountPublic.model_validate(
        expect(
            admin.put(f"/accounts/{limited.id}/admin", json={"daily_withdrawal_limit": "50.00"}),
            200,
        )
    )
    shown["limit_exceeded"] = dialog_error("withdraw", limited, "60.00")
    frozen = account(deposit="5.00")
    expect(admin.put(f"/accounts/{frozen.id}/admin", json={"status": "frozen"}), 200)
    shown["account_not_active"] = dialog_error("deposit", frozen, "1.00")

    # Sign-in with a wrong password.
    login = LoginDialog(BankClient(server.url, transport=transport))
    qtbot.addWidget(login)
    login.show()
    login.username_edit.setText("admin")
    login.password_edit.setText("not-the-password")
    login.login_button.click()
    shown["invalid_credentials"] = shown_text(qtbot, login.error_label)

    # A username that is taken.
    form = NewUserDialog(client)
    qtbot.addWidget(form)
    form.show()
    for name, value in (("usernameEdit", customer["username"]), ("fullNameEdit", "Rhea Again"),
                        ("emailEdit", "rhea@example.com"), ("passwordEdit", "rhea-pass-1"),
                        ("confirmPasswordEdit", "rhea-pass-1")):  # fmt: skip
        form.findChild(QLineEdit, name).setText(value)
    form.ok_button.click()
    shown["username_taken"] = shown_text(qtbot, form.error)

    # Account settings: a stale version, and an overdraft below what is owed.
    stale = account(deposit="1.00")
    expect(admin.put(f"/accounts/{stale.id}/admin", json={"overdraft_limit": "5.00"}), 200)
    limits = LimitsDialog(client, stale)
    qtbot.addWidget(limits)
    limits.show()
    limits.overdraft.setText("10.00")
    limits.save_button.click()
    shown["version_conflict"] = shown_text(qtbot, limits.error)
    owing = account(deposit="10.00")
    expect(admin.put(f"/accounts/{owing.id}/admin", json={"overdraft_limit": "100.00"}), 200)
    expect(admin.post(f"/accounts/{owing.id}/withdraw", json={"amount": "60.00"}), 201)
    owing = AccountPublic.model_validate(expect(admin.get(f"/accounts/{owing.id}"), 200))
    lower = LimitsDialog(client, owing)
    qtbot.addWidget(lower)
    lower.show()
    lower.overdraft.setText("20.00")
    lower.save_button.click()
    shown["overdraft_below_debt"] = shown_text(qtbot, lower.error)

    # Closing an account that holds money; deleting a user whose accounts hold money.
    window = MainWindow(client, client.user)
    qtbot.addWidget(window)
    window.show()
    window.account_admin.close_account(account(deposit="12.50"))
    confirm = visible(qtbot, window, QMessageBox, "closeAccountConfirm")
    confirm.findChild(QPushButton, "confirmButton").click()
    refused = visible(qtbot, window, QMessageBox, "accountRefusedMessage")
    shown["balance_not_zero"] = refused.text()
    refused.close()
    panel = window.findChild(AdminPanel, "adminPanel")
    window.tabs.setCurrentWidget(panel)
    users = panel.users
    users.search.setText(customer["username"])
    qtbot.waitUntil(lambda: users.model.query["q"] == customer["username"]
                    and not users.model.loading and users.model.rowCount() == 1,
                    timeout=WAIT_MS)  # fmt: skip
    users.table.selectRow(0)
    box = users.confirm_delete()
    assert box is not None
    box.findChild(QPushButton, "confirmDeleteButton").click()
    shown["user_has_open_accounts"] = visible(qtbot, users, QMessageBox,
                                              "deleteRefusedMessage").text()  # fmt: skip
    window.close()
    client.close()
    # Each run has its own customer: name them alike so that only the words are compared.
    return {
        code: words.replace(customer["username"], "<customer>") for code, words in shown.items()
    }


def test_rewording_every_server_sentence_changes_no_word_the_desktop_shows(
    qtbot: Any, server: ServerProcess, admin: Api, make_user: MakeUser,
    open_account: OpenAccount,
) -> None:  # fmt: skip
    honest = refusals(qtbot, server, admin, make_user, open_account, None)
    nonsense = RewordingTransport()
    reworded = refusals(qtbot, server, admin, make_user, open_account, nonsense)
    assert nonsense.reworded >= len(honest)  # every refusal really came back reworded
    assert reworded == honest
    for code, words in honest.items():
        assert NONSENSE not in words, code
        assert words, code
    # And the words are the facts, not the server's sentences.
    assert honest["insufficient_funds"].startswith(
        "Not enough money in the account: 20.00 USD available, 75.00 USD requested."
    )
    assert "daily withdrawal limit of 50.00 USD" in honest["limit_exceeded"]
    assert honest["account_not_active"].startswith("The account is frozen")
    assert honest["invalid_credentials"] == "Wrong username or password."
    assert "username is taken" in honest["username_taken"]
    assert "now at version" in honest["version_conflict"]
    assert "owes more than the new overdraft limit" in honest["overdraft_below_debt"]
    assert "The balance is 12.50 USD" in honest["balance_not_zero"]
    assert "still holds money" in honest["user_has_open_accounts"]
