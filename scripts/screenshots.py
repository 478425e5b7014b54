"""`make screenshots`: the main pages of every role, at 375 and 1280 pixels wide, in English and Chinese, as PNG
files in instance/screenshots/ (not committed), so anyone can look at the product without clicking through it.

Serves the demo data under gunicorn (the benchmark's database), logs each role in through the login form and
photographs the whole page in Debian's Chromium. The pages of a role are its start page and its menu's entries,
read from the page itself, so a new menu entry is photographed without changing this script."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, bench_env, flask, log_in, served

ROLES = {
    "dealer-owner": "dealer@demo.test",
    "dealer-staff": "staff@demo.test",
    "manager": "manager@demo.test",
    "senior-manager": "manager2@demo.test",
    "mediator": "mediator@demo.test",
    "admin": "admin@demo.test",
}
WIDTHS = [(375, 812), (1280, 900)]  # a phone, a desktop
LANGUAGES = {"en": "en-GB", "zh": "zh-CN"}
OUTPUT = ROOT / "instance" / "screenshots"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]


def page_name(path: str) -> str:
    name = re.sub(r"[^a-z0-9]+", "-", urlsplit(path).path.lower()).strip("-")
    return name or "home"


def main() -> int:
    env = bench_env()
    flask("db", "upgrade", env=env)
    flask("seed-demo", env=env)
    OUTPUT.mkdir(parents=True, exist_ok=True)
    written = 0
    with served(env) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        for role, email in ROLES.items():
            cookie = log_in(base, email).split("=", 1)
            for language, locale in LANGUAGES.items():
                for width, height in WIDTHS:
                    context = browser.new_context(locale=locale, viewport={"width": width, "height": height})
                    context.add_cookies([{"name": cookie[0], "value": cookie[1], "url": base}])
                    page = context.new_page()
                    page.goto(base + "/", wait_until="load")
                    paths = [urlsplit(page.url).path]
                    for link in page.eval_on_selector_all(
                        "nav.mainnav a[href]", "found => found.map(a => a.getAttribute('href'))"
                    ):
                        if link not in paths:
                            paths.append(link)
                    for path in paths:
                        page.goto(base + path, wait_until="load")
                        target = OUTPUT / f"{role}-{page_name(path)}-{language}-{width}.png"
                        page.screenshot(path=str(target), full_page=True)
                        written += 1
                    context.close()
        browser.close()
    print(f"{written} screenshots in {OUTPUT.relative_to(ROOT)}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
