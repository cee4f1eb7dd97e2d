"""UMT5-XXL (Wan's text encoder) through transformers, from a local folder; 512 tokens as Wan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from transformers import AutoTokenizer, UMT5EncoderModel

from echomotion_dualdit.text.encoding import encode_zero_padded

WAN_TEXT_LENGTH = 512


class UMT5TextEncoder:
    """Wan's prompt embedding: UMT5 encoder states ``(B, 512, 4096)``, zero-padded."""

    def __init__(
        self, model: UMT5EncoderModel, tokenizer: Any, *, max_length: int = WAN_TEXT_LENGTH
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self._max_length = max_length

    @classmethod
    def from_pretrained(
        cls,
        path: str | Path,
        *,
        tokenizer_path: str | Path | None = None,
        torch_dtype: torch.dtype = torch.float32,
        device: torch.device | str = "cpu",
        max_length: int = WAN_TEXT_LENGTH,
    ) -> UMT5TextEncoder:
        """Load from local folders: a Wan pipeline folder (``text_encoder/`` + ``tokenizer/``), or an
        encoder folder with ``tokenizer_path`` (default: the same folder if it holds a tokenizer,
        else the pipeline's sibling ``../tokenizer``). Never the hub."""
        root = Path(path)
        encoder_dir = (
            root / "text_encoder" if (root / "text_encoder" / "config.json").is_file() else root
        )
        if not (encoder_dir / "config.json").is_file():
            raise ValueError(
                f"path must be a local UMT5 encoder folder (config.json) or a Wan pipeline folder, got {str(path)!r}"
            )
        if tokenizer_path is None:
            tokenizer_path = _tokenizer_dir(root, encoder_dir)
        model: Any = UMT5EncoderModel.from_pretrained(str(encoder_dir), local_files_only=True)
        tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_path), local_files_only=True)
        return cls(model.to(device=device, dtype=torch_dtype), tokenizer, max_length=max_length)

    @property
    def dim(self) -> int:
        return int(self.model.config.d_model)

    @property
    def max_length(self) -> int:
        return self._max_length

    def encode(self, prompts: Sequence[str]) -> Tensor:
        return encode_zero_padded(
            self.model, self.tokenizer, prompts, self._max_length
        )  # (B, 512, Dt)


_TOKENIZER_FILES = ("tokenizer.json", "spiece.model", "tokenizer_config.json")


def _tokenizer_dir(root: Path, encoder_dir: Path) -> Path:
    """Where a Wan folder keeps the tokenizer: ``root/tokenizer``, the encoder folder itself, or
    (when ``root`` is a pipeline's ``text_encoder/``) the sibling ``tokenizer/``."""
    if (root / "tokenizer").is_dir():
        return root / "tokenizer"
    sibling = encoder_dir.parent / "tokenizer"
    if not any((encoder_dir / n).is_file() for n in _TOKENIZER_FILES) and sibling.is_dir():
        return sibling
    return encoder_dir
