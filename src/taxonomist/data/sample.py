"""Sample data, written out as a source folder: the digits, or the drawn vehicles.

The digits (``data.sample: digits``, the default) are scikit-learn's bundled handwritten
digits: each 8x8 original becomes a *set* of 2-3 slightly different 32x32 views, the way
one car is photographed several times; a split that ignored ``set_id`` would put
near-copies of one digit into both train and test. No download: the digits ship with
scikit-learn. The vehicles (``data.sample: vehicles``) are drawn:
:mod:`taxonomist.data.samples.vehicles`.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageEnhance
from sklearn.datasets import load_digits
from tqdm import tqdm

from taxonomist.config import DataConfig
from taxonomist.config.schema import SampleKind
from taxonomist.data.samples.folder import MANIFEST_COLUMNS, clear_folder
from taxonomist.data.samples.vehicles import write_vehicles
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

# The class names in conf/taxonomy/digits.yaml, indexed by digit.
DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SCANNERS = ("scanner-a", "scanner-b", "scanner-c")
FIRST_DAY, DAYS = date(2024, 1, 8), 120
SIZE = 32
PAPER = 235  # background grey: dark ink on light paper, like a scan


def write_sample(
    data: DataConfig, seed: int, out_dir: Path, taxonomy: Taxonomy | None = None
) -> int:
    """Write ``data.sample`` as PNG files plus ``data.manifest`` into ``out_dir``.

    Args:
        data: ``sample`` chooses the sample; ``per_class`` caps the originals per class
            (None: all ~180 per digit, 25 cars per vehicle class); ``manifest`` names
            the CSV.
        seed: everything random (views, source, date) comes from it, so the same seed
            gives byte-identical files.
        out_dir: cleared first, so a rerun leaves no stale images.
        taxonomy: the tree the vehicles are drawn for (the digits ignore it).

    Returns:
        The number of images written (about 2.5 per original).

    Raises:
        DataError: ``out_dir`` holds files this function did not write (it refuses to
            delete them), or the vehicles were asked for without a taxonomy of their shape.
    """
    if data.sample is SampleKind.vehicles:
        if taxonomy is None:
            raise DataError("the vehicle sample is drawn for a taxonomy; none was given")
        return write_vehicles(data, taxonomy, seed, out_dir)
    originals = _originals(data.per_class)
    rng = np.random.default_rng(seed)
    clear_folder(out_dir, data.manifest, set(DIGIT_NAMES))
    rows = []
    for n, (pixels, digit) in enumerate(tqdm(originals, desc="sample", unit="digit")):
        rows += _write_set(pixels, DIGIT_NAMES[digit], f"digit-{n:04d}", rng, out_dir)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest.to_csv(out_dir / data.manifest, index=False)
    return len(manifest)


def _originals(per_class: int | None) -> list[tuple[np.ndarray, int]]:
    digits = load_digits()
    taken = dict.fromkeys(range(10), 0)
    chosen = []
    for pixels, digit in zip(digits.images, digits.target, strict=True):
        if per_class is None or taken[digit] < per_class:
            taken[digit] += 1
            chosen.append((pixels, int(digit)))
    return chosen


def _write_set(
    pixels: np.ndarray, label: str, set_id: str, rng: np.random.Generator, out_dir: Path
) -> list[dict[str, str]]:
    """Write 2-3 views of one original; they share the set, scanner and day."""
    scanner = SCANNERS[rng.integers(len(SCANNERS))]
    taken_at = (FIRST_DAY + timedelta(days=int(rng.integers(DAYS)))).isoformat()
    base = _upscale(pixels)
    rows = []
    for view in range(int(rng.integers(2, 4))):
        path = Path(label) / f"{set_id}-{view}.png"
        (out_dir / path).parent.mkdir(parents=True, exist_ok=True)
        _jitter(base, rng).save(out_dir / path)
        rows.append(
            {"path": path.as_posix(), "label": label, "source": scanner,
             "set_id": set_id, "taken_at": taken_at}
        )
    return rows


def _upscale(pixels: np.ndarray) -> Image.Image:
    """An 8x8 array of 0-16 ink values as a 32x32 grey image, dark ink on paper."""
    ink = pixels / 16.0
    grey = np.round(PAPER * (1.0 - ink)).astype(np.uint8)
    return Image.fromarray(grey, mode="L").resize((SIZE, SIZE), Image.Resampling.BICUBIC)


def _jitter(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """One view: shift up to 1 px, rotate up to 8 degrees, change contrast a little."""
    angle = float(rng.uniform(-8.0, 8.0))
    shift = tuple(int(s) for s in rng.integers(-1, 2, size=2))
    contrast = float(rng.uniform(0.8, 1.2))
    moved = image.rotate(
        angle, resample=Image.Resampling.BILINEAR, translate=shift, fillcolor=PAPER
    )
    return ImageEnhance.Contrast(moved).enhance(contrast).convert("RGB")
