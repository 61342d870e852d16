"""``taxonomist augment-preview NODE``: a PNG grid of what the network sees in training."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid

from taxonomist.config import Config, Paths
from taxonomist.contracts.cache import load_node_split
from taxonomist.errors import DataError
from taxonomist.train.augment import build_augmentation
from taxonomist.train.datamodule import NodeSplit, node_split
from taxonomist.train.model import to_input, to_input_boxes

MIN_TILE = 96  # small images are enlarged (nearest) so a person can see the pixels


def augment_preview(
    node: str, config: Config, paths: Paths, n: int = 32, out: Path | None = None
) -> Path:
    """Augment ``n`` random training images of ``node`` as training would; save a grid.

    The images are those of the train split in the cache, at the node's ``image_size``,
    through its ``augment`` list as in the first epoch (boxes included), before the
    normalisation.

    Args:
        node: an inner node of the taxonomy.
        config: the composed configuration.
        paths: the project (the cache must exist: ``dvc repro cache``).
        n: how many images.
        out: the PNG to write; default ``reports/augment/<node>.png``.

    Returns:
        The PNG written.

    Raises:
        ConfigError: a bad ``augment`` list.
        DataError: no cached training image under ``node``.
    """
    cfg = config.classifiers[node]
    augment = build_augmentation(cfg.augment,
                                 paths.classifier_source(node, config.project.classifier_dir))
    data = node_split(load_node_split(paths, node, "train"), config.taxonomy, node)
    if len(data) == 0:
        raise DataError(f"node '{node}': no cached training images; run `dvc repro cache`")
    images, boxes = _pick(data, n, config.project.seed)
    torch.manual_seed(config.project.seed)
    x = to_input(images, cfg.image_size)
    augment.set_epoch(0, cfg.epochs)
    with torch.no_grad():
        scaled = to_input_boxes(boxes, images.shape, cfg.image_size) if boxes is not None else None
        x = augment(x, scaled).clamp(0, 1)
    out = out or paths.reports / "augment" / f"{node}.png"
    _save_grid(x, out)
    return out


def _pick(data: NodeSplit, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(len(data), size=min(n, len(data)), replace=False))
    images = torch.from_numpy(np.asarray(data.images[data.rows[positions]]))
    boxes = None if data.boxes is None else torch.from_numpy(data.boxes[positions])
    return images, boxes


def _save_grid(x: torch.Tensor, out: Path) -> None:
    if x.shape[-1] < MIN_TILE:
        x = F.interpolate(x, scale_factor=math.ceil(MIN_TILE / x.shape[-1]), mode="nearest")
    grid = make_grid(x, nrow=math.ceil(math.sqrt(len(x))), padding=2, pad_value=1.0)
    pixels = (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(out)
