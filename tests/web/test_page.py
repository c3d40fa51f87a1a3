"""The storefront page in a real browser: what a person sees after each action.

ALSRECO_SCREENSHOT=docs/storefront.png also writes the screenshot there (`make web-screenshot`)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

WAIT = 20
MAX_SCREENSHOT = 300 * 1024


def _wait(driver, condition, what):
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    try:       # the page re-renders lists: an element read mid-render is stale, read again
        return WebDriverWait(driver, WAIT, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                             ).until(lambda d: condition(d))
    except Exception as exc:  # noqa: BLE001 - name what we waited for, with what is on the screen
        shown = driver.find_element("id", "error").text
        status = driver.find_element("id", "status").text
        cards = [c.get_attribute("data-product-id") for c in _cards(driver, "results")]
        raise AssertionError(f"{what} not seen within {WAIT} s; error box: {shown!r}; status: {status!r}; "
                             f"results: {cards}") from exc


def _open(driver, url):
    driver.get(url)
    _wait(driver, lambda d: "products" in d.find_element("id", "model-version").text, "the catalogue")


def _cards(driver, list_id):
    return driver.find_elements("css selector", f"#{list_id} .card")


def _ask_for_customer(driver, customer):
    box = driver.find_element("id", "customer-id")
    box.clear()
    box.send_keys(customer)
    driver.find_element("id", "customer-go").click()
    _wait(driver, lambda d: _cards(d, "results") and "products" in d.find_element("id", "status").text,
          "recommendations")


def test_customer_request_shows_named_recommendations(browser, storefront):
    url, catalogue = storefront
    _open(browser, url)
    options = browser.find_elements("css selector", "#customer-list option")
    assert [o.get_attribute("value") for o in options] == catalogue["customers"]
    _ask_for_customer(browser, "17850")
    cards = _cards(browser, "results")
    assert len(cards) == 10
    assert browser.find_element("id", "results-title").text == "Recommended for customer 17850"
    names = {p["id"]: p["name"] for p in catalogue["products"]}
    for card in cards:
        pid = card.get_attribute("data-product-id")
        assert card.find_element("class name", "name").text == names[pid]
        assert card.find_element("class name", "reason").text == "For you"
        float(card.find_element("class name", "score").text)
    assert not browser.find_element("id", "error").is_displayed()


def test_basket_request_from_product_search(browser, storefront):
    url, _ = storefront
    _open(browser, url)
    browser.find_element("id", "mode-basket").click()
    picked = []
    for words in ("hanging heart", "lantern"):
        search = browser.find_element("id", "product-search")
        search.clear()
        search.send_keys(words)
        hits = _wait(browser, lambda d: d.find_elements("css selector", "#search-results button"), f"hits for {words}")
        for word in words.upper().split():
            assert word in hits[0].text
        picked.append(hits[0].get_attribute("data-product-id"))
        hits[0].click()
    assert browser.find_element("id", "basket-count").text == "2"
    browser.find_element("id", "basket-go").click()
    _wait(browser, lambda d: _cards(d, "results"), "basket recommendations")
    assert browser.find_element("id", "results-title").text == "Recommended for a basket of 2 products"
    shown = [c.get_attribute("data-product-id") for c in _cards(browser, "results")]
    assert len(shown) == 10 and not set(shown) & set(picked)
    assert "new customer" in browser.find_element("id", "status").text


def test_rules_toggle_the_request(browser, storefront):
    url, catalogue = storefront
    _open(browser, url)
    _ask_for_customer(browser, "someone-new")
    popular = [c.get_attribute("data-product-id") for c in _cards(browser, "results")]
    assert popular == [p["id"] for p in catalogue["products"][:10]]
    assert {c.find_element("class name", "reason").text for c in _cards(browser, "results")} == {"Best seller"}
    browser.find_element("id", "rule-exclude-popular").click()
    browser.find_element("id", "customer-go").click()
    _wait(browser, lambda d: [c.get_attribute("data-product-id") for c in _cards(d, "results")] ==
          [p["id"] for p in catalogue["products"][10:20]], "best sellers 11-20")


def test_api_errors_are_shown_to_the_person(browser, storefront):
    url, _ = storefront
    _open(browser, url)
    browser.find_element("id", "customer-id").send_keys("9" * 70)
    browser.find_element("id", "customer-go").click()
    error = _wait(browser, lambda d: d.find_element("id", "error").is_displayed() and d.find_element("id", "error"),
                  "the error box")
    assert "customer_id: longer than 64 characters" in error.text
    assert "request" in error.text                           # the request id, to quote
    assert not _cards(browser, "results")


def test_clicking_a_product_shows_similar_products(browser, storefront, tmp_path):
    url, _ = storefront
    _open(browser, url)
    _ask_for_customer(browser, "17850")
    first = _cards(browser, "results")[0]
    name, pid = first.find_element("class name", "name").text, first.get_attribute("data-product-id")
    first.click()
    _wait(browser, lambda d: _cards(d, "similar") or d.find_element("id", "error").is_displayed(), "similar products")
    assert not browser.find_element("id", "error").is_displayed(), browser.find_element("id", "error").text
    assert browser.find_element("id", "similar-title").text == f"Similar to {name}"
    similar = _cards(browser, "similar")
    assert similar and pid not in {c.get_attribute("data-product-id") for c in similar}
    assert {c.find_element("class name", "reason").text for c in similar} == {"Similar"}
    browser.execute_script("window.scrollTo(0, 0)")
    shot = tmp_path / "storefront.png"
    browser.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) < MAX_SCREENSHOT, len(data)
    target = os.environ.get("ALSRECO_SCREENSHOT")
    if target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        Path(target).write_bytes(data)
