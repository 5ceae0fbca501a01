"""A real Chromium (Debian's ``chromium`` package) driven by Playwright, for the console tests.

Playwright's own browser download cannot work offline, so the system binary is launched. Each
page's screenshot goes under ``$EAWE_ARTIFACTS_DIR/console`` (default ``artifacts/console``).
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Page

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "screenshot", "sign_in"]

CHROMIUM = os.environ.get("EAWE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("EAWE_ARTIFACTS_DIR", "artifacts")) / "console"


async def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in through the page's form, as a user would."""
    await page.goto(base_url + "/")
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_test_id("who").wait_for()
