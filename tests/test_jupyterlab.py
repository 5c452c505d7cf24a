"""The widgets in a real JupyterLab (on 127.0.0.1), driven by headless Chromium through Playwright: the loss-weight
panel renders its six sliders and typing a weight changes the weighted total it shows; the curve viewer redraws when
the log scale is ticked; the episode browser shows another episode when its slider moves."""
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


PANEL = f"from refdet_lib.course import widgets\npanel = widgets.loss_weight_panel({COMPONENTS!r})\npanel"
CURVES = """import numpy as np, pandas as pd
from refdet_lib.course import widgets
e = np.arange(1, 6)
h = pd.DataFrame({"epoch": e, "train_loss": 100.0 / e ** 2, "val_loss": 120.0 / e ** 2})
viewer = widgets.curve_viewer({"run": h})
viewer"""
EPISODES = """from refdet_lib.data import EpisodeCollator, EpisodeDataset, EpisodeSampler, RefDetDataset
from refdet_lib.data.synthetic import generate_dataset
root = generate_dataset("tiny", n_videos=3, n_frames=12, seed=3, width=320, height=180, overwrite=True)
ds = RefDetDataset(root / "samples", root / "annotations" / "annotations.json", mode="train", frame_size=64)
episodes = EpisodeDataset(ds, EpisodeSampler(ds, 2, 2, 4, seed=1), EpisodeCollator(64, 56, 3, None, ds.class_to_idx))
browser = widgets.episode_browser(episodes)
browser"""


@pytest.fixture
def lab(tmp_path):
    yield from _lab(tmp_path, [PANEL])


@pytest.fixture
def lab_viewers(tmp_path):
    yield from _lab(tmp_path, [CURVES, EPISODES])


def _lab(tmp_path, cells):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
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


def _open(p, url):
    browser = p.chromium.launch(executable_path=CHROMIUM, args=[
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"])
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.goto(url)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    # the kernel must be connected and idle before a cell is run, else JupyterLab drops the request
    page.get_by_text("Python 3 (ipykernel) | Idle").wait_for(timeout=120_000)
    return browser, page


def _run_cell(page, i, selector, tmp):
    """Run code cell i (Ctrl+Enter: run, stay) until `selector` appears in its output; retried as the kernel may
    still be settling."""
    cell = page.locator(".jp-Notebook .jp-CodeCell").nth(i)
    for attempt in range(3):
        cell.locator(".cm-content").click()
        page.keyboard.press("Control+Enter")
        try:
            cell.locator(selector).first.wait_for(timeout=90_000)
            return cell
        except Exception:
            page.screenshot(path=str(tmp / f"cell{i}_run{attempt}.png"))
            if attempt == 2:
                raise


def _set_readout(widget, page, value: str):
    """Type a value into a slider's readout and press Enter, as a person would."""
    readout = widget.locator(".widget-readout")
    readout.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_loss_weight_panel_renders_and_responds(lab):
    from playwright.sync_api import sync_playwright

    from refdet_lib.course.widgets import weighted_total

    url, tmp = lab
    with sync_playwright() as p:
        browser, page = _open(p, url)
        _run_cell(page, 0, ".widget-hslider", tmp)
        sliders = page.locator(".widget-hslider")
        assert sliders.count() == 6
        label = page.locator(".widget-label", has_text="weighted total")
        label.wait_for(timeout=30_000)
        from refdet_lib.config import stage_weights
        w = stage_weights(2).as_dict()
        before = label.inner_text()
        assert f"{weighted_total(COMPONENTS, w)[0]:.4f}" in before
        page.screenshot(path=str(tmp / "panel_before.png"))
        _set_readout(sliders.nth(0), page, "10")  # a new bbox weight
        w["bbox"] = 10.0
        expected = f"{weighted_total(COMPONENTS, w)[0]:.4f}"
        page.wait_for_function("t => [...document.querySelectorAll('.widget-label')].some(e => e.innerText.includes(t))",
                               arg=expected, timeout=30_000)
        page.screenshot(path=str(tmp / "panel_after.png"))
        browser.close()
    assert (tmp / "panel_after.png").stat().st_size > 10_000


def test_curve_viewer_and_episode_browser_respond(lab_viewers):
    from playwright.sync_api import sync_playwright

    url, tmp = lab_viewers
    with sync_playwright() as p:
        browser, page = _open(p, url)
        viewer = _run_cell(page, 0, ".widget-output img", tmp)
        src = lambda cell: cell.locator(".widget-output img").first.get_attribute("src")  # noqa: E731
        before = src(viewer)
        viewer.locator(".widget-checkbox input").click()  # log scale: the figure is drawn again, differently
        _wait_until(lambda: src(viewer) != before, "curve viewer redraw")
        ep = _run_cell(page, 1, ".widget-label", tmp)
        # every label of the cell: the slider's description ("episode") and the browser's own Label
        labels = lambda: [t.strip() for t in ep.locator(".widget-label").all_inner_texts()]  # noqa: E731
        _wait_until(lambda: any(t.startswith("objects:") for t in labels()), "episode label")
        expected = _episode_labels(tmp / "tiny")
        assert expected[0] in labels()
        shown = src(ep)
        _set_readout(ep.locator(".widget-slider").first, page, "3")
        _wait_until(lambda: expected[3] in labels(), f"label of episode 3 ({expected[3]!r})")
        _wait_until(lambda: src(ep) != shown, "episode figure redraw")
        page.screenshot(path=str(tmp / "viewers.png"))
        browser.close()
    assert (tmp / "viewers.png").stat().st_size > 10_000


def _episode_labels(root: Path) -> list[str]:
    """The episode browser's label for each episode, computed here from the dataset the notebook wrote."""
    from refdet_lib.course import widgets
    from refdet_lib.data import (
        EpisodeCollator,
        EpisodeDataset,
        EpisodeSampler,
        RefDetDataset,
    )

    ds = RefDetDataset(root / "samples", root / "annotations" / "annotations.json", mode="train", frame_size=64)
    eps = EpisodeDataset(ds, EpisodeSampler(ds, 2, 2, 4, seed=1), EpisodeCollator(64, 56, 3, None, ds.class_to_idx))
    box = widgets.episode_browser(eps, static=False)
    labels = []
    for i in range(len(eps)):
        box.slider.value = i
        labels.append(box.label.value)
    return labels


def _wait_until(cond, what: str, timeout: float = 60.0):
    """Poll `cond` (the widget's output is replaced, not edited, so element handles go stale)."""
    end = time.time() + timeout
    while time.time() < end:
        try:
            if cond():
                return
        except Exception:  # an element between removal and re-creation
            pass
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")
