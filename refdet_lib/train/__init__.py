"""Training: the loop (stages 1/2/3), optimizer groups and schedule, callbacks, atomic checkpoints and resume, the
run record, CPU-sized recipes; `run_training` builds it all from the configs."""
from .callbacks import Callback, LambdaCallback, TimeBudget
from .checkpoint import atomic_save
from .history import History, append_experiment, read_history
from .optim import param_groups, warmup_cosine
from .recipes import small_configs
from .run import build_datasets, run_training
from .step import batch_loss, forward_batch
from .trainer import Trainer

__all__ = ["Callback", "LambdaCallback", "TimeBudget", "atomic_save", "History", "append_experiment", "read_history",
           "param_groups", "warmup_cosine", "small_configs", "build_datasets", "run_training", "batch_loss",
           "forward_batch", "Trainer"]
