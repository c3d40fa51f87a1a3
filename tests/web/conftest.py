"""The storefront page in headless Chromium (Debian's chromium + chromium-driver, Selenium from
pip), served by `make web`'s local chain (api/local_storefront.py): page server with its
Content-Security-Policy -> API front verifying moto Cognito ID tokens -> real handler -> real boto3
-> real `serve` on the trained sample.

Without chromium/chromedriver the browser tests skip locally and fail in CI (CI=true)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from api.local_storefront import local_storefront
from tests.api.serve_process import running_serve

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")


def _find(names) -> str | None:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def storefront(trained_model_dir, tmp_path_factory):
    """The LocalStorefront: `.page_url`, `.api_url`, `.pool` (demo users), `.catalogue`; and `.serve_url`."""
    with running_serve(trained_model_dir, tmp_path_factory.mktemp("web_serve")) as serve_url, \
            local_storefront(trained_model_dir, serve_url) as shop:
        shop.serve_url = serve_url
        yield shop


@pytest.fixture(scope="session")
def browser():
    chromium, driver = _find(CHROMIUM), _find(("chromedriver",))
    if not (chromium and driver):
        msg = "chromium and chromedriver are needed (Debian/Ubuntu: apt-get install -y chromium chromium-driver)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(msg)
        pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1000", "--hide-scrollbars", "--lang=en-GB", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})    # console: CSP violations land there
    drv = webdriver.Chrome(options=options, service=Service(driver))
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
