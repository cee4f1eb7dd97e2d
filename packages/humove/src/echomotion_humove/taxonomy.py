"""The HuMoVe category taxonomy: the paper's Table 2 (A.4), 9 major and 38 fine-grained categories.

The table in the paper's text is garbled by its extraction (two rows merged, one heading
misspelt); the mapping below is the one whose counts match the paper's 9 / 38.
"""

from __future__ import annotations

__all__ = [
    "MAJOR_CATEGORIES",
    "SUBCATEGORIES",
    "TAXONOMY",
    "major_of",
    "validate_category",
]

TAXONOMY: dict[str, tuple[str, ...]] = {
    "Urban & Outdoor": (
        "Archery", "Cycling", "Equestrian", "Highlining", "Motocross", "Parkour",
        "Rock Climbing", "Skateboarding", "Street Workout",
    ),
    "Water Sports": (
        "Kayaking", "Kitesurfing", "Paddleboarding", "Surfing", "Swimming", "Wakeboarding",
        "Windsurfing",
    ),
    "Athletics & Fitness": ("Athletics", "Olympics"),
    "Ball Sports": ("Basketball", "Golf", "Soccer", "Tennis", "Volleyball"),
    "Combat Sports": ("Boxing", "Judo", "MMA", "Taekwondo", "Wrestling", "Wushu"),
    "Dance & Artistic": ("Artistic Roller Skating", "Breakdancing", "Dancing"),
    "Gymnastics & Acrobatic": ("Gymnastics", "Trampoline"),
    "Ice & Snow Sports": ("Figure Skating", "Skiing & Snowboarding"),
    "General & Others": ("Daily Activity", "Other"),
}  # fmt: skip

MAJOR_CATEGORIES: tuple[str, ...] = tuple(TAXONOMY)
SUBCATEGORIES: tuple[str, ...] = tuple(s for subs in TAXONOMY.values() for s in subs)
_MAJOR_OF = {sub: major for major, subs in TAXONOMY.items() for sub in subs}

assert len(MAJOR_CATEGORIES) == 9 and len(SUBCATEGORIES) == 38 == len(_MAJOR_OF)


def major_of(subcategory: str) -> str:
    """The major category a fine-grained category belongs to."""
    try:
        return _MAJOR_OF[subcategory]
    except KeyError:
        raise ValueError(
            f"subcategory: {subcategory!r} is not one of the 38 fine-grained categories of "
            f"Table 2 ({', '.join(SUBCATEGORIES)})"
        ) from None


def validate_category(category: str | None, subcategory: str | None) -> None:
    """Raise ValueError unless (category, subcategory) is a pair of Table 2 (either may be None;
    a subcategory without a category is not allowed)."""
    if category is not None and category not in TAXONOMY:
        raise ValueError(
            f"category: {category!r} is not one of the 9 major categories of Table 2 "
            f"({', '.join(MAJOR_CATEGORIES)})"
        )
    if subcategory is None:
        return
    if category is None:
        raise ValueError(f"subcategory {subcategory!r} given without its category")
    if major_of(subcategory) != category:
        raise ValueError(
            f"subcategory: {subcategory!r} belongs to {major_of(subcategory)!r}, not to {category!r}"
        )
