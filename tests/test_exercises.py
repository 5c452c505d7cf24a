"""Course exercises: the generator keeps exercises/ in step with solutions/, every check accepts a right answer and
rejects wrong ones (with the reason), every solution notebook passes its checks and every untouched exercise
notebook fails at a check."""
from __future__ import annotations

import importlib.util
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from refdet_lib.course import exercises as ex
from refdet_lib.course.lr_finder import suggest_lr

ROOT = Path(__file__).resolve().parent.parent
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
SMOKE = {"imgsz": 64, "support_size": 56, "epochs": 1, "n_episodes": 2, "n_query": 2, "eval_frames": 8}


def _load_generator():
    spec = importlib.util.spec_from_file_location("make_exercises", ROOT / "tools" / "make_exercises.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _fails(check, *args, match=None):
    with pytest.raises(AssertionError, match=match) as e:
        check(*args)
    assert "FAIL" in str(e.value)
    return str(e.value)


def _todo(*_a, **_k):
    raise NotImplementedError("TODO")


# ------------------------------------------------------------------------------------------------------ generator
def test_generator_check_passes():
    r = subprocess.run([sys.executable, str(ROOT / "tools" / "make_exercises.py"), "--check"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_generator_check_detects_drift(tmp_path, monkeypatch, capsys):
    gen = _load_generator()
    sol, exd = tmp_path / "solutions", tmp_path / "exercises"
    shutil.copytree(ROOT / "solutions", sol)
    shutil.copytree(ROOT / "exercises", exd)
    monkeypatch.setattr(gen, "SOLUTIONS", sol)
    monkeypatch.setattr(gen, "EXERCISES", exd)
    assert gen.main(["--check"]) == 0
    victim = exd / SOLUTIONS[0].name
    nb = nbformat.read(victim, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("edited by hand"))
    victim.write_text(nbformat.writes(nb) + "\n")
    assert gen.main(["--check"]) == 1
    assert victim.name in capsys.readouterr().out
    assert gen.main([]) == 0 and gen.main(["--check"]) == 0  # regenerating fixes it
    victim.unlink()
    assert gen.main(["--check"]) == 1  # a missing exercise is drift too
    gen.main([])
    nb = nbformat.read(sol / SOLUTIONS[0].name, as_version=4)  # outputs in a solution must not be committed
    code_cell = next(c for c in nb.cells if c.cell_type == "code")
    code_cell.outputs = [nbformat.v4.new_output("stream", text="hello")]
    (sol / SOLUTIONS[0].name).write_text(nbformat.writes(nb))
    assert gen.main(["--check"]) == 1


def test_stub_code_rules():
    gen = _load_generator()
    src = '''import math
from pathlib import Path

@staticmethod
def area(box,
         scale=1.0):
    """Area of a box."""
    # TODO: width times height
    w = box[2] - box[0]
    # a private note that gives the answer away
    return w * (box[3] - box[1]) * scale  # Hint: not shown, trailing comment

# TODO: the answer as a number
answer = area([0, 0, 2, 3])
lo, hi = 1, 2
n: int = 5
print(answer)
for i in range(3):
    pass
'''
    out = gen.stub_code(src)
    lines = out.splitlines()
    assert lines[:2] == ["import math", "from pathlib import Path"]
    assert "@staticmethod" in lines and "def area(box," in lines and "         scale=1.0):" in lines
    assert '    """Area of a box."""' in lines and "    # TODO: width times height" in lines
    assert '    raise NotImplementedError("TODO: implement area")' in lines
    assert "# TODO: the answer as a number" in lines
    assert "answer = None  # TODO" in lines and "lo, hi = None, None  # TODO" in lines and "n = None  # TODO" in lines
    for leaked in ("box[2] - box[0]", "private note", "print(answer)", "range(3)", "area([0, 0, 2, 3])"):
        assert leaked not in out
    compile(out, "<stub>", "exec")
    ns: dict = {}
    exec(out, ns)
    with pytest.raises(NotImplementedError):
        ns["area"]([0, 0, 1, 1])


def test_exercise_notebooks_hold_no_answers():
    """Every solution cell becomes an exercise cell, with no statement of the answer left and no output."""
    for sp in SOLUTIONS:
        s = nbformat.read(sp, as_version=4)
        e = nbformat.read(ROOT / "exercises" / sp.name, as_version=4)
        assert len(s.cells) == len(e.cells)
        assert s.cells[1].metadata.get("tags") == ["parameters"] == e.cells[1].metadata.get("tags"), sp.name
        n_sol = 0
        for cs, ce in zip(s.cells, e.cells):
            if ce.cell_type == "code":
                assert not ce.outputs and ce.execution_count is None
                assert not cs.outputs and cs.execution_count is None, f"{sp.name}: solution has outputs"
            tags = cs.metadata.get("tags", [])
            if "solution" not in tags:
                assert cs.source == ce.source
                continue
            n_sol += 1
            assert "exercise" in ce.metadata["tags"] and "solution" not in ce.metadata["tags"]
            answer = [ln.strip() for ln in cs.source.splitlines()
                      if ln.strip() and not ln.strip().startswith(("#", "def ", '"""')) and "TODO" not in ln]
            leaked = [ln for ln in answer if ln in {x.strip() for x in ce.source.splitlines()}
                      and not ln.startswith(("import ", "from "))]
            assert not leaked, f"{sp.name}: answer lines left in the exercise: {leaked}"
        assert n_sol >= 1, sp.name


# --------------------------------------------------------------------------------------------- 1. bbox validator
def _bbox_right(x1, y1, x2, y2, w, h):
    vals = dict(x1=x1, y1=y1, x2=x2, y2=y2)
    p = [f"{k} not finite" for k, v in vals.items() if not math.isfinite(v)]
    if p:
        return p
    if x1 >= x2:
        p.append("x1 >= x2")
    if y1 >= y2:
        p.append("y1 >= y2")
    p += [f"{k}={v} outside" for (k, v), lim in zip(vals.items(), (w, h, w, h)) if not 0 <= v <= lim]
    return p


def test_check_bbox_validator():
    ex.check_bbox_validator(_bbox_right)
    _fails(ex.check_bbox_validator, _todo, match="not implemented")
    # the guide's snippet taken literally: strict edge (x2 < width) rejects a box touching the border
    strict = lambda x1, y1, x2, y2, w, h: _bbox_right(x1, y1, x2, y2, w, h) or (["edge"] if x2 >= w or y2 >= h else [])
    assert "whole frame" in _fails(ex.check_bbox_validator, strict)
    # NaN slips through comparisons
    nan_blind = lambda x1, y1, x2, y2, w, h: [m for m in (["x1"] if x1 >= x2 else []) + (["y1"] if y1 >= y2 else [])
                                               + (["x1 y1 x2 y2"] if x1 < 0 or y1 < 0 or x2 > w or y2 > h else [])]
    assert "NaN" in _fails(ex.check_bbox_validator, nan_blind)
    _fails(ex.check_bbox_validator, lambda *a: not _bbox_right(*a), match="list of strings")
    # the guide's asserts: stop at the first problem (a box with four is fixed in four passes)
    first_only = lambda *a: _bbox_right(*a)[:1]
    msg = _fails(ex.check_bbox_validator, first_only, match="collect every problem")
    assert "past the frame on all four sides" in msg and "NaN and infinity" in msg
    # a message that does not say which coordinate is at fault
    vague = lambda *a: ["invalid box"] * len(_bbox_right(*a))
    assert "no message names x1" in _fails(ex.check_bbox_validator, vague)


# ------------------------------------------------------------------------------------------------ 2. IoU / ST-IoU
def _iou_right(a, b):
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih
    return iw * ih / union if union > 0 else 0.0


def test_check_iou():
    ex.check_iou(_iou_right)
    ex.check_iou(lambda a, b: torch.tensor(_iou_right(a, b)))  # a 0-d tensor is a fine answer
    unclipped = lambda a, b: ((min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1]))
                              / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1])
                                 - (min(a[2], b[2]) - max(a[0], b[0])) * (min(a[3], b[3]) - max(a[1], b[1])) + 1e-9))
    assert "disjoint" in _fails(ex.check_iou, unclipped)
    no_guard = lambda a, b: _iou_right(a, b) if (a[2] - a[0]) * (a[3] - a[1]) else 0 / 0
    assert "ZeroDivisionError" in _fails(ex.check_iou, no_guard)


