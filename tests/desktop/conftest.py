"""Every desktop test gets QSettings of its own (both formats: the app's are native), and the
idle locks of the desktops it started are stopped when it ends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from desktop import app as desktop_app
from tests import user_state
from tests.conftest import TEST_HOME
from tests.support import Api, open_till_session


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path) -> Iterator[Path]:
    """Point new QSettings at the test's folder, and back at the suite's afterwards."""
    folder = tmp_path / "settings"
    user_state.point_settings(folder)
    yield folder
    user_state.point_settings(TEST_HOME / "qsettings")


@pytest.fixture(autouse=True)
def stop_idle_locks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Stop the idle watchers a test's desktops installed on the shared QApplication.

    Left running, an idle lock fires its "minutes" later inside whatever test runs then (a
    slow suite outlives --idle-minutes 60) and locks a window that is long gone.
    """
    started: list[desktop_app.IdleWatcher] = []

    class Recorded(desktop_app.IdleWatcher):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            started.append(self)

    monkeypatch.setattr(desktop_app, "IdleWatcher", Recorded)
    yield
    for watcher in started:
        watcher.stop()


@pytest.fixture(scope="module")
def make_user(
    make_user: Callable[..., tuple[dict[str, Any], Api]], admin: Api
) -> Callable[..., tuple[dict[str, Any], Api]]:
    """The suite's `make_user`, where a teller at a desktop works a till: an open session.

    Staff cash goes through a till (API.md "Cash needs a till"); `till=False` makes a teller
    without one, for the screens that open a session.
    """

    def factory(
        role: str = "user", *, till: bool = True, **fields: Any
    ) -> tuple[dict[str, Any], Api]:
        user, api = make_user(role, **fields)
        if role == "teller" and till:
            open_till_session(admin, api)
        return user, api

    return factory
