"""Drawing the vehicle sample: a car (or something else) on a street, with PIL only.

Everything is drawn on a canvas four times the output size and reduced, which smooths
the edges the way a camera would. Shapes are in car units: ``u`` along the car from its
rear (0) to its front (1), ``v`` down from the top of its box (0) to the ground (1).
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

OUT = 64  # pixels of a written image
SUPER = 4  # drawn at this multiple, then reduced
Point = tuple[float, float]
RGB = tuple[int, int, int]

# Body and cabin outlines per body type, in car units (cabin = glass plus pillars).
BODIES: dict[str, tuple[list[Point], list[Point], float]] = {
    "sedan": ([(0, .45), (.06, .40), (.94, .42), (1, .50), (1, .78), (0, .78)],
              [(.22, .42), (.32, .14), (.64, .14), (.78, .42)], .11),
    "hatch": ([(.04, .40), (.90, .43), (.96, .52), (.96, .78), (.04, .78)],
              [(.05, .41), (.12, .12), (.58, .12), (.74, .43)], .11),
    "suv": ([(0, .34), (1, .38), (1, .80), (0, .80)],
            [(.04, .35), (.08, .05), (.68, .05), (.84, .38)], .14),
    "pickup": ([(0, .46), (1, .46), (1, .80), (0, .80)],
               [(.46, .46), (.50, .12), (.72, .12), (.84, .46)], .13),
    "coupe": ([(0, .52), (.12, .46), (.88, .48), (1, .56), (1, .80), (0, .80)],
              [(.30, .48), (.44, .24), (.58, .24), (.80, .48)], .11),
}
DETAILS = ("base", "stripe", "duo", "rack", "wing", "rims")
NOT_CARS = ("bicycle", "house", "tree", "bus", "sign")


@dataclass(frozen=True)
class Car:
    """One car as photographed: what the classes decide, plus its own colours."""

    body: str
    detail: str
    paint: RGB
    accent: RGB  # the make's badge and lights
    glass: RGB


@dataclass(frozen=True)
class Scene:
    """Where the object stands: sky, ground, the horizon and what stands behind."""

    sky: RGB
    ground: RGB
    horizon: float  # share of the height
    clutter: tuple[tuple[str, float, float, RGB], ...]  # (kind, x, height, colour)
    haze: float = 0.0  # how much lighter the sky gets towards the horizon (0..1)
    clouds: tuple[tuple[float, float, float], ...] = ()  # (x, y, size), shares of the side


@dataclass(frozen=True)
class View:
    """How one photo of the set differs: facing, size, place, tilt, light."""

    mirrored: bool
    scale: float
    dx: float
    dy: float
    angle: float
    light: float
    contrast: float
    blur: float
    noise_seed: int


def hsv(h: float, s: float, v: float) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0), 1), min(max(v, 0), 1))
    return int(r * 255), int(g * 255), int(b * 255)


def photograph(subject: Car | str, scene: Scene, view: View, rng: np.random.Generator
               ) -> Image.Image:
    """One RGB photo, OUT x OUT: the scene, the subject (a car or a NOT_CARS kind), the view."""
    size = OUT * SUPER
    image = Image.new("RGB", (size, size), scene.sky)
    draw = ImageDraw.Draw(image)
    horizon = scene.horizon * size
    _sky(draw, scene, size, horizon)
    draw.rectangle([0, horizon, size, size], fill=scene.ground)
    for kind, x, height, colour in scene.clutter:
        _clutter(draw, kind, x * size, horizon, height * size, colour)
    length = size * 0.78 * view.scale
    left = (size - length) / 2 + view.dx * size
    ground = horizon + (size - horizon) * 0.55 + view.dy * size
    frame = _Frame(left, ground - length * 0.5, length, view.mirrored)
    if isinstance(subject, Car):
        _car(draw, frame, subject)
    else:
        _not_a_car(draw, frame, subject, rng)
    return _as_taken(image, view)


@dataclass(frozen=True)
class _Frame:
    """Car units to canvas pixels; a mirrored frame faces the other way."""

    left: float
    top: float
    length: float
    mirrored: bool

    def at(self, u: float, v: float) -> Point:
        u = 1 - u if self.mirrored else u
        return self.left + u * self.length, self.top + v * self.length * 0.5

    def poly(self, points: list[Point]) -> list[Point]:
        return [self.at(u, v) for u, v in points]

    def box(self, u0: float, v0: float, u1: float, v1: float) -> list[float]:
        (x0, y0), (x1, y1) = self.at(u0, v0), self.at(u1, v1)
        return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]

    def radius(self, r: float) -> float:
        return r * self.length


def _car(draw: ImageDraw.ImageDraw, f: _Frame, car: Car) -> None:
    body, cabin, wheel = BODIES[car.body]
    draw.polygon(f.poly(cabin), fill=car.paint)
    draw.polygon(f.poly(_inset(cabin, 0.03)), fill=car.glass)
    top = min(v for _, v in cabin)
    pillar = sum(u for u, _ in cabin) / len(cabin)
    draw.line([f.at(pillar, top), f.at(pillar, cabin[0][1])], fill=car.paint,
              width=_px(f, .025))
    draw.polygon(f.poly(body), fill=car.paint)
    bottom = max(v for _, v in body)
    draw.rectangle(f.box(.88, .47, .99, .60), fill=car.accent)  # the make's lights
    draw.rectangle(f.box(.01, .50, .05, .56), fill=(170, 20, 20))  # rear light
    _detail(draw, f, car, top, bottom)
    hub = (225, 225, 225) if car.detail == "rims" else (90, 90, 95)
    hub_share = 0.65 if car.detail == "rims" else 0.35
    for u in (.2, .8):
        cx, cy = f.at(u, bottom)
        r = f.radius(wheel)
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(25, 25, 28))
        r *= hub_share
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=hub)


def _detail(draw: ImageDraw.ImageDraw, f: _Frame, car: Car, top: float, bottom: float) -> None:
    """The variant's detail, drawn two or more pixels thick at 32 px so that it survives
    the reduction a node's image size makes (at the sample's first sizes, a one-pixel
    stripe or roof rack left its variant nodes at chance)."""
    dark = (30, 30, 34)
    if car.detail == "stripe":
        draw.rectangle(f.box(0, bottom - .30, 1, bottom - .14), fill=_contrast(car.paint))
    elif car.detail == "duo":  # a two-tone body: its lower part in the contrast colour
        draw.rectangle(f.box(0, bottom - .20, 1, bottom), fill=_contrast(car.paint))
    elif car.detail == "rack":  # a roof box
        draw.rectangle(f.box(.22, top - .20, .72, top - .01), fill=dark)
    elif car.detail == "wing":
        rear = [v for u, v in BODIES[car.body][0] if u < .1]
        v = min(rear) - .02
        draw.rectangle(f.box(-.02, v - .24, .2, v - .10), fill=dark)
        draw.rectangle(f.box(.06, v - .12, .12, v), fill=dark)


def _not_a_car(draw: ImageDraw.ImageDraw, f: _Frame, kind: str, rng: np.random.Generator
               ) -> None:
    colour = hsv(rng.random(), rng.uniform(.3, .9), rng.uniform(.3, .9))
    if kind == "bicycle":
        r = f.radius(.16)
        for u in (.2, .75):
            cx, cy = f.at(u, .8)
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=(30, 30, 30), width=_px(f, .02))
        draw.line(f.poly([(.2, .8), (.45, .45), (.75, .8), (.4, .8), (.2, .8)]), fill=colour,
                  width=_px(f, .03))
    elif kind == "house":
        draw.rectangle(f.box(.15, .1, .85, .8), fill=colour)
        draw.polygon(f.poly([(.1, .1), (.5, -.5), (.9, .1)]), fill=_contrast(colour))
        draw.rectangle(f.box(.42, .45, .58, .8), fill=(70, 45, 30))
    elif kind == "tree":
        draw.rectangle(f.box(.45, .3, .55, .8), fill=(90, 60, 35))
        draw.ellipse(f.box(.2, -.5, .8, .4), fill=hsv(.3 + rng.uniform(-.05, .05), .6, .5))
    elif kind == "bus":  # long, tall, a row of windows: the hard negative
        draw.rectangle(f.box(-.1, .05, 1.1, .8), fill=colour)
        for u in np.linspace(-.02, .95, 6):
            draw.rectangle(f.box(u, .15, u + .12, .4), fill=(170, 200, 215))
    else:  # a road sign on a pole
        draw.rectangle(f.box(.47, .1, .53, .8), fill=(120, 120, 120))
        draw.ellipse(f.box(.3, -.4, .7, .2), fill=colour, outline=(250, 250, 250),
                     width=_px(f, .02))


def _sky(draw: ImageDraw.ImageDraw, scene: Scene, size: int, horizon: float) -> None:
    """Bands lightening towards the horizon, then the clouds: no two skies hash alike."""
    bands = 8
    for i in range(bands):
        mix = scene.haze * i / (bands - 1)
        colour = tuple(int(c + (255 - c) * mix) for c in scene.sky)
        draw.rectangle([0, horizon * i / bands, size, horizon * (i + 1) / bands], fill=colour)
    for x, y, extent in scene.clouds:
        w, h = extent * size, extent * size * 0.45
        draw.ellipse([x * size, y * horizon, x * size + w, y * horizon + h],
                     fill=(245, 245, 248))


def _clutter(draw: ImageDraw.ImageDraw, kind: str, x: float, horizon: float, height: float,
             colour: RGB) -> None:
    if kind == "pole":
        draw.rectangle([x, horizon - height, x + height * .06, horizon + 4], fill=colour)
    elif kind == "block":
        draw.rectangle([x, horizon - height, x + height * .8, horizon + 2], fill=colour)
    else:  # a distant tree
        draw.ellipse([x, horizon - height, x + height * .6, horizon - height * .3], fill=colour)


def _as_taken(image: Image.Image, view: View) -> Image.Image:
    """Reduce, tilt, light, blur and sensor noise."""
    small = image.reduce(SUPER).rotate(view.angle, resample=Image.Resampling.BILINEAR,
                                       fillcolor=image.getpixel((0, 0)))
    small = ImageEnhance.Brightness(small).enhance(view.light)
    small = ImageEnhance.Contrast(small).enhance(view.contrast)
    if view.blur > 0:
        small = small.filter(ImageFilter.GaussianBlur(view.blur))
    pixels = np.asarray(small, dtype=np.float32)
    pixels += np.random.default_rng(view.noise_seed).normal(0, 5, pixels.shape)
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _contrast(colour: RGB) -> RGB:
    """White on a dark colour, near-black on a light one."""
    return (235, 235, 235) if sum(colour) < 3 * 128 else (30, 30, 34)


def _inset(points: list[Point], by: float) -> list[Point]:
    """The polygon shrunk towards its centre by ``by`` car units (the glass in a cabin)."""
    cu = sum(u for u, _ in points) / len(points)
    cv = sum(v for _, v in points) / len(points)
    return [(u + by * np.sign(cu - u), v + by * np.sign(cv - v)) for u, v in points]


def _px(f: _Frame, width: float) -> int:
    return max(1, int(f.radius(width)))
