"""``itms users`` / ``itms keys``: bootstrap an admin from the shell and use the printed key."""

from __future__ import annotations

import argparse

import pytest

from itms.accounts_cli import cmd_keys, cmd_users

pytestmark = pytest.mark.integration


def test_cli_creates_admin_and_key_that_the_api_accepts(
    make_client, stack_settings, api_dsn, monkeypatch, capsys
) -> None:
    settings = stack_settings.model_copy(update={"database_url": api_dsn})
    monkeypatch.setenv("ITMS_NEW_PASSWORD", "short")
    with pytest.raises(SystemExit, match="at least"):
        cmd_users(argparse.Namespace(action="add", username="boss", role="admin"), settings)
    monkeypatch.setenv("ITMS_NEW_PASSWORD", "Bến Bính 2026 ferry")
    cmd_users(argparse.Namespace(action="add", username="boss", role="admin"), settings)
    cmd_keys(argparse.Namespace(action="create", target="boss", role="admin", name="ops tool",
                                days=30), settings)  # fmt: skip
    key = capsys.readouterr().out.strip().splitlines()[-1]
    client = make_client(secret_key=settings.secret_key)
    me = client.get("/v1/auth/me", headers={"X-API-Key": key})
    assert me.json() == {"username": "boss", "role": "admin", "auth": f"key:{key[5:17]}"}
    token = client.post("/v1/auth/token",
                        data={"username": "boss", "password": "Bến Bính 2026 ferry"})  # fmt: skip
    assert token.status_code == 200
    log = client.get("/v1/admin/audit", params={"resource_type": "api_key"},
                     headers={"X-API-Key": key}).json()["entries"]  # fmt: skip
    assert log[0]["actor"].startswith("cli:") and log[0]["after"]["username"] == "boss"
    cmd_keys(argparse.Namespace(action="revoke", target=key[5:17]), settings)
    assert client.get("/v1/auth/me", headers={"X-API-Key": key}).status_code == 401