def test_check_st_iou():
    def right(p, g):
        fr = set(p) | set(g)
        return sum(_iou_right(p[f], g[f]) for f in fr if f in p and f in g) / len(fr) if fr else 0.0

    ex.check_st_iou(right)
    only_gt = lambda p, g: sum(_iou_right(p[f], g[f]) for f in g if f in p) / len(g) if g else 0.0
    assert "false alarms" in _fails(ex.check_st_iou, only_gt)
    _fails(ex.check_st_iou, _todo, match="not implemented")


# -------------------------------------------------------------------------------------------------------- 3. WIoU
def _dist_att(pred, tgt, detach=True):
    cp, ct = (pred[:, :2] + pred[:, 2:]) / 2, (tgt[:, :2] + tgt[:, 2:]) / 2
    wh = torch.max(pred[:, 2:], tgt[:, 2:]) - torch.min(pred[:, :2], tgt[:, :2])
    d2 = wh.pow(2).sum(-1)
    return torch.exp((cp - ct).pow(2).sum(-1) / ((d2.detach() if detach else d2) + 1e-7))


def _r(beta, alpha=1.9, delta=3.0):
    return beta / (delta * alpha ** (beta - delta))


def _focus(l_iou, iou_mean, alpha=1.9, delta=3.0, detach=True, clamp=True):
    beta = (l_iou.detach() if detach else l_iou) / (max(iou_mean, 1e-7) if clamp else iou_mean)
    return _r(beta, alpha, delta)


