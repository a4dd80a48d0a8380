"""The dashboard's part of the app (its Kafka client is closed when the app shuts down) and the
browser tests' requirement check."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from itms.settings import Settings


class _Offsets:
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_kafka_client_closed_at_shutdown() -> None:
    from itms.wiring.api import build_app

    # the pool opens in the background: no database is needed for start and stop
    app = build_app(Settings(database_url="postgresql://nobody@127.0.0.1:1/none"))
    offsets = _Offsets()
    with TestClient(app):
        app.state.topic_offsets = offsets
        assert offsets.closed == 0
    assert offsets.closed == 1


@pytest.mark.parametrize("ci", ["true", ""])
def test_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch, ci: str) -> None:
    from tests.dashboards import conftest

    monkeypatch.setattr(conftest, "chromium_executable", lambda: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci else pytest.skip.Exception
    with pytest.raises(expected, match="'chromium' system package"):
        conftest.require_browser()
