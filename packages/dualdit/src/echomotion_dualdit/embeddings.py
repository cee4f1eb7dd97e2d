"""Conditioning embeddings: the task id MLP, and Wan's time embedding called once per modality.

Dimension legend: ``B`` batch, ``D`` hidden.
"""

from __future__ import annotations

from enum import IntEnum

import torch
from diffusers.models.transformers.transformer_wan import WanTimeTextImageEmbedding
from torch import Tensor, nn


class Task(IntEnum):
    """The learned task ids (DESIGN.md §5): which modalities are generated, which are given."""

    JOINT = 0  # text → video + motion
    M2V = 1  # motion (+ text) → video
    V2M = 2  # video → motion
    MOTION_ONLY = 3  # text → motion, no video (phase 1)


class TaskEmbedding(nn.Module):
    """A learned vector per task through a small MLP; ``(B,)`` long → ``(B, D)``.

    The last layer starts at zero, so a model converted from Wan computes exactly Wan's video
    function until training moves it.
    """

    def __init__(self, num_tasks: int, dim: int) -> None:
        super().__init__()
        self.num_tasks = num_tasks
        self.embedding = nn.Embedding(num_tasks, dim)
        out = nn.Linear(dim, dim)
        nn.init.zeros_(out.weight)
        nn.init.zeros_(out.bias)
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), out)

    def forward(self, task: Tensor) -> Tensor:
        return self.mlp(self.embedding(task))  # (B, D)


def embed_timestep(
    embedder: WanTimeTextImageEmbedding, timestep: Tensor, dtype: torch.dtype
) -> tuple[Tensor, Tensor]:
    """Wan's time embedding for one modality, exactly as ``WanTimeTextImageEmbedding.forward``.

    Args:
        embedder: the model's (shared) ``condition_embedder``.
        timestep: ``(B,)`` Wan timesteps in ``[0, 1000]`` (0 = clean).
        dtype: the dtype Wan casts the embedding to (that of the text states it was given).

    Returns:
        ``temb (B, D)`` for the output head and ``timestep_proj (B, 6, D)`` for the blocks' adaLN.
    """
    freqs = embedder.timesteps_proj(timestep)  # (B, freq_dim) fp32
    embedder_dtype = next(iter(embedder.time_embedder.parameters())).dtype
    if freqs.dtype != embedder_dtype and embedder_dtype != torch.int8:
        freqs = freqs.to(embedder_dtype)
    temb = embedder.time_embedder(freqs).to(dtype)  # (B, D)
    timestep_proj = embedder.time_proj(embedder.act_fn(temb))  # (B, 6·D)
    return temb, timestep_proj.unflatten(1, (6, -1))  # (B, D), (B, 6, D)