def _wiou(pred, tgt, iou_mean=1.0, detach_beta=True):
    from ultralytics.utils.metrics import bbox_iou

    l_iou = 1 - bbox_iou(pred, tgt, xywh=False, eps=1e-7).squeeze(-1)
    beta = (l_iou.detach() if detach_beta else l_iou) / iou_mean
    return _r(beta) * _dist_att(pred, tgt) * l_iou


def test_check_wiou():
    ex.check_wiou_focus(_focus)
    ex.check_wiou_focus(lambda li, m: _focus(li, m).numpy())  # numpy answers are fine
    flipped = lambda li, m: (li.detach() / m) / (3.0 * 1.9 ** (3.0 - li.detach() / m))  # alpha^(delta - beta)
    assert "l_iou 0.02 (beta 0.02): expected r = 0.04514" in _fails(ex.check_wiou_focus, flipped)
    assert "carries a gradient" in _fails(ex.check_wiou_focus, lambda li, m: _focus(li, m, detach=False))
    assert "must stay finite" in _fails(ex.check_wiou_focus, lambda li, m: _focus(li, m, clamp=False))
    ex.check_distance_attention(_dist_att)
    assert "detached" in _fails(ex.check_distance_attention, lambda p, t: _dist_att(p, t, detach=False))
    assert "pair" in _fails(ex.check_distance_attention, lambda p, t: _dist_att(p, t) ** 2)
    ex.check_wiou_v3(_wiou)
    assert "gradient wrong" in _fails(ex.check_wiou_v3, lambda p, t, iou_mean=1.0: _wiou(p, t, iou_mean, False))
    assert "iou_mean=0.35" in _fails(ex.check_wiou_v3, lambda p, t, iou_mean=1.0: _wiou(p, t, 1.0))
    ex.check_beta_peak(1 / math.log(1.9))
    _fails(ex.check_beta_peak, 3.0, match="expected beta = 1.558")
    _fails(ex.check_beta_peak, None, match="no answer yet")


# ---------------------------------------------------------------------------------------------------- 4. episode
@pytest.fixture(scope="module")
def sample_dataset():
    from refdet_lib.course import DATA_SAMPLES
    from refdet_lib.data import RefDetDataset

    tr = DATA_SAMPLES / "train"
    return RefDetDataset(tr / "samples", tr / "annotations" / "annotations.json", frame_size=64)


def _episode_right(ds, n_way, n_query, rng, positives=True, grouped=True):
    by = ds.indices_by_video(positives_only=positives)
    vids = [str(v) for v in rng.choice(ds.classes, n_way, replace=False)]
    idx, lab = [], []
    for c, v in enumerate(vids):
        idx += [int(i) for i in rng.choice(by[v], n_query, replace=len(by[v]) < n_query)]
        lab += [c] * n_query
    if not grouped:
        idx, lab = idx[::-1], lab[::-1]
    return vids, idx, lab


