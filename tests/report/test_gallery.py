from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from taxonomist.report import write_model_card
from taxonomist.report.gallery import MAX_IMAGES, MAX_WORST, build_gallery, thumbnail
from taxonomist.report.mistakes import load_outcomes
from tests.report.make_inputs import stored, taxonomy, write_inputs


def decoded(data_uri: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))


def test_worst_and_sensibly_wrong_mistakes(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    gallery = build_gallery(paths, taxonomy(), load_outcomes(paths))
    assert [(g.caption, g.distance, g.live_correct) for g in gallery.worst] == [
        ("straight/four → round/six", 4, False),  # same distance: by label
        ("round/zero → straight/one", 4, True),
    ]
    assert [g.caption for g in gallery.sensible] == [
        "straight/one → straight",  # stopped at its parent: closest to the truth first
        "round/six → round/zero",
    ]
    assert all(g.thumbnail and g.thumbnail.startswith("data:image/png;base64,")
               for g in gallery.images)


@pytest.mark.parametrize(("size", "expected"), [((8, 8), (96, 96)), ((400, 200), (96, 48))])
def test_thumbnails_fit_the_box(tmp_path: Path, size: tuple[int, int], expected: tuple) -> None:
    path = tmp_path / "x.png"
    Image.new("L", size, 128).save(path)
    assert decoded(thumbnail(path)).size == expected


def test_small_images_are_enlarged_without_blurring(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    image = Image.new("L", (2, 1), 0)
    image.putpixel((1, 0), 255)
    image.save(path)
    big = decoded(thumbnail(path, size=8)).convert("L")
    assert sorted(set(big.getdata())) == [0, 255]  # nearest neighbour: no grey in between


@pytest.mark.parametrize("content", [None, b"not an image"])
def test_unreadable_images_have_no_thumbnail(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "x.png"
    if content is not None:
        path.write_bytes(content)
    assert thumbnail(path) is None


def test_the_gallery_is_capped(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    many = pd.concat([load_outcomes(paths)] * 10, ignore_index=True)
    many["id"] = [f"{1000 + i:064x}" for i in range(len(many))]
    gallery = build_gallery(paths, taxonomy(), many)
    assert len(gallery.worst) == MAX_WORST
    assert len(gallery.images) == MAX_IMAGES
    assert all(g.thumbnail is None for g in gallery.images)  # ids not in the manifest


def test_card_shows_the_worst_mistake_with_its_image(tmp_path: Path) -> None:
    paths = write_inputs(tmp_path)
    (paths.root / stored(2)).unlink()  # one sensibly wrong image went missing
    write_model_card(paths, taxonomy(), pdf=None)
    html = paths.model_card.read_text()
    mistakes = re.search(r'<section id="mistakes".*?</section>', html, re.S).group()
    worst = thumbnail(paths.root / stored(5))  # four read as six: distance 4
    assert worst is not None and worst in mistakes
    assert "straight/four → round/six" in mistakes
    assert mistakes.index(worst) < mistakes.index("straight/four → round/six")
    assert f"image not found: {stored(2)}" in mistakes
    assert "The challenger gets 4 of 7 test images wrong; live got 1 wrong." in mistakes
    assert len(re.findall(r'<img src="data:image/png', mistakes)) == 3
