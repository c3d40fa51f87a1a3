"""The storefront page in headless Chromium (Debian's chromium + chromium-driver, Selenium from
pip), served by the local front: real handler -> real boto3 -> real `serve` on the trained sample.

Without chromium/chromedriver the browser tests skip locally and fail in CI (CI=true)."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from api.catalogue import build as build_catalogue
from api.endpoint import make_client
from api.handler import Api
from api.local_front import api_server, config_js, page_server
from api.settings import Settings
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
    """(page_url, catalogue): the page and the API front on free ports, CORS between them."""
    with running_serve(trained_model_dir, tmp_path_factory.mktemp("web_serve")) as serve_url, \
            pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "local")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "local")
        page = page_server(REPO / "web")          # port first: the API must allow its origin
        page_origin = f"http://127.0.0.1:{page.server_port}"
        settings = Settings(endpoint_name="local", endpoint_url=serve_url, allowed_origins=(page_origin,))
        api = api_server(Api(settings, make_client(settings)))
        catalogue = build_catalogue(trained_model_dir)
        page.overrides.update({
            "config.js": config_js(f"http://127.0.0.1:{api.server_port}"),
            "catalogue.json": json.dumps(catalogue).encode()})
        try:
            yield page_origin + "/", catalogue
        finally:
            api.shutdown()
            page.shutdown()


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
                "--window-size=1280,1000", "--hide-scrollbars", "--lang=en-GB"):
        options.add_argument(arg)
    drv = webdriver.Chrome(options=options, service=Service(driver))
    drv.set_page_load_timeout(30)
    yield drv
    drv.quit()
