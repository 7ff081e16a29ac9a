"""Every desktop test gets QSettings of its own (both formats: the app's are native)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import user_state
from tests.conftest import TEST_HOME


@pytest.fixture(autouse=True)
def own_settings(tmp_path: Path) -> Iterator[Path]:
    """Point new QSettings at the test's folder, and back at the suite's afterwards."""
    folder = tmp_path / "settings"
    user_state.point_settings(folder)
    yield folder
    user_state.point_settings(TEST_HOME / "qsettings")
