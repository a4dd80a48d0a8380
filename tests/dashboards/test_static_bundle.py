"""The committed dashboard build: present, served at ``/``, and self-contained (nothing is
fetched from another host, so the control room works offline)."""

from __future__ import annotations

import hashlib
import json
import re

from fastapi.testclient import TestClient

from api.routes.dashboard import STATIC_DIR

URL = re.compile(r"""https?://[^\s"'`)<>\\]+""")
# URLs inside the bundled libraries that are never requested: XML namespaces and the links
# of MapLibre's own messages and licence header.
NOT_FETCHED = ("http://www.w3.org/", "https://maplibre.org/", "https://maplibre.invalid/",
               "https://github.com/mapbox/", "https://github.com/maplibre/")  # fmt: skip


def test_index_and_bundle_exist_and_are_referenced() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert 'src="assets/app.js"' in html
    assert 'href="assets/app.css"' in html
    assert (STATIC_DIR / "assets" / "app.js").stat().st_size > 100_000
    assert (STATIC_DIR / "assets" / "app.css").stat().st_size > 1_000


def test_bundle_was_built_from_the_current_sources() -> None:
    """``npm run build`` records a hash of the sources; run it after changing them."""
    web = STATIC_DIR.parent / "web"
    info = json.loads((STATIC_DIR / "assets" / "build-info.json").read_text(encoding="utf-8"))
    files = sorted(["build.mjs", "index.html", "package-lock.json",
                    *(f"src/{p.name}" for p in (web / "src").iterdir())])  # fmt: skip
    assert info["sources"] == files
    digest = hashlib.sha256()
    for name in files:
        digest.update(name.encode() + b"\0" + (web / name).read_bytes() + b"\0")
    rebuild = "sources changed: cd dashboards/web && npm ci && npm run build"
    assert info["sources_sha256"] == digest.hexdigest(), rebuild
    assert (web / "index.html").read_bytes() == (STATIC_DIR / "index.html").read_bytes()


def test_no_external_urls() -> None:
    html = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    assert URL.findall(html) == []
    css = (STATIC_DIR / "assets" / "app.css").read_text(encoding="utf-8")
    assert URL.findall(re.sub(r"url\(\"?data:[^)]*\)", "", css)) == []
    js = (STATIC_DIR / "assets" / "app.js").read_text(encoding="utf-8")
    foreign = [u for u in URL.findall(js) if not u.startswith(NOT_FETCHED)]
    assert foreign == []


def test_base_layer_is_small_and_attributed() -> None:
    path = STATIC_DIR / "data" / "hai-phong-wards.geojson"
    assert path.stat().st_size < 250_000
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "OpenStreetMap" in data["attribution"]
    assert len(data["features"]) > 100
    js = (STATIC_DIR / "assets" / "app.js").read_text(encoding="utf-8")
    assert "OpenStreetMap contributors, ODbL" in js  # the map credits


def test_app_serves_dashboard_at_root() -> None:
    from itms.wiring.api import build_app

    client = TestClient(build_app())  # no lifespan: static files need no database
    root = client.get("/")
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert "assets/app.js" in root.text
    csp = root.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    assert client.get("/assets/app.js").status_code == 200
    assert client.get("/data/hai-phong-wards.geojson").status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}  # API routes still win
