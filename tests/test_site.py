"""`make site`: the course as static HTML with its pictures, opened in headless Chromium (Debian's chromium)."""
from __future__ import annotations

import shutil

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_site_builds_and_its_pages_show_their_pictures(tmp_path):
    from playwright.sync_api import sync_playwright

    from refdet_lib.course.site import build_site

    smoke = {"imgsz": 64, "support_size": 56, "epochs": 1, "n_episodes": 2, "n_query": 2, "eval_frames": 8,
             "run_dir": str(tmp_path / "runs")}
    index = build_site(tmp_path / "site", notebooks=["01_dataset_validation"], parameters=smoke,
                       publish_to=tmp_path / "executed")
    assert (tmp_path / "site" / "01_dataset_validation.html").exists()
    from refdet_lib.course.published import stale  # the copies for the repository: outputs kept, current

    published = nbformat.read(str(tmp_path / "executed" / "01_dataset_validation.ipynb"), as_version=4)
    assert any("image/png" in o.get("data", {}) for c in published.cells for o in c.get("outputs", []))
    assert (tmp_path / "executed" / "ex01_bbox_validator.ipynb").exists() and stale(tmp_path / "executed") == []
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


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_site_typesets_formulas_with_no_network(tmp_path):
    """A lesson page opened with every non-file request refused: no script comes from a CDN, and MathJax (the local
    copy beside the pages) typesets the lesson's formulas instead of showing raw LaTeX."""
    import re

    from playwright.sync_api import sync_playwright

    from refdet_lib.course.site import build_site

    build_site(tmp_path / "site", notebooks=["02b_inside_the_model"], exercises=False, execute=False)
    page_file = tmp_path / "site" / "02b_inside_the_model.html"
    html = page_file.read_text()
    assert re.findall(r'<script[^>]+src="(https?:[^"]*)"', html) == []
    assert "$" in html  # the lesson holds formulas to typeset
    assert 'href="lesson_questions.html#02b"' in html  # its questions' answers, a page of the site
    assert "<a id=\"02b\"></a>" in (tmp_path / "site" / "lesson_questions.html").read_text()
    refused = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page()
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                   else (refused.append(route.request.url), route.abort()))
        page.goto(page_file.as_uri())
        page.wait_for_function("window.MathJax && MathJax.Hub && MathJax.Hub.queue.pending === 0 && "
                               "document.querySelectorAll('.MathJax, .MathJax_CHTML, .MathJax_Display').length > 0",
                               timeout=60_000)
        typeset = page.eval_on_selector_all(".MathJax, .MathJax_CHTML", "els => els.length")
        raw = page.evaluate("document.body.innerText.includes('\\\\tfrac')")
        browser.close()
    assert typeset >= 5 and not raw and refused == [], (typeset, raw, refused)


def test_only_selects_lessons_and_exercises_alone(tmp_path):
    """`refdet course site --only ex --publish` builds the exercises' solutions without the lessons (a lesson brings
    its own exercises; an exercise named alone comes alone)."""
    from refdet_lib.course.site import EXERCISES, build_site, select

    assert select("00,ex06") == ["00_setup", "ex06_frozen_vs_trained_encoder"]
    assert sorted(select("ex")) == sorted(e for es in EXERCISES.values() for e in es)
    build_site(tmp_path / "site", notebooks=["ex10_cheaf_gate"], execute=False)
    built = sorted(p.name for p in (tmp_path / "site").glob("*.html"))
    assert built == ["ex10_cheaf_gate.html", "index.html", "lesson_questions.html"], built
    build_site(tmp_path / "site2", notebooks=["07_troubleshooting"], execute=False)
    assert (tmp_path / "site2" / "ex12_nan_guard.html").exists()  # the lesson with its exercise
