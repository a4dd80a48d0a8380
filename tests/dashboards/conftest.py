"""Fixtures of the dashboard browser tests: Debian's Chromium driven by Playwright, and the API
serving the dashboard on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from itms.settings import REPO_ROOT

ARTIFACTS = REPO_ROOT / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--no-sandbox",
    # WebGL without a GPU (MapLibre draws with WebGL)
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--ignore-gpu-blocklist",
]


def chromium_executable() -> str | None:
    """Path of the system Chromium (never a browser downloaded by Playwright)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def require_browser() -> tuple[str, Any]:
    """(Chromium path, ``playwright.sync_api``); fails in CI (``CI=true``) when either is
    missing, skips elsewhere."""
    path = chromium_executable()
    try:
        from playwright import sync_api
    except ImportError:
        sync_api = None
    missing = []
    if path is None:
        missing.append("the 'chromium' system package (apt-get install chromium)")
    if sync_api is None:
        missing.append("the 'playwright' Python package (pip install -e '.[dev]')")
    if missing:
        message = "dashboard browser tests need " + " and ".join(missing)
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return path, sync_api  # type: ignore[return-value]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """A headless Chromium (Debian's, through Playwright)."""
    path, sync_api = require_browser()
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def artifacts() -> Path:
    """Folder for screenshots (``test-artifacts/dashboard``, ignored by git)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@contextmanager
def serve(app: object) -> Iterator[str]:
    """Run ``app`` under uvicorn on a free 127.0.0.1 port in a thread; yields its base URL."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
