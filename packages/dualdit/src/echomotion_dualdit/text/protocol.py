"""What the pipeline and the trainer need from a text encoder: prompts → per-token states.

Dimension legend: ``B`` prompts, ``L`` padded length (``max_length``), ``Dt`` encoder width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class TextEncoder(Protocol):
    """Prompts → ``(B, L, Dt)`` token states, padded to ``L = max_length`` with zero vectors
    (Wan's convention: the padding is attended, as zeros; the null condition is ``encode([""])``)."""

    @property
    def dim(self) -> int: ...

    @property
    def max_length(self) -> int: ...

    def encode(self, prompts: Sequence[str]) -> Tensor:
        """``B`` prompts → ``(B, max_length, dim)``."""
        ...
