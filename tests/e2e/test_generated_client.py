"""A client generated from /openapi.json by openapi-python-client works against the server.

The headless server's other users generate their clients from the schema: operation ids are
`tag-name`, so the generated functions read `money_deposit`, `accounts_list`, and a refusal
is read through its `code` and `context`, never by parsing `detail`.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ServerProcess

PACKAGE = "generated_bank_client"


@pytest.fixture(scope="module")
def generated(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Generate the client package into a temporary folder and import it."""
    folder = tmp_path_factory.mktemp("openapi-client")
    spec = folder / "openapi.json"
    spec.write_text(httpx.get(f"{server.url}/openapi.json", timeout=10).text)
    tool = Path(sys.executable).with_name("openapi-python-client")
    env = {**os.environ, "PATH": f"{tool.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--output-path", str(folder / PACKAGE),
         "--meta", "none"],
        capture_output=True, text=True, env=env, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(folder))
        for name in [name for name in sys.modules if name.startswith(PACKAGE)]:
            del sys.modules[name]


def test_operation_ids_are_short_and_unique(anon: Any) -> None:
    spec = anon.get("/openapi.json").json()
    ids = [op["operationId"] for ops in spec["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))
    for path, ops in spec["paths"].items():
        for op in ops.values():
            tag, _, name = op["operationId"].partition("-")
            assert tag == op["tags"][0], (path, op["operationId"])
            assert name, op["operationId"]
            assert "_post" not in name, op["operationId"]
            assert "__" not in name, op["operationId"]
    assert {"money-deposit", "money-withdraw", "money-transfer", "accounts-list"} <= set(ids)


def test_sign_in_list_deposit_and_read_a_refusal(generated: Any, make_user: Any) -> None:
    from generated_bank_client import AuthenticatedClient, Client
    from generated_bank_client.api.accounts import accounts_list, accounts_open
    from generated_bank_client.api.authentication import authentication_login
    from generated_bank_client.api.money import money_deposit, money_withdraw
    from generated_bank_client.models import (
        AccountCreate,
        AccountType,
        BodyAuthenticationLogin,
        ErrorBody,
        MovementRequest,
    )

    user, _api = make_user("user", password="generated-client-pw")
    base = _api.base_url
    tokens = authentication_login.sync(
        client=Client(base_url=base),
        body=BodyAuthenticationLogin(username=user["username"], password="generated-client-pw"),
    )
    assert tokens is not None
    assert tokens.token_type == "bearer"
    client = AuthenticatedClient(base_url=base, token=tokens.access_token)

    opened = accounts_open.sync(
        client=client, body=AccountCreate(account_type=AccountType.CHECKING, currency="USD")
    )
    page = accounts_list.sync(client=client)
    assert [account.id for account in page.items] == [opened.id]

    deposit = money_deposit.sync(
        opened.id, client=client, body=MovementRequest(amount="25.50"), idempotency_key="gen-1"
    )
    assert deposit.amount == "25.50"
    assert deposit.balance_after == "25.50"

    refused = money_withdraw.sync_detailed(
        opened.id, client=client, body=MovementRequest(amount="100.00")
    )
    assert refused.status_code == 409
    assert isinstance(refused.parsed, ErrorBody)
    assert refused.parsed.code.value == "insufficient_funds"
    facts = refused.parsed.context.to_dict()
    assert facts["available"] == "25.50"
    assert facts["requested"] == "100.00"
    assert facts["currency"] == "USD"
