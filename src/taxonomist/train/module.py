"""The LightningModule: augmentation on the device, whole batches, one node's classes."""

from __future__ import annotations

import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from taxonomist.config.schema import OptimConfig, Schedule
from taxonomist.errors import ConfigError
from taxonomist.train.augment import AugmentationPipeline
from taxonomist.train.losses import focal_nll
from taxonomist.train.model import (
    FineTargets,
    NodeSpec,
    frozen_norm_layers,
    normalize,
    set_log_probs,
    to_input,
    to_input_boxes,
)
from taxonomist.train.transfer import GradualUnfreezing, TransferPlan, optimizer_groups


class NodeClassifier(pl.LightningModule):
    """Trains a timm network on one node's children.

    Args:
        model: the backbone with its new head (see ``create_backbone`` and ``freeze``).
        spec: image size and normalisation of the network.
        augment: applied to float batches in training only (see ``build_augmentation``;
            any module taking a batch works, e.g. ``nn.Identity``).
        optim: the optimiser section of the classifier definition.
        class_weights: loss weights per class (with ``fine``, per label), or None for
            plain cross-entropy.
        transfer: which parameters train at which learning rate, and when; None: those
            with ``requires_grad``, all at ``optim.lr``.
        focal_gamma: use the focal loss with this gamma instead of cross-entropy.
        fine: train ``model``'s outputs, one per leaf under the node, on the images'
            labels (``targets: leaves``); the module's output and validation are still
            per child, each the log-sum-exp of its leaves. The batches' targets are then
            indices into ``fine.labels``.
    """

    def __init__(
        self,
        model: nn.Module,
        spec: NodeSpec,
        augment: nn.Module,
        optim: OptimConfig,
        class_weights: torch.Tensor | None = None,
        transfer: TransferPlan | None = None,
        focal_gamma: float | None = None,
        fine: FineTargets | None = None,
    ) -> None:
        super().__init__()
        if not isinstance(augment, AugmentationPipeline):
            augment = AugmentationPipeline([augment])
        self.model, self.spec, self.augment, self.optim = model, spec, augment, optim
        self.transfer, self.focal_gamma = transfer, focal_gamma
        self.register_buffer("class_weights", class_weights, persistent=False)
        self.fine = fine is not None
        if fine is not None:  # not persistent: they follow from the taxonomy, not training
            self.register_buffer("label_leaves", torch.tensor(fine.label_leaves), False)
            self.register_buffer("label_child", torch.tensor(fine.label_child), False)
            member = self.label_leaves[: len(spec.classes)]  # the children come first
            self.register_buffer("child_leaves", member, False)
        self.val_acc = MulticlassAccuracy(num_classes=len(spec.classes), average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A score per child: the logits, or with leaf targets the log-probabilities."""
        if self.fine:
            return set_log_probs(self.model(x), self.child_leaves)
        return self.model(x)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        """uint8 on the device -> augmented (training only), normalised float batch.

        A batch is ``(images, targets)`` or ``(images, targets, boxes)`` with boxes in
        pixels of the cached images (NaN where an image has none).
        """
        images, targets, *boxes = batch
        x = to_input(images, self.spec.image_size)
        if self.trainer.training:
            scaled = to_input_boxes(boxes[0], images.shape, x.shape[-1]) if boxes else None
            x = self.augment(x, scaled)
        return normalize(x, self.spec), targets

    def on_train_epoch_start(self) -> None:
        self.augment.set_epoch(self.current_epoch, self.trainer.max_epochs)
        for layer in frozen_norm_layers(self.model):
            layer.eval()

    def configure_callbacks(self) -> list[pl.Callback]:
        if self.transfer is not None and self.transfer.unfreeze_every > 0:
            return [GradualUnfreezing(self.transfer)]
        return []

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        log_p, weight = self._target_log_probs(self.model(x))
        if self.focal_gamma is not None:
            loss = focal_nll(log_p, y, self.focal_gamma, weight)
        else:
            loss = F.nll_loss(log_p, y, weight=weight)
        # sync_dist: under DDP every rank (and so early stopping and the checkpoint's
        # "best") sees the mean over all ranks' batches, not its own share; a no-op otherwise
        self.log("train_loss", loss, on_step=False, on_epoch=True, prog_bar=True, sync_dist=True)
        return loss

    def _target_log_probs(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Log-probability of each possible target, and the loss weight of each."""
        if not self.fine:
            return F.log_softmax(outputs, dim=1), self.class_weights
        return set_log_probs(outputs, self.label_leaves), self.class_weights

    def validation_step(self, batch, batch_idx: int) -> None:
        x, y = batch
        logits = self(x)
        if self.fine:  # scored per child, as evaluation and the stack use the node
            y = self.label_child[y]
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True, prog_bar=True,
                 sync_dist=True)
        self.val_acc(logits, y)
        self.log("val_acc", self.val_acc, on_epoch=True, prog_bar=True)

    def configure_optimizers(self):
        if self.transfer is None:
            params = [p for p in self.model.parameters() if p.requires_grad]
        else:
            params = optimizer_groups(self.model, self.transfer, self.optim)
        optimizer = optimizer_class(self.optim.name)(
            params, lr=self.optim.lr, weight_decay=self.optim.weight_decay
        )
        if self.optim.schedule is Schedule.constant:
            return optimizer
        steps = int(self.trainer.estimated_stepping_batches)  # every epoch, early stop or not
        schedule = lr_schedule(optimizer, self.optim.schedule, steps)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def lr_schedule(
    optimizer: torch.optim.Optimizer, schedule: Schedule, steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """torch's scheduler for ``schedule`` over ``steps`` batches, from each group's lr."""
    if schedule is Schedule.cosine:
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    peaks = [group["lr"] for group in optimizer.param_groups]  # layer decay keeps its ratios
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peaks, total_steps=steps)



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
