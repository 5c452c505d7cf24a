"""Running the course headless: every notebook in order with papermill (`refdet course run`)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .._env import PROJECT_ROOT
from .setup import DEFAULT_RUNS

NOTEBOOKS = ["00_setup", "01_dataset_validation", "02_stage1_base_pretraining", "02b_inside_the_model",
             "03_stage2_fewshot_meta_learning",
             "04_hyperparameter_tuning", "05_monitoring_training", "06_triplet_finetuning", "07_troubleshooting",
             "08_jetson_export"]


def run_course(out_dir=None, notebooks: Optional[list[str]] = None, parameters: Optional[dict] = None,
               kernel: str = "python3", timeout: int = 3600) -> list[Path]:
    """Execute the notebooks in order with papermill; executed copies go to `out_dir` (default runs/course/executed)."""
    import papermill as pm

    out = Path(out_dir or DEFAULT_RUNS / "executed")
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for name in notebooks or NOTEBOOKS:
        src = PROJECT_ROOT / "notebooks" / f"{name}.ipynb"
        if not src.exists():
            raise FileNotFoundError(f"notebook not found: {src}")
        print(f"--- {name}", flush=True)
        dst = out / f"{name}.ipynb"
        pm.execute_notebook(str(src), str(dst), parameters=parameters or {}, kernel_name=kernel,
                            cwd=str(src.parent), progress_bar=False, execution_timeout=timeout)
        done.append(dst)
    return done
