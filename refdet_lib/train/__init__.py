"""Training: the loop (stages 1/2/3), atomic checkpoints and resume, the run record."""
from .checkpoint import atomic_save, load_checkpoint, load_model
from .history import History, append_experiment, read_history
from .trainer import Callback, LambdaCallback, Trainer, param_groups, select_device

__all__ = ["atomic_save", "load_checkpoint", "load_model", "History", "append_experiment", "read_history",
           "Callback", "LambdaCallback", "Trainer", "param_groups", "select_device", "run_training"]


def run_training(*args, **kwargs):
    """See refdet_lib.train.run.run_training (imported lazily: it pulls in the model and losses)."""
    from .run import run_training as _rt
    return _rt(*args, **kwargs)
