"""Looks of the synthetic world — clothing, skin, backdrop — and the caption parts that name them.

The renderer paints exactly the colours named here, so the appearance and background parts of
a caption are true of the video.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "BACKDROP_COLORS",
    "CLOTH_COLORS",
    "FLOOR_COLORS",
    "SKIN_TONES",
    "Appearance",
    "Backdrop",
    "sample_appearance",
    "sample_backdrop",
]

RGB = tuple[int, int, int]

CLOTH_COLORS: dict[str, RGB] = {
    "red": (200, 40, 40),
    "blue": (40, 80, 210),
    "green": (40, 160, 60),
    "yellow": (230, 200, 40),
    "white": (235, 235, 235),
    "black": (30, 30, 30),
    "grey": (128, 128, 128),
    "orange": (240, 130, 30),
    "purple": (130, 50, 170),
    "pink": (240, 130, 180),
    "brown": (120, 75, 40),
}
BACKDROP_COLORS: dict[str, RGB] = {
    "light blue": (150, 190, 230),
    "beige": (220, 205, 170),
    "light green": (170, 215, 160),
    "pale yellow": (240, 230, 160),
    "light grey": (200, 200, 200),
    "dark blue": (35, 45, 95),
    "dark grey": (70, 70, 75),
    "lavender": (190, 170, 220),
}
FLOOR_COLORS: dict[str, RGB] = {
    "grey": (110, 110, 110),
    "wooden": (150, 105, 60),
    "green": (70, 120, 60),
    "white": (225, 225, 225),
    "dark": (45, 45, 50),
}
SKIN_TONES: tuple[RGB, ...] = ((241, 205, 170), (224, 172, 130), (180, 125, 85), (120, 80, 55))
SHOE_COLOR: RGB = (35, 30, 30)


def _a(phrase: str) -> str:
    """The phrase with its indefinite article."""
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _distance(a: RGB, b: RGB) -> float:
    return sum((x - y) ** 2 for x, y in zip(a, b, strict=True)) ** 0.5


@dataclass(frozen=True)
class Appearance:
    shirt: str
    trousers: str
    long_sleeves: bool
    skin: RGB
    build: str  # "tall", "short" or "" (from β₀)

    @property
    def shirt_rgb(self) -> RGB:
        return CLOTH_COLORS[self.shirt]

    @property
    def trousers_rgb(self) -> RGB:
        return CLOTH_COLORS[self.trousers]

    def caption(self) -> str:
        shirt = f"{self.shirt} long-sleeved shirt" if self.long_sleeves else f"{self.shirt} t-shirt"
        who = f"{self.build} person" if self.build else "person"
        return f"{_a(who)} in {_a(shirt)} and {self.trousers} trousers"


@dataclass(frozen=True)
class Backdrop:
    wall: str
    floor: str

    @property
    def wall_rgb(self) -> RGB:
        return BACKDROP_COLORS[self.wall]

    @property
    def floor_rgb(self) -> RGB:
        return FLOOR_COLORS[self.floor]

    def caption(self) -> str:
        return f"in front of a plain {self.wall} wall, on {_a(self.floor)} floor"


def sample_backdrop(rng: random.Random) -> Backdrop:
    wall = rng.choice(sorted(BACKDROP_COLORS))
    floors = [
        f for f in sorted(FLOOR_COLORS) if _distance(FLOOR_COLORS[f], BACKDROP_COLORS[wall]) > 60
    ]
    return Backdrop(wall=wall, floor=rng.choice(floors))


def sample_appearance(rng: random.Random, backdrop: Backdrop, beta0: float) -> Appearance:
    """Clothes that stand out from the backdrop (so the caption's colours are visible)."""
    far = [
        c
        for c in sorted(CLOTH_COLORS)
        if min(
            _distance(CLOTH_COLORS[c], backdrop.wall_rgb),
            _distance(CLOTH_COLORS[c], backdrop.floor_rgb),
        )
        > 90
    ]
    shirt = rng.choice(far)
    trousers = rng.choice([c for c in far if c != shirt])
    build = "tall" if beta0 > 1.0 else "short" if beta0 < -1.0 else ""
    return Appearance(
        shirt=shirt,
        trousers=trousers,
        long_sleeves=rng.random() < 0.5,
        skin=rng.choice(SKIN_TONES),
        build=build,
    )
