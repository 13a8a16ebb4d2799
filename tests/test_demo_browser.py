"""The demo in a real headless Chromium (Debian's package, driven by playwright): upload an image, type labels,
classify, read the result. Every request leaving loopback is aborted, so the page must work offline."""

import shutil
from urllib.parse import urlparse

import pytest

from .demo_helpers import serve_demo
from .run_helpers import small_run

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory):
    demo, url = serve_demo(small_run(tmp_path_factory.getbasetemp()), tmp_path_factory.mktemp("examples"))
    yield url
    demo.close()


@pytest.fixture(scope="module")
def query_image(demo_url, tmp_path_factory):
    from growclip_hf.evaluation.suite import load_suite

    suite = load_suite(small_run(tmp_path_factory.getbasetemp()) / "data" / "manifest.json", max_per_split=1)
    path = tmp_path_factory.mktemp("upload") / "query.png"
    suite.zeroshot[0].images.images[0].save(path)
    return path


def test_browser_classifies_an_uploaded_image(demo_url, query_image, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is missing (packages.apt; scripts/bootstrap.sh installs it)"
    blocked = []

    def loopback_only(route):
        host = urlparse(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            return route.continue_()
        blocked.append(route.request.url)
        return route.abort()

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.route("**/*", loopback_only)
            page.goto(demo_url, wait_until="domcontentloaded", timeout=30_000)
            page.locator("input[type=file]").first.set_input_files(str(query_image))
            page.get_by_label("Labels (comma-separated)").fill("sneaker, handbag, dress")
            page.get_by_role("button", name="Classify").click()
            summary = page.locator("#classification-summary")
            expect(summary).to_contain_text("Top label per stage", timeout=30_000)
            text = summary.inner_text()
            assert "stage-0:" in text and "stage-1:" in text
            assert any(label in text for label in ("sneaker", "handbag", "dress"))
            expect(page.get_by_text("%").first).to_be_visible()  # the probability bars of both stages
            screenshot = tmp_path / "demo-classification.png"
            page.screenshot(path=str(screenshot), full_page=True)
            assert screenshot.stat().st_size > 10_000
            page.get_by_label("Labels (comma-separated)").fill("only-one")
            page.get_by_role("button", name="Classify").click()
            expect(page.get_by_text("Give at least two comma-separated labels").first).to_be_visible(timeout=15_000)
            page.screenshot(path=str(tmp_path / "demo-refused-labels.png"))
        finally:
            browser.close()
    assert blocked == [], f"the page asked for outside resources (fonts, CDN): {blocked}"