def test_check_build_episode(sample_dataset):
    ds = sample_dataset
    ex.check_build_episode(_episode_right, ds, n_way=2, n_query=2, imgsz=64, support_size=56, seeds=range(4))
    ex.check_build_episode(_episode_right, ds, n_way=3, n_query=3, imgsz=64, support_size=56, seeds=range(2))
    fixed = lambda d, w, q, rng: _episode_right(d, w, q, np.random.default_rng(0))
    assert "same episode" in _fails(ex.check_build_episode, fixed, ds, 2, 2, 64, 56, range(4))
    # background frames have no box: always drawn from the last video's negatives to make it certain
    def with_background(d, w, q, rng):
        v, idx, lab = _episode_right(d, w, q, rng)
        negs = [i for i in d.indices_by_video()[v[0]] if i >= d.n_positive]
        return v, [negs[0]] + idx[1:], lab
    assert "background frame" in _fails(ex.check_build_episode, with_background, ds, 2, 2, 64, 56, range(2))
    assert "grouped" in _fails(ex.check_build_episode, lambda *a: _episode_right(*a, grouped=False), ds, 2, 2, 64, 56,
                               range(2))
    swapped = lambda *a: (lambda v, i, l: (v[::-1], i, l))(*_episode_right(*a))
    assert "is a frame of" in _fails(ex.check_build_episode, swapped, ds, 2, 2, 64, 56, range(2))

    def repeated(d, w, q, rng):  # one frame n_query times
        v, idx, lab = _episode_right(d, w, q, rng)
        return v, [i for c in range(w) for i in [idx[c * q]] * q], lab
    assert "the same frame more than once" in _fails(ex.check_build_episode, repeated, ds, 2, 3, 64, 56, range(2))

    def first_frames(d, w, q, rng):  # random videos, but always their first annotated frames
        by = d.indices_by_video(positives_only=True)
        vids = [str(x) for x in rng.choice(d.classes, w, replace=False)]
        return vids, [i for x in vids for i in sorted(by[x])[:q]], [c for c in range(w) for _ in range(q)]
    assert "first 3 annotated frames" in _fails(ex.check_build_episode, first_frames, ds, 2, 3, 64, 56, range(4))


# -------------------------------------------------------------------------------------------------- 5. LR finder
def test_lr_curves_have_the_finder_shape():
    for kind in ("clean", "noisy", "late_drop", "early"):
        lrs, loss = ex.lr_finder_curve(kind, seed=3)
        i = int(np.argmin(np.abs(lrs - suggest_lr(lrs, loss))))
        i_min = int(np.argmin(loss))
        assert 0 <= i < i_min - 1 < len(loss) - 2, kind  # the pick is clearly before the minimum
        assert loss[-1] > loss[i_min] * 2 and loss[0] > loss[i_min]  # plateau above, divergence far above
    lrs, loss = ex.lr_finder_curve("late_drop")
    slope = np.gradient(loss, np.log10(lrs))
    assert int(np.argmin(slope)) > int(np.argmin(loss))  # the trap: steepest overall is past the minimum


def test_check_pick_learning_rate():
    def right(lrs, losses):
        i_min = int(np.argmin(losses))
        return float(lrs[int(np.argmin(np.diff(losses)[:i_min]))])  # forward differences: also accepted

    ex.check_pick_learning_rate(right)
    ex.check_pick_learning_rate(suggest_lr)  # the library's own LR finder passes its exercise
    assert "the minimum itself" in _fails(ex.check_pick_learning_rate, lambda lrs, l: float(lrs[int(np.argmin(l))]))
    glob = lambda lrs, l: float(lrs[int(np.argmin(np.gradient(l, np.log10(lrs))))])
    assert "late_drop" in _fails(ex.check_pick_learning_rate, glob)
    _fails(ex.check_pick_learning_rate, lambda lrs, l: None, match="positive LR")


# ----------------------------------------------------------------------------------------------- 6. freeze counts
def test_check_count_trainable():
    unique = lambda ps: {id(p): p for p in ps}.values()
    ex.check_count_trainable(lambda ps: sum(p.numel() for p in unique(ps) if p.requires_grad))
    msg = _fails(ex.check_count_trainable, lambda ps: sum(p.numel() for p in ps if p.requires_grad))
    assert "listed twice was counted twice" in msg  # the answer that forgot de-duplication
    assert "frozen parameters too" in _fails(ex.check_count_trainable, lambda ps: sum(p.numel() for p in unique(ps)))
    _fails(ex.check_count_trainable, lambda ps: len([p for p in unique(ps) if p.requires_grad]))


