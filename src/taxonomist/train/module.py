"""The LightningModule: augmentation on the device, whole batches, one node's classes."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from taxonomist.config.schema import OptimConfig
from taxonomist.errors import ConfigError
from taxonomist.train.model import NodeSpec, frozen_norm_layers, normalize, to_input


class NodeClassifier(pl.LightningModule):
    """Trains a timm network on one node's children.

    Args:
        model: the backbone with its new head (see ``create_backbone`` and ``freeze``).
        spec: image size and normalisation of the network.
        augment: applied to float batches in training only (``nn.Identity`` for none).
        optim: the optimiser section of the classifier definition.
        class_weights: loss weights per class, or None for plain cross-entropy.
    """

    def __init__(
        self,
        model: nn.Module,
        spec: NodeSpec,
        augment: nn.Module,
        optim: OptimConfig,
        class_weights: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.model, self.spec, self.augment, self.optim = model, spec, augment, optim
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.val_acc = MulticlassAccuracy(num_classes=len(spec.classes), average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 on the device -> augmented (training only), normalised float batch."""
        images, targets = batch
        x = to_input(images, self.spec.image_size)
        if self.trainer.training:
            x = self.augment(x)
        return normalize(x, self.spec), targets

    def on_train_epoch_start(self) -> None:
        for layer in frozen_norm_layers(self.model):
            layer.eval()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = F.cross_entropy(self(x), y, weight=self.class_weights)
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True, prog_bar=True)
        self.val_acc(logits, y)
        self.log("val_acc", self.val_acc, on_epoch=True, prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.model.parameters() if p.requires_grad]
        return optimizer_class(self.optim.name)(
            params, lr=self.optim.lr, weight_decay=self.optim.weight_decay
        )


def optimizer_class(name: str) -> type[torch.optim.Optimizer]:
    by_name = {
        n.lower(): cls for n, cls in vars(torch.optim).items()
        if isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)
        and cls is not torch.optim.Optimizer
    }
    if name.lower() not in by_name:
        raise ConfigError(
            "conf/classifiers", "optim.name", f"'{name}' is not a torch.optim optimiser",
            f"valid names: {', '.join(sorted(by_name))}",
        )
    return by_name[name.lower()]
