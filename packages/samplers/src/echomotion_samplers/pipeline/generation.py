"""`EchoMotionPipeline`: prompts → text states → seeded noise → ICCFG + flow solver → decoded
video frames and SMPL motion, for the joint, motion → video and video → motion modes.

Dimension legend: `B` batch, `T` frames (video = motion, 4k + 1), `H, W` pixels, `C, F, h, w`
video latents, `P` = 235 motion parameters, `L` text tokens, `Dt` text width.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from echomotion_dualdit import DualDiT
from echomotion_motion_codec import (
    BodyModel,
    MotionLayout,
    MotionNormalizer,
    SMPLMotion,
)
from echomotion_motion_codec.rotations import matrix_to_rotation_6d, rotation_6d_to_matrix

from ..denoiser import Latents, Task, TextCondition
from ..guidance import GuidanceScales
from ..pipeline_config import NORMALIZER_NAME, TRANSFORMER_DIR, CheckpointError, PipelineConfig
from ..result import GenerationResult
from ..sampling import StepCallback, sample
from ..solvers import SolverConfig, SolverKind
from ..video_io import round_to_wan_frames
from .adapter import DualDiTDenoiser
from .components import (
    PipelineTextEncoder,
    PipelineVideoCodec,
    build_body_model,
    build_text_encoder,
    build_video_codec,
    module_of,
    on_device,
    save_component,
)
from .conditions import as_prompts, place_in_camera, prepare_motion, prepare_video

__all__ = ["EchoMotionPipeline"]


class EchoMotionPipeline:
    """The dual DiT with its video codec, text encoder, motion normalizer and body model.

    device / dtype: where and in which precision the transformer runs (the codec and the text
    encoder keep the dtype pipeline.json gives them). offload: keep idle components on the CPU
    and move each to `device` only while it works (default: on for CUDA, off for the CPU).
    """

    def __init__(
        self,
        *,
        transformer: DualDiT,
        video_codec: PipelineVideoCodec,
        text_encoder: PipelineTextEncoder,
        normalizer: MotionNormalizer,
        body_model: BodyModel,
        config: PipelineConfig,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        offload: bool | None = None,
    ) -> None:
        self.transformer = transformer.eval()
        self.video_codec = video_codec
        self.text_encoder = text_encoder
        self.normalizer = normalizer
        self.body_model = body_model
        self.config = config
        self.layout = MotionLayout()
        self.device = torch.device(device)
        self.offload = self.device.type == "cuda" if offload is None else offload
        if dtype is not None:
            as_module: torch.nn.Module = self.transformer  # ModelMixin.to's wrapper confuses mypy
            as_module.to(dtype=dtype)
        cfg = transformer.dual_config
        if video_codec.latent_channels != cfg.in_channels:
            raise ValueError(
                f"video_codec: gives {video_codec.latent_channels} latent channels, the transformer "
                f"takes {cfg.in_channels}"
            )
        if text_encoder.dim != cfg.text_dim:
            raise ValueError(
                f"text_encoder: gives {text_encoder.dim}-d token states, the transformer takes "
                f"{cfg.text_dim}"
            )
        home = torch.device("cpu") if self.offload else self.device
        for component in (self.transformer, self.video_codec, self.text_encoder):
            module = module_of(component)
            if module is not None:
                module.to(home)
        self._null_cache: dict[str, Tensor] = {}

    # ------------------------------------------------------------------ checkpoint directory
    @classmethod
    def from_pretrained(
        cls,
        checkpoint_dir: str | os.PathLike[str],
        *,
        device: torch.device | str = "cpu",
        dtype: torch.dtype | None = None,
        offload: bool | None = None,
    ) -> EchoMotionPipeline:
        """Load a checkpoint directory (layout in `pipeline/config.py` and the README).

        dtype: the transformer's precision; None = as stored, except that on a CPU device
        half-precision weights are upcast to float32 (CPU half matmuls are slow)."""
        root = Path(checkpoint_dir)
        if dtype is None and torch.device(device).type == "cpu":
            dtype = torch.float32
        config = PipelineConfig.load(root)
        for needed in (root / TRANSFORMER_DIR / "config.json", root / NORMALIZER_NAME):
            if not needed.is_file():
                raise CheckpointError(f"{needed}: missing from the checkpoint directory {root}")
        transformer = DualDiT.from_pretrained(root / TRANSFORMER_DIR, torch_dtype=dtype)
        return cls(
            transformer=transformer,
            video_codec=build_video_codec(config.video_codec, root),
            text_encoder=build_text_encoder(config.text_encoder, root),
            normalizer=MotionNormalizer.load(root / NORMALIZER_NAME),
            body_model=build_body_model(config.body_model, root),
            config=config,
            device=device,
            offload=offload,
        )

    def save_pretrained(self, checkpoint_dir: str | os.PathLike[str]) -> Path:
        """Write the checkpoint directory: pipeline.json, transformer/, the normalizer, and the
        components whose pipeline.json path is relative (their weights go inside)."""
        root = Path(checkpoint_dir)
        root.mkdir(parents=True, exist_ok=True)
        self.transformer.save_pretrained(str(root / TRANSFORMER_DIR))
        self.normalizer.save(root / NORMALIZER_NAME)
        save_component(self.text_encoder, self.config.text_encoder.path, root)
        tokenizer_path = self.config.text_encoder.tokenizer_path
        if tokenizer_path is not None and not Path(tokenizer_path).expanduser().is_absolute():
            tokenizer = getattr(self.text_encoder, "tokenizer", None)
            if tokenizer is None:
                raise ValueError(
                    f"text_encoder.tokenizer_path: {type(self.text_encoder).__name__} has no "
                    "tokenizer to write; give a null or absolute path in pipeline.json"
                )
            tokenizer.save_pretrained(str(root / tokenizer_path))
        save_component(self.video_codec, self.config.video_codec.path, root)
        self.config.save(root)
        return root

    # ------------------------------------------------------------------ encoders / decoders
    def encode_prompts(self, prompts: Sequence[str]) -> TextCondition:
        """(B, L, Dt) token states of the prompts, on the pipeline's device."""
        with on_device(self.text_encoder, self.device, offload=self.offload), torch.no_grad():
            states = self.text_encoder.encode(list(prompts))
        return TextCondition(states.to(self.device, torch.float32))

    def _null(self, prompt: str) -> TextCondition:
        if prompt not in self._null_cache:
            self._null_cache[prompt] = self.encode_prompts([prompt]).embeddings
        return TextCondition(self._null_cache[prompt])

    def _check_size(self, height: int, width: int) -> None:
        patch = self.transformer.dual_config.patch_size
        fy = self.video_codec.spatial_factor * patch[1]
        fx = self.video_codec.spatial_factor * patch[2]
        if height < fy or width < fx or height % fy or width % fx:
            raise ValueError(
                f"height, width: expected positive multiples of {fy} and {fx} (codec × patch), "
                f"got {height}x{width}"
            )

    def encode_video(self, frames: np.ndarray | Tensor) -> Tensor:
        """uint8 frames (B, T, H, W, 3) → normalized latents (B, C, F, h, w) on the device."""
        pixels = torch.as_tensor(frames).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0
        with on_device(self.video_codec, self.device, offload=self.offload), torch.no_grad():
            latents = self.video_codec.encode(pixels.to(self.device))
        return latents.to(self.device, torch.float32)

    def decode_video(self, latents: Tensor) -> np.ndarray:
        """Normalized latents (B, C, F, h, w) → uint8 frames (B, T, H, W, 3) on the CPU."""
        with on_device(self.video_codec, self.device, offload=self.offload), torch.no_grad():
            pixels = self.video_codec.decode(latents.to(self.device))  # (B, 3, T, H, W)
        pixels = ((pixels.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return pixels.permute(0, 2, 3, 4, 1).cpu().numpy()

    def encode_motion(self, motion: SMPLMotion) -> Tensor:
        """A camera-frame motion (B, T, …) → normalized parameters (B, T, 235) on the device."""
        packed = self.layout.pack(motion.to("cpu", torch.float32))
        return self.normalizer.normalize(packed).to(self.device)

    def decode_motion(self, params: Tensor) -> SMPLMotion:
        """Normalized parameters (B, T, 235) → a camera-frame `SMPLMotion` on the CPU.

        The 6D rotations are projected onto rotations (Gram–Schmidt) and η is recomputed by
        forward kinematics of (γ, θ₁…, β, v) under the pipeline's body model; the model's own η
        slots are dropped (they need not agree with its rotations)."""
        vector = self.normalizer.denormalize(params.detach().float().cpu())
        parts = self.layout.split(vector)
        clean = {
            k: matrix_to_rotation_6d(rotation_6d_to_matrix(parts[k]))
            for k in ("global_orient", "pose")
        }
        motion = SMPLMotion(
            transl=parts["transl"],
            global_orient=clean["global_orient"],
            pose=clean["pose"],
            betas=parts["betas"].mean(dim=-2),
            joints=parts["joints"],
            fps=self.config.fps,
            frame=self.config.motion_frame,
        )
        return motion.recompute_joints(self.body_model)

    def place_in_camera(self, motion: SMPLMotion) -> SMPLMotion:
        """A motion in the model's camera frame, η recomputed under the pipeline's body model
        (world-frame motion is seen by the motion codec's default camera; `conditions.py`)."""
        return place_in_camera(motion, self.body_model, self.config.width, self.config.height)

    # ------------------------------------------------------------------ the three modes
    def joint(
        self,
        prompt: str | Sequence[str],
        *,
        negative_prompt: str | Sequence[str] | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        **sampling: Any,
    ) -> GenerationResult:
        """Text → video + motion. num_frames is rounded to 4k + 1 with a warning. `sampling`:
        see `generate` (steps, shift, guidance, guidance_cond, guidance_interval, solver, eta,
        motion_eta, seed, generator, callback, progress, batch_passes)."""
        return self.generate(
            Task.JOINT,
            prompt=prompt,
            negative_prompt=negative_prompt,
            num_frames=num_frames,
            height=height,
            width=width,
            **sampling,
        )

    def motion_to_video(
        self,
        prompt: str | Sequence[str],
        motion: SMPLMotion,
        *,
        negative_prompt: str | Sequence[str] | None = None,
        **sampling: Any,
    ) -> GenerationResult:
        """Motion (+ text) → video at the checkpoint's size. motion: one sequence (shared by all
        prompts) or a batch of one per prompt, at the checkpoint's fps, 4k + 1 frames."""
        return self.generate(
            Task.M2V, prompt=prompt, motion=motion, negative_prompt=negative_prompt, **sampling
        )

    def video_to_motion(self, video: np.ndarray | Tensor, **sampling: Any) -> GenerationResult:
        """Video → motion. video: uint8 frames (T, H, W, 3) or (B, T, H, W, 3), 4k + 1 frames at
        the checkpoint's fps. The prompt is not used (v2m is trained with the text dropped)."""
        return self.generate(Task.V2M, video=video, **sampling)

    def generate(
        self,
        task: Task,
        *,
        prompt: str | Sequence[str] | None = None,
        negative_prompt: str | Sequence[str] | None = None,
        motion: SMPLMotion | None = None,
        video: np.ndarray | Tensor | None = None,
        num_frames: int | None = None,
        height: int | None = None,
        width: int | None = None,
        steps: int | None = None,
        shift: float | None = None,
        guidance: float | None = None,
        guidance_cond: float | None = None,
        guidance_interval: tuple[float, float] | None = None,
        solver: SolverKind | None = None,
        eta: float | None = None,
        motion_eta: float | None = None,
        seed: int | None = None,
        generator: torch.Generator | None = None,
        callback: StepCallback | None = None,
        progress: bool = True,
        batch_passes: bool = True,
    ) -> GenerationResult:
        """Run one mode. Unset sampling options take pipeline.json's `sampling` defaults.
        guidance_interval (lo, hi): guide only the steps at lo ≤ σ ≤ hi (`GuidanceScales.at`).
        eta, motion_eta: the "stochastic" solver's η for video and motion (`SolverConfig`).

        Noise comes from `generator`, else from a CPU generator seeded with `seed` (a random
        seed when both are None; it is returned in the result): the same seed gives the same
        output on any device. `callback(StepInfo)` runs after every solver step.
        """
        task = Task(task)
        cfg, defaults = self.config, self.config.sampling
        video_frames: np.ndarray | None = None
        given_motion: SMPLMotion | None = None
        if task is Task.V2M:
            if video is None:
                raise ValueError("video: video_to_motion needs the input frames")
            video_frames = prepare_video(video)
            batch, frames, height, width = video_frames.shape[:4]
            prompts: list[str] = []
        else:
            if prompt is None:
                raise ValueError(f"prompt: task {task.name} needs a prompt")
            prompts = as_prompts(prompt)
            batch = len(prompts)
            height = cfg.height if height is None else height
            width = cfg.width if width is None else width
            if task is Task.M2V:
                if motion is None:
                    raise ValueError("motion: motion_to_video needs a motion")
                given_motion = prepare_motion(
                    motion,
                    fps=cfg.fps,
                    batch=batch,
                    body_model=self.body_model,
                    width=width,
                    height=height,
                )
                frames = given_motion.num_frames
            else:
                frames = round_to_wan_frames(cfg.num_frames if num_frames is None else num_frames)
        self._check_size(height, width)

        if generator is None:
            seed = secrets.randbits(63) if seed is None else seed
            generator = torch.Generator().manual_seed(seed)
        lo, hi = defaults.guidance_interval if guidance_interval is None else guidance_interval
        scales = GuidanceScales(
            text=defaults.guidance if guidance is None else guidance,
            cross=defaults.guidance_cond if guidance_cond is None else guidance_cond,
            interval=(float(lo), float(hi)),
        )
        solver_config = SolverConfig(
            kind=defaults.solver if solver is None else solver,
            num_steps=defaults.steps if steps is None else steps,
            shift=defaults.shift if shift is None else shift,
            eta=defaults.eta if eta is None else eta,
            motion_eta=defaults.motion_eta if motion_eta is None else motion_eta,
        )

        # Text: the prompts, and ∅ — the negative prompt for joint / m2v, "" for v2m and the
        # adapter's own ∅ (training's dropped prompt).
        text = self.encode_prompts(prompts) if prompts else None
        if task is Task.V2M:
            null = self._null("")
        else:
            negative = as_prompts(
                cfg.negative_prompt if negative_prompt is None else negative_prompt,
                "negative_prompt",
            )
            if len(negative) not in (1, batch):
                raise ValueError(
                    f"negative_prompt: expected 1 or {batch} prompts, got {len(negative)}"
                )
            null = self._null(negative[0]) if len(negative) == 1 else self.encode_prompts(negative)
        denoiser = DualDiTDenoiser(self.transformer, self._null("").embeddings)

        c, f, h, w = self.video_codec.latent_shape(frames, height, width)
        given_video = self.encode_video(video_frames) if video_frames is not None else None
        given_params = self.encode_motion(given_motion) if given_motion is not None else None
        with on_device(self.transformer, self.device, offload=self.offload):
            latents = sample(
                denoiser,
                task,
                text=text,
                null_text=null,
                video_shape=(batch, c, f, h, w) if given_video is None else None,
                motion_shape=(batch, frames, self.layout.dim) if given_params is None else None,
                video=given_video,
                motion=given_params,
                scales=scales,
                solver=solver_config,
                generator=generator,
                device=self.device,
                batch_passes=batch_passes,
                callback=callback,
                progress=progress,
            )
        assert latents.video is not None and latents.motion is not None
        out_video = video_frames if video_frames is not None else self.decode_video(latents.video)
        out_motion = (
            given_motion if given_motion is not None else self.decode_motion(latents.motion)
        )
        return GenerationResult(
            task=task,
            video=out_video,
            motion=out_motion,
            fps=cfg.fps,
            prompts=tuple(prompts),
            latents=Latents(video=latents.video.cpu(), motion=latents.motion.cpu()),
            fov_degrees=cfg.fov_degrees,
            seed=seed,
        )
