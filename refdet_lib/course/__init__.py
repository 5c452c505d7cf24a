"""The course's helpers (notebooks sit on top of them; nothing in the library imports them):

- `setup`:        `checks()` (notebook 00), `start_weights` (course weights or scratch), `ensure_checkpoint`
                  (the stage-2 model later lessons share), `lesson_setup` (the set-up of lessons 04-08)
- `runner`:       `run_course` / NOTEBOOKS (`refdet course run`)
- `learning`:     run and read `benchmarks/learning.py`
- `viz`, `widgets`: pictures and interactive views; `diagnostics`: the guide's troubleshooting checks as functions
- `data_report`:  dataset pictures and a deliberately broken copy; `lr_finder`: the guide's LR finder in one run
- `scale`:        one model under several proposal schemes, per video, and the same frames under each (notebook 08)
- `capstone`:     find the objects the course weights miss: the levers tried side by side, the table filled (08)
- `exercises`:    one checker module per exercise
"""
from ..train.recipes import DATA_SAMPLES, small_configs
from .learning import LEARNING_RUN, learning_report, run_learning_benchmark
from .runner import NOTEBOOKS, run_course
from .setup import (DEFAULT_RUNS, START_FROM, Lesson, best_test_video, checks, ensure_checkpoint, lesson_setup,
                    reference_size, start_config, start_weights)

__all__ = ["DATA_SAMPLES", "small_configs", "LEARNING_RUN", "learning_report", "run_learning_benchmark",
           "NOTEBOOKS", "run_course", "DEFAULT_RUNS", "checks", "ensure_checkpoint", "START_FROM", "start_config",
           "start_weights", "reference_size", "lesson_setup", "Lesson", "best_test_video"]
