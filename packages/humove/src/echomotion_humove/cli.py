"""The `humove` command: synth, validate, build, encode, preview, info."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="HuMoVe: build, synthesize, check and encode paired video/motion/caption datasets.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()

Workers = Annotated[int, typer.Option(help="worker processes (one shard each)")]
ExecutorOpt = Annotated[str, typer.Option(help="'local' (process pool) or 'ray'")]


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="dataset directory to write (or finish)")],
    clips: Annotated[int, typer.Option(help="number of clips")] = 64,
    size: Annotated[int, typer.Option(help="width and height in pixels (even)")] = 64,
    frames: Annotated[int, typer.Option(help="frames per clip (4k+1 suits the video codecs)")] = 33,
    fps: Annotated[float, typer.Option(help="frames per second")] = 16.0,
    seed: Annotated[int, typer.Option(help="dataset seed")] = 0,
    shard_size: Annotated[int, typer.Option(help="clips per shard")] = 32,
    camera_distance: Annotated[
        tuple[float, float] | None,
        typer.Option(
            help="NEAR FAR: camera distance range in meters (plus half the path's extent; the "
            "camera backs off until the whole body fits). Default: humove's CameraRange"
        ),
    ] = None,
    workers: Workers = 2,
    executor: ExecutorOpt = "local",
) -> None:
    """Write a synthetic dataset (procedural motions, rendered mannequin, captions)."""
    from .synth.writer import SynthConfig, write_synthetic_dataset

    start = time.time()
    try:
        cfg = SynthConfig(
            clips=clips,
            width=size,
            height=size,
            num_frames=frames,
            fps=fps,
            seed=seed,
            shard_size=shard_size,
            camera_distance=camera_distance or SynthConfig.camera_distance,
        )
        result = write_synthetic_dataset(
            out,
            cfg,
            workers=workers,
            executor=executor,  # type: ignore[arg-type]
            progress=True,
        )
    except ValueError as err:
        console.print(f"[red]error:[/red] {err}")
        raise typer.Exit(2) from None
    took = time.time() - start
    console.print(
        f"[green]synth[/green]: {clips} clips of {size}x{size}x{frames} in {cfg.num_shards} shards "
        f"({result['written']} written, {result['skipped']} already there) in {took:.1f} s → {out}"
    )


@app.command()
def validate(
    root: Annotated[Path, typer.Argument(help="dataset directory")],
    media: Annotated[bool, typer.Option(help="decode videos and motions")] = True,
    max_rows: Annotated[int, typer.Option(help="problems to list")] = 50,
) -> None:
    """Check a dataset: schema, files present, video/motion fps and frame counts; exit 1 on errors."""
    from .validate import validate_dataset

    report = validate_dataset(root, check_media=media, progress=True)
    counts = ", ".join(f"{k}: {v}" for k, v in sorted(report.status_counts.items())) or "none"
    console.print(
        f"[bold]{root}[/bold]: {report.num_records} records in {report.shards} shards ({counts})"
    )
    if report.problems:
        table = Table("severity", "clip", "kind", "message", title="problems")
        for p in report.problems[:max_rows]:
            style = "red" if p.severity == "error" else "yellow"
            table.add_row(f"[{style}]{p.severity}[/{style}]", p.clip, p.kind, p.message)
        console.print(table)
        if len(report.problems) > max_rows:
            console.print(f"… and {len(report.problems) - max_rows} more")
    if report.ok:
        warn = len(report.problems)
        console.print(f"[green]valid[/green]{f' ({warn} warnings)' if warn else ''}")
    else:
        console.print(f"[red]invalid[/red]: {len(report.errors)} errors")
        raise typer.Exit(code=1)


@app.command()
def info(root: Annotated[Path, typer.Argument(help="dataset directory")]) -> None:
    """Counts per status, category and action, and the rejection reasons."""
    from collections import Counter

    from .storage import read_manifest

    records = read_manifest(root)
    table = Table("field", "value", "clips", title=str(root))
    for name, counter in (
        ("status", Counter(r.status for r in records)),
        ("category", Counter(f"{r.category} / {r.subcategory}" for r in records if r.category)),
        ("action", Counter(r.action_label for r in records if r.action_label)),
        (
            "rejected by",
            Counter(f"{x.stage}: {x.reason[:60]}" for r in records if (x := r.rejection)),
        ),
    ):
        for value, n in counter.most_common():
            table.add_row(name, str(value), str(n))
    console.print(table)


@app.command()
def build(
    sources: Annotated[list[Path], typer.Argument(help="video files or folders of videos")],
    out: Annotated[Path, typer.Option(help="dataset directory to write (or resume)")],
    persons: Annotated[
        str,
        typer.Option(help="person detector: none | backdrop | mediapipe | package.module:factory"),
    ] = "none",
    keypoints: Annotated[
        str, typer.Option(help="keypoint detector: none | mediapipe | package.module:factory")
    ] = "none",
    aesthetic: Annotated[
        str,
        typer.Option(help="aesthetic scorer: none | a TorchScript file | package.module:factory"),
    ] = "none",
    aesthetic_threshold: Annotated[float, typer.Option(help="minimum aesthetic score")] = 0.5,
    hmr: Annotated[
        str, typer.Option(help="mesh recovery: none | package.module:factory (local weights)")
    ] = "none",
    captioner: Annotated[
        str, typer.Option(help="captioner: none | package.module:factory (local weights)")
    ] = "none",
    min_frames: Annotated[int, typer.Option(help="shortest scene kept")] = 9,
    max_frames: Annotated[int | None, typer.Option(help="cut longer scenes into pieces")] = None,
    sources_per_shard: Annotated[int, typer.Option(help="source videos per shard")] = 16,
    workers: Workers = 1,
    executor: ExecutorOpt = "local",
) -> None:
    """Build a dataset from raw videos through the A.4 stages (resumable, idempotent)."""
    from collections import Counter

    from .pipeline import BuildConfig, build_dataset, default_stages
    from .storage import read_manifest

    files: list[Path] = []
    for src in sources:
        files += (
            sorted(
                p
                for p in src.rglob("*")
                if p.suffix.lower() in {".mp4", ".mov", ".mkv", ".avi", ".webm"}
            )
            if src.is_dir()
            else [src]
        )
    if not files:
        raise typer.BadParameter("no video files found in the given sources")
    stages = default_stages(
        aesthetic=_backend(aesthetic, "aesthetic"),
        persons=_backend(persons, "persons"),
        keypoints=_backend(keypoints, "keypoints"),
        hmr=_backend(hmr, "hmr"),
        captioner=_backend(captioner, "captioner"),
        aesthetic_threshold=aesthetic_threshold,
    )
    for stage in stages:
        if getattr(stage, "backend", 0) is None:
            console.print(f"[yellow]stage {stage.name} will be skipped[/yellow]: no backend given")
    cfg = BuildConfig(
        stages=stages,
        min_frames=min_frames,
        max_frames=max_frames,
        sources_per_shard=sources_per_shard,
    )
    start = time.time()
    result = build_dataset(files, out, cfg, workers=workers, executor=executor, progress=True)  # type: ignore[arg-type]
    records = read_manifest(out)
    counts = Counter(r.status for r in records)
    console.print(
        f"built {out}: {len(files)} sources → {len(records)} records ({dict(counts)}), "
        f"{result['computed']} pieces of work done in {time.time() - start:.1f} s"
    )


def _backend(spec: str, kind: str) -> Any:
    """Resolve a backend option; 'none' gives None (the stage is skipped, never faked)."""
    if spec == "none":
        return None
    if spec == "backdrop" and kind == "persons":
        from .backends.backdrop import BackdropPersonDetector

        return BackdropPersonDetector()
    if spec == "mediapipe" and kind in ("persons", "keypoints"):
        from .backends.mediapipe_pose import MediaPipePose

        return MediaPipePose()
    if kind == "aesthetic" and Path(spec).suffix in (".pt", ".pth", ".ts"):
        from .backends.torchscript_aesthetic import TorchScriptAestheticScorer

        return TorchScriptAestheticScorer(spec)
    if ":" in spec:
        from .encode import load_factory

        return load_factory(spec)
    raise typer.BadParameter(f"--{kind}: unknown backend {spec!r}")


@app.command()
def encode(
    root: Annotated[Path, typer.Argument(help="dataset directory")],
    video_encoder: Annotated[
        str, typer.Option(help="'package.module:factory' returning a VideoEncoder")
    ],
    text_encoder: Annotated[
        str, typer.Option(help="'package.module:factory' returning a TextEncoder")
    ],
    window: Annotated[int, typer.Option(help="frames per window (4k+1)")] = 33,
    stride: Annotated[
        int | None, typer.Option(help="frames between window starts (default: window)")
    ] = None,
    latents: Annotated[str, typer.Option(help="cache folder name under the dataset")] = "latents",
    batch_size: Annotated[int, typer.Option(help="windows per encoder call")] = 4,
) -> None:
    """Cache video latents and text states per window (safetensors); skips cached windows."""
    from .encode import TextEncoder, VideoEncoder, encode_dataset, load_factory

    venc, tenc = load_factory(video_encoder), load_factory(text_encoder)
    if not isinstance(venc, VideoEncoder) or not isinstance(tenc, TextEncoder):
        raise typer.BadParameter("the factories must return objects with an encode() method")
    result = encode_dataset(
        root,
        venc,
        tenc,
        window=window,
        stride=stride,
        latents=latents,
        batch_size=batch_size,
        progress=True,
    )
    console.print(f"encoded {result['encoded']} windows, {result['skipped']} already cached")


@app.command()
def preview(
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("humove_preview.png"),
    seeds: Annotated[str, typer.Option(help="comma-separated clip seeds")] = "0,1,2,3,4,5",
    size: Annotated[int, typer.Option(help="frame size in pixels")] = 128,
    columns: Annotated[int, typer.Option(help="frames per clip")] = 4,
) -> None:
    """A PNG of synthetic clips: frames, their skeletons and captions."""
    from .preview import write_preview

    seed_list = [int(s) for s in seeds.split(",") if s.strip()]
    path = write_preview(out, seed_list, size=size, columns=columns)
    console.print(f"wrote {path}")


def main() -> None:  # pragma: no cover - console entry point
    app()
