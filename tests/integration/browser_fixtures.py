"""A real browser for the Argilla UI tests: headless Chromium (Debian's package, driven by
Playwright), installed with apt-get when missing and we are root; otherwise the tests skip saying why."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium, installed with apt-get when missing and we may; else skip, saying why."""
    found = shutil.which("chromium") or (Path("/usr/bin/chromium").exists() and "/usr/bin/chromium")
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        pytest.skip(
            "Chromium is not installed and cannot be installed here (needs apt-get as root): "
            "apt-get install -y chromium"
        )
    for command in (
        ["apt-get", "install", "-y", "chromium"],
        ["apt-get", "update"],
        ["apt-get", "install", "-y", "chromium"],
    ):
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if command[1] == "install" and proc.returncode == 0:
            break
    found = shutil.which("chromium")
    if not found:
        pytest.skip(f"Chromium could not be installed with apt-get: {proc.stderr.strip()[-300:]}")
    return found


@pytest.fixture
def browser(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (dev dependency group)")
    executable = chromium_path()
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(  # a fresh profile folder per test
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


def sign_in(browser, url: str, annotator):
    """A new page of the browser, signed in to the Argilla UI as `annotator` (username and password)."""
    page = browser.new_page()
    page.set_default_timeout(90_000)
    page.goto(f"{url}/sign-in")
    page.get_by_label("Username").fill(annotator.username)
    page.get_by_label("Password").fill(annotator.password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda u: "sign-in" not in u)
    return page


def flat(text: str) -> str:
    return " ".join(text.split())


def shown(page, texts: dict[str, str]) -> str:
    """The key of the one text of `texts` the page's record shows (whitespace aside)."""
    page.locator(".content-area").first.wait_for()
    body = flat(page.locator("body").inner_text())
    found = [k for k, t in texts.items() if flat(t) in body]
    assert len(found) == 1, (found, body[:2000])
    return found[0]
