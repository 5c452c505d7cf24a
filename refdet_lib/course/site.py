"""The course as a static site (`make site`): every notebook executed headless (papermill), converted to HTML with its
pictures embedded (nbconvert), lessons in the guide's order with each lesson's exercise beside it. The index is a
notebook the code writes, converted the same way: no hand-written HTML. The repository keeps its notebooks without
outputs; the executed copies live only in the build folder.

The pages need no network, as the course runs: formulas are typeset by a local MathJax (the copy the
jupyter-server-mathjax package ships, copied beside the pages), and nbconvert's lab template is used without its
require.js and mermaid scripts from a CDN (the course draws no mermaid diagram and embeds no widget state).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .._env import PROJECT_ROOT
from .published import publish
from .runner import NOTEBOOKS

SITE = PROJECT_ROOT / "site"
QUESTIONS = PROJECT_ROOT / "solutions" / "lesson_questions.md"  # the answers to every lesson's closing questions
# each lesson's exercise: where the learner has just met the idea
EXERCISES = {"01_dataset_validation": ["ex01_bbox_validator"],
             "02b_inside_the_model": ["ex03_wiou_focus", "ex09_prototype_logit", "ex10_cheaf_gate"],
             "03_stage2_fewshot_meta_learning": ["ex04_build_episode", "ex02_iou_and_st_iou"],
             "04_hyperparameter_tuning": ["ex05_pick_learning_rate", "ex06_frozen_vs_trained_encoder"],
             "05_monitoring_training": ["ex11_diagnose_history"],
             "06_triplet_finetuning": ["ex07_batch_hard_triplet"],
             "07_troubleshooting": ["ex12_nan_guard"],
             "08_jetson_export": ["ex08_unletterbox"]}


def select(only: str) -> list[str]:
    """`--only 00,ex06`: the lessons and exercises whose names start with one of the comma-separated prefixes."""
    prefixes = only.split(",")
    names = [*NOTEBOOKS, *(e for n in NOTEBOOKS for e in EXERCISES.get(n, []))]
    return [n for n in names if any(n.startswith(o) for o in prefixes)]


# nbconvert's lab page without the scripts it fetches from a CDN (require.js; mermaid, imported only for diagrams)
OFFLINE_TEMPLATE = """{%- extends 'index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block html_head_js_mermaidjs -%}{%- endblock html_head_js_mermaidjs -%}
"""
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full,Safe"  # a configuration the shipped MathJax 2.7 holds


def offline_exporter(out: Path, **kw):
    """An HTMLExporter whose pages open offline from `out`: MathJax copied to out/mathjax, no CDN script."""
    import shutil

    import jupyter_server_mathjax
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    static = Path(jupyter_server_mathjax.__file__).parent / "static"
    if not (out / "mathjax" / "MathJax.js").exists():
        shutil.copytree(static, out / "mathjax", dirs_exist_ok=True)
    return HTMLExporter(template_name="lab", extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})],
                        template_file="offline.html.j2", mathjax_url=f"mathjax/MathJax.js?config={MATHJAX_CONFIG}",
                        **kw)


def _title(nb) -> str:
    for c in nb.cells:
        if c.cell_type == "markdown":
            for ln in c.source.splitlines():
                if ln.startswith("#"):
                    return ln.lstrip("# ").strip()
    return "untitled"


def build_site(out: str | Path = SITE, notebooks: Optional[list[str]] = None, parameters: Optional[dict] = None,
               exercises: bool = True, execute: bool = True, timeout: int = 3600,
               publish_to: Optional[Path] = None) -> Path:
    """Execute and convert the course into `out` (index.html, one page per notebook); returns index.html.

    notebooks: lesson names (default: all, in order), each with its exercises, and exercise names (their solution
    alone: `refdet course site --only ex --publish` executes and publishes the exercises without the lessons);
    parameters: papermill parameters for every lesson (the exercises run their solutions with their own
    defaults); execute=False converts the notebooks as they are; publish_to: also copy each executed notebook
    there for the repository (course/published.py)."""
    import json
    import time

    import nbformat
    import papermill as pm

    out = Path(out)
    (out / "executed").mkdir(parents=True, exist_ok=True)
    every_exercise = [e for n in NOTEBOOKS for e in EXERCISES.get(n, [])]
    lessons = [n for n in NOTEBOOKS if n in notebooks] if notebooks else NOTEBOOKS
    alone = [e for e in every_exercise if e in (notebooks or [])]
    pages = []  # (kind, name, title)
    minutes = {}  # name -> minutes its execution took (written to build.json: what a default run costs)
    todo = [("lesson", n, PROJECT_ROOT / "notebooks" / f"{n}.ipynb") for n in lessons]
    if exercises:
        todo += [("exercise", e, PROJECT_ROOT / "solutions" / f"{e}.ipynb") for e in every_exercise
                 if e in alone or any(e in EXERCISES.get(n, []) for n in lessons)]
    exporter = offline_exporter(out)
    for kind, name, src in todo:
        dst = out / "executed" / src.name
        if execute:
            print(f"--- {kind} {name}", flush=True)
            t0 = time.perf_counter()
            pm.execute_notebook(str(src), str(dst), parameters=(parameters or {}) if kind == "lesson" else {},
                                kernel_name="python3", cwd=str(src.parent), progress_bar=False,
                                execution_timeout=timeout)
            minutes[name] = round((time.perf_counter() - t0) / 60, 2)
            print(f"    {minutes[name]:.1f} min", flush=True)
            if publish_to is not None:
                publish(dst, src, Path(publish_to), minutes=minutes[name])
        else:
            dst.write_text(src.read_text())
        nb = nbformat.read(dst, as_version=4)
        html, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": _title(nb)}})
        (out / f"{name}.html").write_text(html.replace(f"../solutions/{QUESTIONS.name}#", f"{QUESTIONS.stem}.html#"))
        pages.append((kind, name, _title(nb)))
    answers = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(QUESTIONS.read_text())])
    html, _ = offline_exporter(out, exclude_input_prompt=True).from_notebook_node(
        answers, resources={"metadata": {"name": "Check your understanding: answers"}})
    (out / f"{QUESTIONS.stem}.html").write_text(html)  # the lessons' questions link here
    index = nbformat.v4.new_notebook()
    lines = ["# RefDet course", "",
             "Few-shot, reference-based object detection on drone video: the lessons in the order of the training "
             "guide, each lesson's exercise beside it (the solutions, executed).", ""]
    for kind, name, title in pages:
        if kind == "lesson":
            ex = [(n, t) for k, n, t in pages if k == "exercise" and n in EXERCISES.get(name, [])]
            lines.append(f"1. [{title}]({name}.html)" + "".join(f" · exercise: [{t}]({n}.html)" for n, t in ex))
    index.cells = [nbformat.v4.new_markdown_cell("\n".join(lines))]
    html, _ = offline_exporter(out, exclude_input_prompt=True).from_notebook_node(
        index, resources={"metadata": {"name": "RefDet course"}})
    (out / "index.html").write_text(html)
    if minutes:
        (out / "build.json").write_text(json.dumps({"minutes": minutes, "total": round(sum(minutes.values()), 1)},
                                                   indent=1))
    print(f"site: {out / 'index.html'} ({len(pages)} pages)")
    return out / "index.html"
