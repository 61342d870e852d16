"""Settings that make a node's network train faster without changing what it learns.

Mixed precision is Lightning's ``precision`` (``conf/trainer/gpu.yaml``: ``16-mixed``);
the input batches are channels-last already (:func:`taxonomist.train.model.to_input`).
"""

from __future__ import annotations

import torch
from torch import nn

from taxonomist.config.schema import TrainerConfig


def on_gpu(trainer: TrainerConfig) -> bool:
    """Whether Lightning will put the model on a CUDA device."""
    if trainer.accelerator in ("gpu", "cuda"):
        return True
    return trainer.accelerator == "auto" and torch.cuda.is_available()


def tune_for_speed(model: nn.Module, trainer: TrainerConfig) -> nn.Module:
    """Channels-last weights, cuDNN autotuning and TF32 on a GPU; ``torch.compile`` if asked.

    The model is changed in place and its ``state_dict`` keys stay as they are
    (``nn.Module.compile`` wraps the forward, not the module), so checkpoints and the
    saved weights load into an uncompiled network.

    Args:
        model: the backbone with its head.
        trainer: ``accelerator``, ``deterministic`` and ``compile`` are read.

    Returns:
        ``model``, for chaining.
    """
    if on_gpu(trainer):
        # Tensor cores want NHWC: with NCHW weights each convolution transposes its input.
        model.to(memory_format=torch.channels_last)
        torch.set_float32_matmul_precision("high")
        torch.backends.cudnn.benchmark = not trainer.deterministic
    if trainer.compile:
        model.compile()
    return model
