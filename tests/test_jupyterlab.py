"""The widgets in a real JupyterLab (on 127.0.0.1), driven by headless Chromium through Playwright: the loss-weight
panel renders its six sliders, and moving one changes the weighted total it shows."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")]

COMPONENTS = {"bbox": 0.2, "cls": 1.0, "dfl": 0.5, "supcon": 0.3, "cpe": 0.1, "triplet": 0.0}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(
        f"from refdet_lib import widgets\npanel = widgets.loss_weight_panel({COMPONENTS!r})\npanel")]
    nbformat.write(nb, tmp_path / "panel.ipynb")
    port, token = _free_port(), "refdet-test"
    jupyter = Path(sys.executable).with_name("jupyter")
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt")}
    proc = subprocess.Popen([str(jupyter), "lab", "--no-browser", "--ip", "127.0.0.1", f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
                             "--LabApp.news_url=None", "--allow-root"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    url = f"http://127.0.0.1:{port}"
    for _ in range(120):
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail(f"jupyter lab exited: {proc.stderr.read().decode()[-2000:]}")
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("jupyter lab did not start within 60 s")
    yield f"{url}/lab/tree/panel.ipynb?token={token}", tmp_path
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_loss_weight_panel_renders_and_responds(lab):
    from playwright.sync_api import sync_playwright

    from refdet_lib.widgets import weighted_total

    url, tmp = lab
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
        # the kernel must be connected and idle before a cell is run, else JupyterLab drops the request
        page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
        for attempt in range(3):
            page.locator(".jp-Notebook .jp-Cell .cm-content").first.click()
            page.keyboard.press("Control+Enter")  # run the cell, stay on it
            try:
                page.wait_for_selector(".widget-hslider", timeout=60_000)
                break
            except Exception:
                page.screenshot(path=str(tmp / f"panel_run{attempt}.png"))
                if attempt == 2:
                    raise
        sliders = page.locator(".widget-hslider")
        assert sliders.count() == 6
        label = page.locator(".widget-label", has_text="weighted total")
        label.wait_for(timeout=30_000)
        from refdet_lib.config import stage_weights
        w = stage_weights(2).as_dict()
        before = label.inner_text()
        assert f"{weighted_total(COMPONENTS, w)[0]:.4f}" in before
        page.screenshot(path=str(tmp / "panel_before.png"))
        # type a new bbox weight into the slider's readout, as a person would
        readout = sliders.nth(0).locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("10")
        page.keyboard.press("Enter")
        w["bbox"] = 10.0
        expected = f"{weighted_total(COMPONENTS, w)[0]:.4f}"
        page.wait_for_function("t => [...document.querySelectorAll('.widget-label')].some(e => e.innerText.includes(t))",
                               arg=expected, timeout=30_000)
        page.screenshot(path=str(tmp / "panel_after.png"))
        browser.close()
    assert (tmp / "panel_after.png").stat().st_size > 10_000
