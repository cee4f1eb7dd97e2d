"""The dual-modality DiT: Wan's video transformer plus a motion branch (paper §3.1, DESIGN.md §5).

Dimension legend:
    B   batch                      C   latent channels (video)
    F   latent frames (after temporal patching)
    H,W video patch grid (latent height / width over the spatial patch)
    Sv  video tokens = F·H·W        Tm  motion frames (never downsampled)
    S   motion slots per frame = 51 Sm  motion tokens = Tm·S
    P   motion parameters per frame = 235
    L   text tokens                 Dt  text-encoder width
    D   hidden = N·Hd               N   heads    Hd  head dim

Parameter names: everything Wan has sits where ``WanTransformer3DModel`` keeps it
(``patch_embedding``, ``condition_embedder``, ``blocks.{i}``, ``norm_out``, ``proj_out``,
``scale_shift_table``), so a Wan state dict loads unchanged. The motion branch adds
``motion_tokenizer``, ``blocks.{i}.motion`` (a ``WanTransformerBlock`` inside each dual layer,
:class:`~echomotion_dualdit.blocks.DualStreamBlock`), ``motion_norm_out``,
``motion_scale_shift_table``, ``motion_detokenizer``; ``task_embedder`` feeds both streams.
Checkpoints written before the motion blocks moved into their layers (``motion_blocks.{i}.*``)
load through :func:`~echomotion_dualdit.checkpoint.upgrade_legacy_keys`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from diffusers.models.normalization import FP32LayerNorm
from diffusers.models.transformers.transformer_wan import (
    WanTimeTextImageEmbedding,
    WanTransformer3DModel,
    WanTransformerBlock,
)
from torch import Tensor, nn

from echomotion_dualdit.blocks import DualStreamBlock
from echomotion_dualdit.embeddings import TaskEmbedding, embed_timestep
from echomotion_dualdit.presets import DualDiTConfig, preset
from echomotion_dualdit.processor import MVSRoPEAttnProcessor
from echomotion_motion_codec import MOTION_DIM, NUM_SLOTS, MotionDetokenizer, MotionTokenizer
from echomotion_mvsrope import DEFAULT_THETA, POSITION_MODES, motion_positions, video_positions

# diffusers class attributes, as WanTransformer3DModel sets them (fp32 for the time embedding,
# the adaLN tables and the norms when the rest is loaded in fp16/bf16).
_SKIP_LAYERWISE_CASTING = ["patch_embedding", "condition_embedder", "norm"]
_BLOCK_CLASSES = ["DualStreamBlock"]
_KEEP_IN_FP32 = ["time_embedder", "scale_shift_table", "norm1", "norm2", "norm3"]


@dataclass(frozen=True)
class DualDiTOutput:
    """The model's prediction (flow-matching velocity) for each modality it was given."""

    video: Tensor | None  # (B, C, F·pt, H·ph, W·pw), as the input video latents
    motion: Tensor | None  # (B, Tm, 235), in the normalized parameter space


def _resolve_dual_blocks(
    dual_blocks: list[int] | tuple[int, ...] | None, num_layers: int
) -> tuple[int, ...]:
    if dual_blocks is None:
        return tuple(range(num_layers))
    indices = tuple(int(i) for i in dual_blocks)
    bad = [i for i in indices if not 0 <= i < num_layers]
    if bad or len(set(indices)) != len(indices):
        raise ValueError(
            f"dual_blocks must be distinct block indices in [0, {num_layers}), got {list(dual_blocks)}"
        )
    return tuple(sorted(indices))


