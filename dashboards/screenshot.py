"""Screenshot of a running dashboard with the system Chromium (how docs/dashboard.png is made).

    .venv/bin/python dashboards/screenshot.py http://127.0.0.1:8000/ docs/dashboard.png \\
        [--lang vi|en] [--incident FIRST|ID] [--size 1600x900]

Needs the ``playwright`` Python package and Debian's ``chromium``; never downloads a browser.
"""

from __future__ import annotations

import argparse
import shutil

CHROMIUM_ARGS = ["--no-sandbox", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 "--ignore-gpu-blocklist"]  # fmt: skip


def take(url: str, out: str, *, lang: str = "vi", incident: str | None = None,
         size: tuple[int, int] = (1600, 900)) -> None:  # fmt: skip
    """Open the dashboard at ``url``, wait for the live map, optionally open an incident
    (``"FIRST"``: the newest listed), and save a PNG to ``out``."""
    from playwright.sync_api import sync_playwright

    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise SystemExit("needs the 'chromium' system package")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": size[0], "height": size[1]})
        page.add_init_script(f"localStorage.setItem('itms.lang', {lang!r})")
        page.goto(url)
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        page.wait_for_function("() => window.itms.live.map.loaded()", timeout=60_000)
        if incident:
            item = "#incident-list li.inc" if incident == "FIRST" else (
                f"#incident-list li[data-id='{incident}']")  # fmt: skip
            page.locator(item).first.click()
            page.wait_for_selector("#incident-chart .uplot", timeout=20_000)
        page.wait_for_timeout(3000)  # KPIs, feed rate (second sample) and the last tiles drawn
        page.screenshot(path=out)
        browser.close()


def main() -> None:
    """Command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--lang", default="vi", choices=["vi", "en"])
    ap.add_argument("--incident", help="FIRST or an incident id to open")
    ap.add_argument("--size", default="1600x900")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    take(args.url, args.out, lang=args.lang, incident=args.incident, size=(w, h))


if __name__ == "__main__":
    main()