def test_check_frozen_vs_trained():
    from refdet_lib.model import build_refdet

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trained = build_refdet(imgsz=64, support_size=56)
        frozen = build_refdet(imgsz=64, support_size=56, freeze_reference=True)
    by_part = lambda m: {k: sum(p.numel() for p in v if p.requires_grad) for k, v in m.components().items()}
    vit = next(k for k in trained.components() if k.startswith("reference encoder"))
    assert by_part(frozen)[vit] == 0 < by_part(trained)[vit]
    ex.check_frozen_vs_trained(by_part, [vit], trained, frozen)
    ex.check_frozen_vs_trained(by_part, vit, trained, frozen)  # one name given as a string
    all_params = lambda m: {k: sum(p.numel() for p in v) for k, v in m.components().items()}  # ignores freezing
    _fails(ex.check_frozen_vs_trained, all_params, [vit], trained, frozen, match="freeze_reference=True, reference")
    _fails(ex.check_frozen_vs_trained, by_part, [vit, "reference projections"], trained, frozen,
           match="frozen_components: expected")
    _fails(ex.check_frozen_vs_trained, lambda m: sum(by_part(m).values()), [vit], trained, frozen,
           match="expected a dict")
    _fails(ex.check_frozen_vs_trained, by_part, None, trained, frozen, match="no answer yet")
    _fails(ex.check_frozen_vs_trained, by_part, [vit], frozen, trained, match="freeze_reference")


# ----------------------------------------------------------------------------------------------- 7. triplet
def _batch_hard(e, lab, margin=0.3, mean_pos=False):
    e = F.normalize(e.float(), dim=-1)
    d = (2 - 2 * e @ e.T).clamp_min(1e-12).sqrt()
    same = lab[:, None] == lab[None]
    pos, neg = same & ~torch.eye(len(lab), dtype=torch.bool), ~same
    if mean_pos:
        hp = (d * pos).sum(1) / pos.sum(1).clamp_min(1)
    else:
        hp = d.masked_fill(~pos, float("-inf")).max(1).values
    hn = d.masked_fill(~neg, float("inf")).min(1).values
    valid = pos.any(1) & neg.any(1)
    return F.relu(hp - hn + margin)[valid].mean()


def test_check_batch_hard_triplet():
    ex.check_batch_hard_triplet(_batch_hard)
    _fails(ex.check_batch_hard_triplet, lambda e, l, m: _batch_hard(e, l, m, mean_pos=True))
    _fails(ex.check_batch_hard_triplet, lambda e, l, m: _batch_hard(e, l, 0.3))  # ignores the margin argument
    _fails(ex.check_batch_hard_triplet, lambda e, l, m: float(_batch_hard(e, l, m)), match="no gradient")


# ----------------------------------------------------------------------------------------------- 8. unletterbox
def test_check_unletterbox():
    def right(boxes, shape, s, pad=True, clip=True):
        h, w = shape
        r = min(s / h, s / w)
        left, top = (s - max(1, round(w * r))) // 2, (s - max(1, round(h * r))) // 2
        if not pad:
            left = top = 0
        b = np.array(boxes, np.float64)
        b[:, [0, 2]] = (b[:, [0, 2]] - left) / r
        b[:, [1, 3]] = (b[:, [1, 3]] - top) / r
        if clip:
            b[:, [0, 2]] = b[:, [0, 2]].clip(0, w)
            b[:, [1, 3]] = b[:, [1, 3]].clip(0, h)
        return b

    ex.check_unletterbox(right)
    ex.check_unletterbox(lambda b, sh, s: torch.from_numpy(right(b, sh, s)))
    _fails(ex.check_unletterbox, lambda b, sh, s: right(b, sh, s, pad=False), match="640x360")
    _fails(ex.check_unletterbox, lambda b, sh, s: right(b, sh, s, clip=False))

    def float_pad(boxes, shape, s):  # pad = gap / 2 in floats: right wherever the gap is even, half a pixel off else
        h, w = shape
        r = min(s / h, s / w)
        b = np.array(boxes, np.float64)
        b[:, [0, 2]] = ((b[:, [0, 2]] - (s - max(1, round(w * r))) / 2) / r).clip(0, w)
        b[:, [1, 3]] = ((b[:, [1, 3]] - (s - max(1, round(h * r))) / 2) / r).clip(0, h)
        return b
    msg = _fails(ex.check_unletterbox, float_pad)
    assert "333x500" in msg and "1280x723" in msg and "640x360" not in msg