class DualDiT(ModelMixin, ConfigMixin):  # type: ignore[misc]
    """Video + motion diffusion transformer built from diffusers' Wan modules.

    Either modality may be absent in a forward (ICCFG's ∅): video alone equals Wan's output with
    the same weights; motion alone runs only the motion branch of the dual blocks.
    """

    _supports_gradient_checkpointing = True
    _skip_layerwise_casting_patterns = _SKIP_LAYERWISE_CASTING  # type: ignore[assignment]
    _no_split_modules = _BLOCK_CLASSES  # type: ignore[assignment]
    _keep_in_fp32_modules = _KEEP_IN_FP32  # type: ignore[assignment]
    _repeated_blocks = _BLOCK_CLASSES  # type: ignore[assignment]

    @register_to_config
    def __init__(
        self,
        patch_size: tuple[int, ...] | list[int] = (1, 2, 2),
        num_attention_heads: int = 12,
        attention_head_dim: int = 128,
        in_channels: int = 16,
        out_channels: int = 16,
        text_dim: int = 4096,
        freq_dim: int = 256,
        ffn_dim: int = 8960,
        num_layers: int = 30,
        cross_attn_norm: bool = True,
        eps: float = 1e-6,
        dual_blocks: list[int] | tuple[int, ...] | None = None,
        num_tasks: int = 4,
        rope_time_stride: float = 1.0,
        rope_mode: str = "mvs",
        rope_theta: float = DEFAULT_THETA,
        motion_mlp_dim: int | None = None,
        single_stream: bool = False,
    ) -> None:
        super().__init__()
        if len(patch_size) != 3:
            raise ValueError(f"patch_size must be (pt, ph, pw), got {patch_size!r}")
        if rope_mode not in POSITION_MODES:
            raise ValueError(f"rope_mode must be one of {POSITION_MODES}, got {rope_mode!r}")
        if not rope_time_stride > 0:
            raise ValueError(f"rope_time_stride must be > 0, got {rope_time_stride!r}")
        dim = num_attention_heads * attention_head_dim
        patch_3d = (int(patch_size[0]), int(patch_size[1]), int(patch_size[2]))
        self.dual_block_indices = _resolve_dual_blocks(dual_blocks, num_layers)
        self.kernel_backend: str | None = None  # None: echomotion_mvsrope decides by device
        self.gradient_checkpointing = False

        # Video branch: Wan's modules under Wan's names.
        self.patch_embedding = nn.Conv3d(in_channels, dim, kernel_size=patch_3d, stride=patch_3d)
        self.condition_embedder = WanTimeTextImageEmbedding(
            dim=dim, time_freq_dim=freq_dim, time_proj_dim=dim * 6, text_embed_dim=text_dim
        )
        # Each layer is one module (the unit FSDP shards and checkpointing recomputes): Wan's
        # block, holding the motion block beside it when the layer is dual.
        dual = set(self.dual_block_indices)
        self.blocks = nn.ModuleList(
            [
                DualStreamBlock(
                    dim,
                    ffn_dim,
                    num_attention_heads,
                    "rms_norm_across_heads",
                    cross_attn_norm,
                    eps,
                    dual=i in dual,
                    shared_weights=bool(single_stream),
                )
                for i in range(num_layers)
            ]
        )
        self.norm_out = FP32LayerNorm(dim, eps, elementwise_affine=False)
        self.proj_out = nn.Linear(dim, out_channels * math.prod(patch_size))
        self.scale_shift_table = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)

        # Motion branch: tokenizer in, a Wan-shaped block beside each dual video block, head out.
        self.motion_tokenizer = MotionTokenizer(dim, motion_mlp_dim)
        self.motion_norm_out = FP32LayerNorm(dim, eps, elementwise_affine=False)
        self.motion_scale_shift_table = nn.Parameter(torch.randn(1, 2, dim) / dim**0.5)
        self.motion_detokenizer = MotionDetokenizer(dim, motion_mlp_dim)

        self.task_embedder = TaskEmbedding(num_tasks, dim)
        self.set_kernel_backend(None)

    # ------------------------------------------------------------------ construction helpers
    @classmethod
    def from_config_dataclass(cls, config: DualDiTConfig) -> DualDiT:
        """Build from a typed :class:`DualDiTConfig` (random weights)."""
        return cls(**config.to_kwargs())

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> DualDiT:
        """Build a named preset (``tiny``, ``wan2.1-1.3b``, ``wan2.2-5b``) with random weights."""
        return cls.from_config_dataclass(preset(name).with_(**overrides))

    @classmethod
    def from_wan(
        cls,
        wan: WanTransformer3DModel | str | Path,
        *,
        dual_blocks: list[int] | tuple[int, ...] | None = None,
        **options: Any,
    ) -> DualDiT:
        """Convert a Wan diffusers transformer (see :func:`echomotion_dualdit.conversion.dual_from_wan`)."""
        from echomotion_dualdit.conversion import dual_from_wan

        return dual_from_wan(wan, dual_blocks=dual_blocks, **options)

    @classmethod
    def meta_skeleton(cls, **kwargs: Any) -> DualDiT:
        """An instance whose parameters are on the meta device (no memory, no init cost), ready
        for ``load_state_dict(..., assign=True)``; its few non-persistent buffers are real."""
        with torch.device("meta"):
            model = cls(**kwargs)
        # The tokenizer's slot-index buffers are not saved: build it for real (it is small).
        model.motion_tokenizer = MotionTokenizer(model.hidden_dim, model.dual_config.motion_mlp_dim)
        return model

    @classmethod
    def from_pretrained(  # type: ignore[override]
        cls,
        pretrained_model_name_or_path: str | Path,
        *,
        subfolder: str | None = None,
        torch_dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> DualDiT:
        """Load a model written by ``save_pretrained`` from a local directory, strictly.

        Every tensor the config implies must be in the checkpoint with its shape, and nothing
        else (:class:`~echomotion_dualdit.checkpoint.CheckpointMismatchError` otherwise).
        With ``torch_dtype`` fp16/bf16, ``_keep_in_fp32_modules`` stay fp32 as in diffusers.
        Returns the model in eval mode.
        """
        from echomotion_dualdit.checkpoint import check_shapes, checkpoint_shapes, load_state

        directory = Path(pretrained_model_name_or_path)
        directory = directory / subfolder if subfolder else directory
        if not (directory / "config.json").is_file():
            raise ValueError(
                f"pretrained_model_name_or_path must be a local folder with config.json, got {str(directory)!r}"
            )
        config = cls.load_config(str(directory))
        settings: Any = config  # a dict (diffusers' stubs say otherwise)
        # Checkpoints saved before the clean-sample and preconditioned heads went name their head.
        head = settings.pop("video_prediction", "velocity")
        if head != "velocity":
            raise ValueError(
                f"{directory}: video_prediction={head!r}; this DualDiT's video head predicts "
                "velocity only (the clean-sample and preconditioned heads were removed)"
            )
        init_kwargs = cls.extract_init_dict(config)[0]
        model = cls.meta_skeleton(**init_kwargs)
        expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        check_shapes(expected, checkpoint_shapes(directory), f"checkpoint {directory}")
        target = torch.device(device) if device is not None else torch.device("cpu")
        state = load_state(
            directory, torch_dtype=torch_dtype, keep_fp32=cls._keep_in_fp32_modules, device=target
        )
        model.load_state_dict(state, strict=True, assign=True)
        model.motion_tokenizer.to(target)  # its index buffers
        return model.eval()

    def set_kernel_backend(self, backend: str | None) -> None:
        """Pin the mvsrope backend (``"triton"``, ``"reference"``) or None (by device)."""
        self.kernel_backend = backend
        theta = float(self.dual_config.rope_theta)
        for layer in self.layers():
            layer.rope_theta, layer.kernel_backend = theta, backend
            for block in (layer, layer.motion):
                if block is not None:
                    block.attn1.set_processor(MVSRoPEAttnProcessor(theta=theta, backend=backend))  # type: ignore[arg-type]

    def layers(self) -> list[DualStreamBlock]:
        """The transformer layers in order (``blocks``), typed."""
        return list(self.blocks)  # type: ignore[arg-type]

    @property
    def motion_blocks(self) -> dict[int, WanTransformerBlock]:
        """Layer index → its motion block, for the dual layers that have one."""
        return {
            i: layer.motion for i, layer in enumerate(self.layers()) if layer.motion is not None
        }

    @property
    def hidden_dim(self) -> int:
        cfg = self.dual_config
        return cfg.num_attention_heads * cfg.attention_head_dim

    @property
    def dual_config(self) -> DualDiTConfig:
        """The registered config as a typed :class:`DualDiTConfig`."""
        raw: Any = self.config
        fields = {k: raw[k] for k in DualDiTConfig.__dataclass_fields__ if k in raw}
        fields["patch_size"] = tuple(fields["patch_size"])
        if fields.get("dual_blocks") is not None:
            fields["dual_blocks"] = tuple(fields["dual_blocks"])
        return DualDiTConfig(**fields)

    # ------------------------------------------------------------------ forward
    def forward(
        self,
        video: Tensor | None,
        motion: Tensor | None,
        video_timestep: Tensor | None,
        motion_timestep: Tensor | None,
        encoder_hidden_states: Tensor,
        task: Tensor,
    ) -> DualDiTOutput:
        """Predict the velocity of each given modality.

        Args:
            video: ``(B, C, F·pt, H·ph, W·pw)`` video latents, or None (absent).
            motion: ``(B, Tm, 235)`` normalized motion parameters, or None (absent).
            video_timestep: ``(B,)`` Wan timestep of the video (0 = clean condition); needed iff
                ``video`` is given.
            motion_timestep: ``(B,)`` timestep of the motion; needed iff ``motion`` is given.
            encoder_hidden_states: ``(B, L, Dt)`` text states (the null condition is the caller's
                embedding of the empty prompt).
            task: ``(B,)`` long task ids (:class:`~echomotion_dualdit.embeddings.Task`).

        Returns:
            :class:`DualDiTOutput` with ``video`` shaped like the input video and ``motion``
            ``(B, Tm, 235)``; None where the modality was absent.
        """
        batch = self._check_inputs(
            video, motion, video_timestep, motion_timestep, encoder_hidden_states, task
        )
        cfg = self.dual_config
        stride = float(cfg.rope_time_stride)
        text_dtype = encoder_hidden_states.dtype
        task_emb = self.task_embedder(task.to(self.task_embedder.embedding.weight.device))  # (B, D)

        grid_h = grid_w = 0
        video_tokens = motion_tokens = None
        video_temb = video_proj = video_pos = motion_temb = motion_proj = motion_pos = None
        if video is not None:
            assert video_timestep is not None
            p_t, p_h, p_w = cfg.patch_size
            frames, grid_h, grid_w = (
                video.shape[2] // p_t,
                video.shape[3] // p_h,
                video.shape[4] // p_w,
            )
            video_tokens = (
                self.patch_embedding(video).flatten(2).transpose(1, 2).contiguous()
            )  # (B, Sv, D)
            video_tokens = video_tokens + task_emb[:, None].to(video_tokens.dtype)  # (B, Sv, D)
            video_temb, video_proj = embed_timestep(
                self.condition_embedder, video_timestep, text_dtype
            )
            video_pos = video_positions(
                frames, grid_h, grid_w, time_stride=stride, device=video.device
            )  # (Sv, 3)
        if motion is not None:
            assert motion_timestep is not None
            num_frames = motion.shape[1]
            param = self.motion_tokenizer.slot_embedding
            motion_tokens = self.motion_tokenizer(motion.to(param.dtype)).flatten(
                1, 2
            )  # (B, Sm, D)
            motion_tokens = motion_tokens + task_emb[:, None].to(motion_tokens.dtype)  # (B, Sm, D)
            motion_temb, motion_proj = embed_timestep(
                self.condition_embedder, motion_timestep, text_dtype
            )
            # Without video the diagonal offset is irrelevant (RoPE is relative; motion sees only motion).
            motion_pos = motion_positions(
                num_frames,
                grid_h,
                grid_w,
                time_stride=stride,
                mode=cfg.rope_mode,
                device=motion.device,
            )  # (Sm, 3)
        text = self.condition_embedder.text_embedder(encoder_hidden_states)  # (B, L, D)

        for layer in self.blocks:
            args = (
                video_tokens,
                motion_tokens,
                text,
                video_proj,
                motion_proj,
                video_pos,
                motion_pos,
            )
            if torch.is_grad_enabled() and self.gradient_checkpointing:
                checkpoint: Any = self._gradient_checkpointing_func
                video_tokens, motion_tokens = checkpoint(layer, *args)
            else:
                video_tokens, motion_tokens = layer(*args)

        video_out = motion_out = None
        if video is not None and video_tokens is not None and video_temb is not None:
            video_out = self._video_head(video_tokens, video_temb, batch, video.shape[2:])
        if motion is not None and motion_tokens is not None and motion_temb is not None:
            motion_out = self._motion_head(motion_tokens, motion_temb, motion.shape[1])
        return DualDiTOutput(video=video_out, motion=motion_out)

    def _video_head(
        self, tokens: Tensor, temb: Tensor, batch: int, latent_shape: torch.Size
    ) -> Tensor:
        """Wan's output norm, modulation, projection and unpatchify: ``(B, Sv, D)`` → latents."""
        p_t, p_h, p_w = self.dual_config.patch_size
        frames, height, width = (
            latent_shape[0] // p_t,
            latent_shape[1] // p_h,
            latent_shape[2] // p_w,
        )
        shift, scale = (self.scale_shift_table + temb.unsqueeze(1)).chunk(
            2, dim=1
        )  # (B, 1, D) each
        tokens = (self.norm_out(tokens.float()) * (1 + scale) + shift).type_as(tokens)  # (B, Sv, D)
        patches = self.proj_out(tokens)  # (B, Sv, pt·ph·pw·C)
        patches = patches.reshape(
            batch, frames, height, width, p_t, p_h, p_w, -1
        )  # (B, F, H, W, pt, ph, pw, C)
        patches = patches.permute(0, 7, 1, 4, 2, 5, 3, 6)  # (B, C, F, pt, H, ph, W, pw)
        return patches.flatten(6, 7).flatten(4, 5).flatten(2, 3)  # (B, C, F·pt, H·ph, W·pw)

    def _motion_head(self, tokens: Tensor, temb: Tensor, num_frames: int) -> Tensor:
        """Output norm + modulation for motion, then the detokenizer: ``(B, Sm, D)`` → ``(B, Tm, 235)``."""
        shift, scale = (self.motion_scale_shift_table + temb.unsqueeze(1)).chunk(
            2, dim=1
        )  # (B, 1, D) each
        tokens = (self.motion_norm_out(tokens.float()) * (1 + scale) + shift).type_as(
            tokens
        )  # (B, Sm, D)
        return self.motion_detokenizer(tokens.unflatten(1, (num_frames, NUM_SLOTS)))  # (B, Tm, 235)

    # ------------------------------------------------------------------ validation
    def _check_inputs(
        self,
        video: Tensor | None,
        motion: Tensor | None,
        video_timestep: Tensor | None,
        motion_timestep: Tensor | None,
        encoder_hidden_states: Tensor,
        task: Tensor,
    ) -> int:
        cfg = self.dual_config
        if video is None and motion is None:
            raise ValueError("DualDiT.forward needs video or motion (or both); got neither")
        if not isinstance(encoder_hidden_states, Tensor) or encoder_hidden_states.dim() != 3:
            raise ValueError("encoder_hidden_states must be a tensor (B, L, text_dim)")
        batch = encoder_hidden_states.shape[0]
        if encoder_hidden_states.shape[-1] != cfg.text_dim:
            raise ValueError(
                f"encoder_hidden_states must be (B, L, {cfg.text_dim}), got {tuple(encoder_hidden_states.shape)}"
            )
        if video is not None:
            p_t, p_h, p_w = cfg.patch_size
            if video.dim() != 5 or video.shape[0] != batch or video.shape[1] != cfg.in_channels:
                raise ValueError(
                    f"video must be (B={batch}, C={cfg.in_channels}, F, h, w) latents, got {tuple(video.shape)}"
                )
            if video.shape[2] % p_t or video.shape[3] % p_h or video.shape[4] % p_w:
                raise ValueError(
                    f"video (F, h, w) = {tuple(video.shape[2:])} must be divisible by patch_size {tuple(cfg.patch_size)}"
                )
            _check_timestep(video_timestep, batch, "video_timestep", "video")
        elif video_timestep is not None:
            raise ValueError("video_timestep must be None when video is None")
        if motion is not None:
            if motion.dim() != 3 or motion.shape[0] != batch or motion.shape[2] != MOTION_DIM:
                raise ValueError(
                    f"motion must be (B={batch}, Tm, {MOTION_DIM}) normalized parameters, got {tuple(motion.shape)}"
                )
            _check_timestep(motion_timestep, batch, "motion_timestep", "motion")
        elif motion_timestep is not None:
            raise ValueError("motion_timestep must be None when motion is None")
        if not isinstance(task, Tensor) or task.shape != (batch,) or task.dtype != torch.long:
            shape = tuple(task.shape) if isinstance(task, Tensor) else type(task)
            raise ValueError(f"task must be a long tensor (B={batch},) of task ids, got {shape}")
        if task.device.type != "meta" and bool(((task < 0) | (task >= cfg.num_tasks)).any()):
            raise ValueError(f"task ids must be in [0, {cfg.num_tasks}), got {task.tolist()}")
        return int(batch)


def _check_timestep(timestep: Tensor | None, batch: int, name: str, modality: str) -> None:
    if not isinstance(timestep, Tensor) or timestep.shape != (batch,):
        shape = tuple(timestep.shape) if isinstance(timestep, Tensor) else timestep
        raise ValueError(
            f"{name} must be a tensor (B={batch},) when {modality} is given (0 = clean condition), got {shape}"
        )
