"""The vehicle sample: drawn cars (and things that are not cars), one set per car.

Nothing is downloaded: every image is drawn with PIL (:mod:`.drawing`), deterministically
from the seed. What a class looks like follows its place in the taxonomy
(``conf/taxonomy/vehicles.yaml``: image -> car / not_a_car -> make -> model -> variant):

- the root's inner child is the cars; its leaf children are things that are not cars
  (bicycles, houses, trees, buses, road signs);
- a make's place under the cars sets its colour family, its lights and its glass tint
  (one car in ten is white, silver, grey or black, as on any street: then only the
  lights and the glass tell its make);
- a model's place under its make sets the body (sedan, hatch, suv, pickup, coupe);
- a variant's place under its model sets one detail (a stripe, a two-tone roof, a roof
  rack, a rear wing, light rims, or none); a leaf model shows any detail.

Each car is photographed 2-3 times (one ``set_id``): one place, one source, one day,
but another side, distance, tilt and light. Learnable at 32 px, not trivially.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from taxonomist.config import DataConfig
from taxonomist.data.samples.drawing import (
    BODIES,
    DETAILS,
    NOT_CARS,
    Car,
    Scene,
    View,
    hsv,
    photograph,
)
from taxonomist.data.samples.folder import MANIFEST_COLUMNS, clear_folder
from taxonomist.errors import DataError
from taxonomist.taxonomy import Taxonomy

BODY_ORDER = ("sedan", "hatch", "suv", "pickup", "coupe")
ACCENTS = ((250, 240, 170), (255, 255, 255), (255, 170, 60), (150, 210, 255))
GLASS = ((60, 80, 100), (120, 150, 170), (40, 50, 60))
NEUTRALS = (0.92, 0.75, 0.5, 0.15)  # white, silver, grey, black
# A neutral car's make shows only in its lights and glass, under two pixels at 32 px when
# a quarter of the cars were neutral: the make of one car in four was near invisible.
NEUTRAL_SHARE = 0.1
SOURCES = ("dealer-lot", "street-cam", "auction", "owner-upload", "press-kit")
FIRST_DAY, DAYS = date(2024, 1, 8), 240
DEFAULT_SETS = 25  # cars per leaf class when data.per_class is null
NOT_A_CAR_SHARE = 10  # not-cars are this many times as many sets, shared by their leaves


@dataclass(frozen=True)
class Look:
    """What a leaf class fixes about its images; None: anything, drawn per set."""

    label: str
    make: int | None = None  # place under the cars; None: not a car
    makes: int = 1  # how many makes there are (their colours share the hue circle)
    body: str | None = None
    detail: str | None = None
    not_car: str | None = None  # one NOT_CARS kind; None with make None: any kind


def write_vehicles(data: DataConfig, taxonomy: Taxonomy, seed: int, out_dir: Path) -> int:
    """Draw the sample for ``taxonomy`` as PNG files plus ``data.manifest`` in ``out_dir``.

    Args:
        data: ``per_class`` is the number of cars per leaf class (null: 25); the
            not-cars get ten times as many, shared by their classes.
        taxonomy: the tree to draw (its shape is described in the module docstring).
        seed: the same seed gives byte-identical files.
        out_dir: cleared first; refuses to delete files a sample did not write.

    Returns:
        The number of images written (about 2.5 per set).

    Raises:
        DataError: the taxonomy is not shaped like the vehicle sample, or ``out_dir``
            holds files this function did not write.
    """
    looks = looks_for(taxonomy)
    clear_folder(out_dir, data.manifest, {look.label for look in looks})
    rng = np.random.default_rng(seed)
    sets = data.per_class or DEFAULT_SETS
    not_cars = sum(look.make is None for look in looks)
    per_not_car = -(-sets * NOT_A_CAR_SHARE // not_cars)  # rounded up
    objects = [look for look in looks
               for _ in range(sets if look.make is not None else per_not_car)]
    rows: list[dict[str, str]] = []
    for number, look in enumerate(tqdm(objects, desc="sample", unit="set")):
        rows += _write_set(look, f"set-{number:05d}", rng, out_dir)
    manifest = pd.DataFrame(rows, columns=list(MANIFEST_COLUMNS))
    manifest.to_csv(out_dir / data.manifest, index=False)
    return len(manifest)


def looks_for(taxonomy: Taxonomy) -> list[Look]:
    """One :class:`Look` per leaf, from its place in the tree.

    Raises:
        DataError: the root has no single inner child (the cars), or a leaf is deeper
            than a variant.
    """
    root = taxonomy.root
    inner = [c for c in taxonomy.children[root] if taxonomy.children[c]]
    if len(inner) != 1:
        raise DataError(
            f"{taxonomy.source}: the vehicle sample needs the root '{root}' to have exactly "
            f"one inner child (the cars), found {inner or 'none'}; use "
            "conf/taxonomy/vehicles.yaml or a tree of that shape"
        )
    cars = inner[0]
    others = [c for c in taxonomy.children[root] if c != cars]
    looks = [Look(leaf, not_car=NOT_CARS[i % len(NOT_CARS)] if len(others) > 1 else None)
             for i, leaf in enumerate(others)]
    return looks + [_car_look(taxonomy, cars, leaf) for leaf in _leaves_under(taxonomy, cars)]


def _car_look(taxonomy: Taxonomy, cars: str, leaf: str) -> Look:
    path = taxonomy.path(leaf)
    below = path[path.index(cars) + 1:]  # make, model, variant (the last two optional)
    if len(below) > 3:
        raise DataError(
            f"{taxonomy.source}: '{leaf}' is {len(below)} levels below '{cars}'; the vehicle "
            "sample draws make -> model -> variant, at most 3 levels"
        )
    place = [taxonomy.children[taxonomy.parent[n]].index(n) for n in below]
    body = BODY_ORDER[place[1] % len(BODY_ORDER)] if len(place) > 1 else None
    detail = DETAILS[(place[1] + 2 * place[2]) % len(DETAILS)] if len(place) > 2 else None
    makes = len(taxonomy.children[cars])
    return Look(leaf, make=place[0], makes=makes, body=body, detail=detail)


def _leaves_under(taxonomy: Taxonomy, node: str) -> list[str]:
    return [n for n in taxonomy.nodes if not taxonomy.children[n] and node in taxonomy.path(n)]


def _write_set(look: Look, set_id: str, rng: np.random.Generator, out_dir: Path
               ) -> list[dict[str, str]]:
    """Photograph one car (or not-car) 2-3 times; the views share place, source and day."""
    if look.make is None:
        subject: Car | str = look.not_car or NOT_CARS[rng.integers(len(NOT_CARS))]
    else:
        subject = _car(look, look.make, rng)
    scene, source = _scene(rng), SOURCES[rng.integers(len(SOURCES))]
    taken_at = (FIRST_DAY + timedelta(days=int(rng.integers(DAYS)))).isoformat()
    folder = out_dir / look.label
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for view in range(int(rng.integers(2, 4))):
        path = Path(look.label) / f"{set_id}-{view}.png"
        photograph(subject, scene, _view(rng), rng).save(out_dir / path)
        rows.append({"path": path.as_posix(), "label": look.label, "source": source,
                     "set_id": set_id, "taken_at": taken_at})
    return rows


def _car(look: Look, make: int, rng: np.random.Generator) -> Car:
    hue = make / look.makes
    if rng.random() < NEUTRAL_SHARE:
        paint = hsv(0, 0, NEUTRALS[rng.integers(len(NEUTRALS))] + rng.uniform(-.05, .05))
    else:
        paint = hsv(hue + rng.uniform(-.03, .03), rng.uniform(.55, .95), rng.uniform(.45, .95))
    body = look.body or BODY_ORDER[rng.integers(len(BODIES))]
    detail = look.detail or DETAILS[rng.integers(len(DETAILS))]
    return Car(body, detail, paint, ACCENTS[make % len(ACCENTS)], GLASS[make % len(GLASS)])


def _scene(rng: np.random.Generator) -> Scene:
    sky = [hsv(.58 + rng.uniform(-.04, .04), rng.uniform(.1, .5), rng.uniform(.7, .98)),
           hsv(0, 0, rng.uniform(.6, .85)),  # overcast
           hsv(.07 + rng.uniform(-.03, .03), rng.uniform(.3, .6), rng.uniform(.7, .95))][
        rng.integers(3)]
    ground = [hsv(0, 0, rng.uniform(.25, .55)), hsv(.28, rng.uniform(.35, .6), .45),
              hsv(.11, .35, rng.uniform(.5, .75))][rng.integers(3)]
    clutter = tuple(
        (("pole", "block", "tree")[rng.integers(3)], float(rng.uniform(-.1, 1)),
         float(rng.uniform(.15, .5)), hsv(rng.random(), rng.uniform(0, .6), rng.uniform(.2, .9)))
        for _ in range(int(rng.integers(0, 4)))
    )
    clouds = tuple((float(rng.uniform(-.1, .9)), float(rng.uniform(0, .7)),
                    float(rng.uniform(.1, .35))) for _ in range(int(rng.integers(0, 4))))
    return Scene(sky, ground, float(rng.uniform(.4, .72)), clutter,
                 float(rng.uniform(0, .6)), clouds)


def _view(rng: np.random.Generator) -> View:
    return View(
        mirrored=bool(rng.random() < 0.5),
        scale=float(rng.uniform(.8, 1.05)),
        dx=float(rng.uniform(-.07, .07)),
        dy=float(rng.uniform(-.04, .04)),
        angle=float(rng.uniform(-5, 5)),
        light=float(rng.uniform(.8, 1.15)),
        contrast=float(rng.uniform(.85, 1.15)),
        blur=float((0, 0, .5, .8)[rng.integers(4)]),
        noise_seed=int(rng.integers(2**31)),
    )
