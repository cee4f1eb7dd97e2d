"""Text encoders: prompts → the dual DiT's ``encoder_hidden_states``."""

from echomotion_dualdit.text.minilm import MiniLMTextEncoder, load_tokenizer, minilm_path
from echomotion_dualdit.text.protocol import TextEncoder
from echomotion_dualdit.text.umt5 import UMT5TextEncoder

__all__ = ["MiniLMTextEncoder", "TextEncoder", "UMT5TextEncoder", "load_tokenizer", "minilm_path"]
