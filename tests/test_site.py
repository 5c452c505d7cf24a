"""`make site`: the course as static HTML with its pictures, opened in headless Chromium (Debian's chromium)."""
from __future__ import annotations

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_site_builds_and_its_pages_show_their_pictures(tmp_path):
    from playwright.sync_api import sync_playwright

    from refdet_lib.course.site import build_site

    smoke = {"imgsz": 64, "support_size": 56, "epochs": 1, "n_episodes": 2, "n_query": 2, "eval_frames": 8,
             "run_dir": str(tmp_path / "runs")}
    index = build_site(tmp_path / "site", notebooks=["01_dataset_validation"], parameters=smoke)
    assert (tmp_path / "site" / "01_dataset_validation.html").exists()
    assert (tmp_path / "site" / "ex01_bbox_validator.html").exists()  # the lesson's exercise beside it
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.goto(index.as_uri())
        links = page.eval_on_selector_all("a", "els => els.map(e => e.getAttribute('href'))")
        assert "01_dataset_validation.html" in links and "ex01_bbox_validator.html" in links
        page.click("a[href='01_dataset_validation.html']")  # from the index to the lesson, as a reader would
        page.wait_for_load_state("load")
        assert page.url.endswith("01_dataset_validation.html")
        sizes = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth])")
        browser.close()
    assert len(sizes) >= 2 and all(done and w > 0 for done, w in sizes), sizes
