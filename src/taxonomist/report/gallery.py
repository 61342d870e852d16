"""A gallery of the challenger's mistakes, with the images themselves.

Two rows of thumbnails: the worst mistakes (largest tree distance between the predicted
and the true class) and the sensibly wrong ones (stopped at an inner node on the true
path, or the right parent but the wrong class), so a reader sees at once whether the
stack fails gracefully. Each image is looked up in ``data/manifest.parquet`` (``id`` ->
``stored``, relative to the project root), shrunk or enlarged to a small thumbnail and
embedded as a PNG data URI, captioned with the true and the predicted path.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from PIL import Image, UnidentifiedImageError

from taxonomist.config import Paths
from taxonomist.report.mistakes import SENSIBLE, with_kinds
from taxonomist.report.plots import png_data_uri
from taxonomist.taxonomy import Taxonomy

THUMBNAIL_PX = 96
MAX_WORST = 12
MAX_IMAGES = 24


@dataclass(frozen=True)
class GalleryImage:
    """One mistake: its image (None when the file is gone) and what went wrong."""

    id: str
    true_path: str
    predicted_path: str
    distance: int
    kind: str
    live_correct: bool | None
    thumbnail: str | None
    stored: str | None

    @property
    def caption(self) -> str:
        """``"round/six → round/zero"``: the true path, then where the stack went."""
        return f"{self.true_path} → {self.predicted_path}"


@dataclass(frozen=True)
class Gallery:
    """The worst and the sensibly wrong mistakes, at most :data:`MAX_IMAGES` together."""

    worst: list[GalleryImage] = field(default_factory=list)
    sensible: list[GalleryImage] = field(default_factory=list)

    @property
    def images(self) -> list[GalleryImage]:
        return [*self.worst, *self.sensible]


def build_gallery(paths: Paths, taxonomy: Taxonomy, outcomes: pd.DataFrame) -> Gallery:
    """Pick the mistakes to show from ``outcomes`` and load their thumbnails.

    The worst: mistakes that are not sensibly wrong, farthest from the truth first (at
    most :data:`MAX_WORST`). The sensibly wrong: closest to the truth first, so that
    stopping at the parent comes before stopping at the root, filling the gallery up
    to :data:`MAX_IMAGES`.
    """
    mistakes = outcomes.assign(kind=with_kinds(taxonomy, outcomes, "challenger"))
    mistakes = mistakes[mistakes["kind"].notna()]
    mistakes = mistakes.assign(_d=mistakes["challenger_distance"].astype(int))
    sensible = mistakes["kind"].isin(SENSIBLE)
    worst = mistakes[~sensible].sort_values(["_d", "label", "id"], ascending=[False, True, True])
    worst = worst.head(MAX_WORST)
    fine = mistakes[sensible].sort_values(["_d", "label", "id"]).head(MAX_IMAGES - len(worst))
    stored = stored_paths(paths)
    return Gallery(
        worst=[_image(paths, taxonomy, row, stored) for row in worst.itertuples()],
        sensible=[_image(paths, taxonomy, row, stored) for row in fine.itertuples()],
    )


def stored_paths(paths: Paths) -> dict[str, str]:
    """``id`` -> ``stored`` from the manifest; empty when it is missing or lacks them."""
    if not paths.manifest.is_file():
        return {}
    manifest = pd.read_parquet(paths.manifest)
    if not {"id", "stored"} <= set(manifest.columns):
        return {}
    return {str(i): str(s) for i, s in zip(manifest["id"], manifest["stored"], strict=True)}


def thumbnail(path: Path, size: int = THUMBNAIL_PX) -> str | None:
    """The image at ``path`` fitted into ``size`` pixels, as a PNG data URI.

    Small images are enlarged without smoothing, so an 8x8 digit stays crisp; large ones
    are shrunk with Lanczos. None when the file is missing or not an image.
    """
    try:
        with Image.open(path) as opened:
            image = opened.convert("RGB")
    except (FileNotFoundError, IsADirectoryError, UnidentifiedImageError, OSError):
        return None
    return png_data_uri(thumbnail_png(image, size))


def thumbnail_png(image: Image.Image, size: int = THUMBNAIL_PX, fast: bool = False) -> bytes:
    """``image`` fitted into ``size`` pixels, as PNG bytes (see :func:`thumbnail`).

    ``fast`` compresses lightly: about 25x faster for files about 15 % larger, what a
    page of thousands of thumbnails wants (measured on 96 px thumbnails of the car bench's
    photos, 2026-12-07, commit 1238ce2).
    """
    scale = size / max(image.size)
    new_size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    resample = Image.Resampling.NEAREST if scale > 1 else Image.Resampling.LANCZOS
    buffer = io.BytesIO()
    image.resize(new_size, resample).save(buffer, format="PNG", optimize=not fast,
                                            compress_level=1 if fast else 6)
    return buffer.getvalue()


def _image(paths: Paths, taxonomy: Taxonomy, row, stored: dict[str, str]) -> GalleryImage:
    where = stored.get(str(row.id))
    live_correct = getattr(row, "live_correct", None)
    return GalleryImage(
        id=str(row.id),
        true_path=_true_path(taxonomy, str(row.label)),
        predicted_path=str(row.challenger_path or "") or f"(unsure at {taxonomy.root})",
        distance=int(row.challenger_distance),
        kind=str(row.kind),
        live_correct=None if live_correct is None or pd.isna(live_correct) else bool(live_correct),
        thumbnail=None if where is None else thumbnail(paths.root / where),
        stored=where,
    )


def _true_path(taxonomy: Taxonomy, label: str) -> str:
    return "/".join(taxonomy.path(label)[1:]) if label in taxonomy else label