# ---------------------------------------------------------------------------------------------------- notebooks
@pytest.fixture(scope="module")
def nb_params(tmp_path_factory):
    return dict(SMOKE, run_dir=str(tmp_path_factory.mktemp("exercise_runs")))


def _run(path: Path, out: Path, params: dict):
    import papermill as pm

    return pm.execute_notebook(str(path), str(out), parameters=params, kernel_name="python3", cwd=str(path.parent),
                               progress_bar=False, execution_timeout=120)


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.parametrize("name", [p.name for p in SOLUTIONS])
def test_solution_notebook_passes(name, tmp_path, nb_params):
    nb = _run(ROOT / "solutions" / name, tmp_path / name, nb_params)
    n_checks = sum("check_" in c.source for c in nb.cells if c.cell_type == "code" and "import" not in c.source)
    out = _stdout(nb)
    assert "FAIL" not in out
    assert out.count("PASS:") == n_checks >= 1, out


@pytest.mark.parametrize("name", [p.name for p in SOLUTIONS])
def test_exercise_notebook_fails_unanswered(name, tmp_path, nb_params):
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as e:
        _run(ROOT / "exercises" / name, tmp_path / name, nb_params)
    assert e.value.ename == "ExerciseFailed", (e.value.ename, e.value.evalue)  # a check failed, nothing crashed
    assert "not implemented yet" in e.value.evalue or "no answer yet" in e.value.evalue
    nb = nbformat.read(tmp_path / name, as_version=4)
    failed = next(c for c in nb.cells if c.cell_type == "code" and any(o.get("output_type") == "error"
                                                                        for o in c.outputs))
    assert failed.source.startswith("check_")


# ------------------------------------------------------------------------------------ 9. prototype logit, 10. gates
def _proto_logits(embs, protos, scale, bias, normalise=True, clamp=True, level_bias=True):
    flat = torch.cat([e.flatten(2) for e in embs], 2).transpose(1, 2)
    e, p = (F.normalize(flat, dim=-1), F.normalize(protos, dim=-1)) if normalise else (flat, protos)
    s = (scale.clamp(max=math.log(100.0)) if clamp else scale).exp()
    b = torch.cat([bias[i].expand(x.shape[2] * x.shape[3]) for i, x in enumerate(embs)]) if level_bias else bias[0]
    return s * (e @ p.T).transpose(1, 2) + b


def test_check_prototype_logits():
    ex.check_prototype_logits(_proto_logits)
    _fails(ex.check_prototype_logits, lambda *a: _proto_logits(*a, normalise=False), match="unit length")
    _fails(ex.check_prototype_logits, lambda *a: _proto_logits(*a, clamp=False), match="clamped at 100")
    _fails(ex.check_prototype_logits, lambda *a: _proto_logits(*a, level_bias=False))
    _fails(ex.check_prototype_logits, lambda *a: _proto_logits(*a).transpose(1, 2), match="expected shape")


def _gates(e, proto, channel, spatial, order=True, sig=True):
    b, c = e.shape[:2]
    gc = channel(torch.cat([proto.expand(b, c), e.mean((2, 3))] if order else [e.mean((2, 3)), proto.expand(b, c)],
                           -1))
    gs = spatial(torch.cat([e.mean(1, keepdim=True), e.amax(1, keepdim=True)], 1))
    if sig:
        gc, gs = torch.sigmoid(gc), torch.sigmoid(gs)
    return e * gc.view(b, c, 1, 1) * gs


def test_check_cheaf_gates():
    with torch.no_grad():
        ex.check_cheaf_gates(_gates)
        _fails(ex.check_cheaf_gates, lambda *a: _gates(*a, order=False), match="max difference")
        _fails(ex.check_cheaf_gates, lambda *a: _gates(*a, sig=False))
        _fails(ex.check_cheaf_gates, lambda e, p, c, s: e)  # no gate at all
