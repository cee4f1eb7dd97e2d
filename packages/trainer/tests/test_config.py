from pathlib import Path

import pytest

from echomotion_trainer.config import ConfigError, TrainConfig, apply_overrides, load_config


def test_defaults_follow_the_paper() -> None:
    c = TrainConfig()
    assert c.optim.lr == 8e-6
    assert c.optim.weight_decay == 1e-3
    assert c.flow.shift == 8.0
    assert c.flow.num_train_timesteps == 1000


def test_yaml_and_toml_round_trip(tmp_path: Path) -> None:
    c = apply_overrides(
        TrainConfig(), ["optim.lr=1e-4", "phase2.steps=7", "model.rope_mode=collision"]
    )
    (tmp_path / "c.yaml").write_text(c.to_yaml())
    assert load_config(tmp_path / "c.yaml") == c
    (tmp_path / "c.toml").write_text("seed = 3\n[data]\nframes = 9\n")
    t = load_config(tmp_path / "c.toml", base=c)
    assert t.seed == 3 and t.data.frames == 9 and t.optim.lr == 1e-4


def test_unknown_keys_and_bad_values_are_named(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("optim:\n  lr: 1e-4\n  momentum: 0.9\n")
    with pytest.raises(ConfigError, match=r"optim\.momentum: unknown key"):
        load_config(tmp_path / "bad.yaml")
    with pytest.raises(ConfigError, match=r"data\.frames: .*4k\+1"):
        apply_overrides(TrainConfig(), ["data.frames=10"])
    with pytest.raises(ConfigError, match=r"unknown key optim\.nope"):
        apply_overrides(TrainConfig(), ["optim.nope=1"])
    with pytest.raises(ConfigError, match=r"data\.synth_camera_distance: .*near <= far"):
        apply_overrides(TrainConfig(), ["data.synth_camera_distance=[2.0, 1.0]"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        apply_overrides(TrainConfig(), ["optim.lr"])
    with pytest.raises(ConfigError, match=r"phase2: .*positive probability"):
        apply_overrides(TrainConfig(), ["phase2.joint=0", "phase2.m2v=0", "phase2.v2m=0"])
    (tmp_path / "old.yaml").write_text(
        "model:\n  video_prediction: velocity\nflow:\n  sample_loss_min_sigma: 0.05\n"
    )
    assert load_config(tmp_path / "old.yaml") == TrainConfig()  # retired keys at their only value
    (tmp_path / "old.yaml").write_text("model:\n  video_prediction: sample\n")
    with pytest.raises(
        ConfigError, match=r"model\.video_prediction='sample' is no longer supported"
    ):
        load_config(tmp_path / "old.yaml")


def test_sampling_section_becomes_the_exports_defaults() -> None:
    from echomotion_trainer.export import pipeline_config

    paper = pipeline_config(TrainConfig()).sampling  # the paper's: UniPC, guidance 6, flow shift
    assert (paper.solver, paper.guidance, paper.shift, paper.steps) == ("unipc", 6.0, 8.0, 50)
    c = apply_overrides(
        TrainConfig(),
        ["flow.shift=3", "sampling.solver=stochastic", "sampling.eta=0.5", "sampling.guidance=2"],
    )
    made = pipeline_config(c).sampling
    assert (made.solver, made.eta, made.guidance, made.shift) == ("stochastic", 0.5, 2.0, 3.0)
    assert pipeline_config(apply_overrides(c, ["sampling.shift=5"])).sampling.shift == 5.0
    with pytest.raises(ConfigError, match=r"sampling\.eta"):
        apply_overrides(TrainConfig(), ["sampling.eta=1.5"])
    with pytest.raises(ConfigError, match=r"sampling\.solver"):
        apply_overrides(TrainConfig(), ["sampling.solver=heun"])


def test_sampling_section_is_the_samplers_schema() -> None:
    from echomotion_samplers.settings import SamplingDefaults
    from echomotion_trainer.config import SamplingConfig

    assert issubclass(SamplingConfig, SamplingDefaults)
    assert SamplingConfig().model_dump() == {**SamplingDefaults().model_dump(), "shift": None}
    with pytest.raises(ConfigError, match=r"sampling\.guidance_interval"):
        apply_overrides(TrainConfig(), ["sampling.guidance_interval=[0.6, 0.2]"])


# diffusers' transformer/config.json of Wan2.2-TI2V-5B (the sizes the preset names).
WAN22_5B = {
    "patch_size": [1, 2, 2],
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "in_channels": 48,
    "out_channels": 48,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 14336,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-06,
    "image_dim": None,
    "added_kv_proj_dim": None,
    "rope_max_seq_len": 1024,
    "pos_embed_seq_len": None,
}


def test_wan22_5b_from_a_wan_folder_is_hybrid() -> None:
    """The 5B recipe with model.wan_path makes 15 of 30 layers dual (7.53 B parameters), as
    the preset does, not all 30 (9.99 B); counted on the meta device."""
    from echomotion_dualdit import DualDiT
    from echomotion_dualdit.conversion import dual_config_from_wan
    from echomotion_trainer.build import wan_dual_blocks
    from echomotion_trainer.recipes import recipe

    cfg = apply_overrides(recipe("wan2.2-5b"), ["model.wan_path=/wan"]).model
    blocks = wan_dual_blocks(cfg, WAN22_5B)
    assert blocks == list(range(0, 30, 2))
    model = DualDiT.meta_skeleton(**dual_config_from_wan(WAN22_5B, blocks))
    assert sum(layer.is_dual for layer in model.layers()) == 15
    assert round(sum(p.numel() for p in model.parameters()) / 1e9, 2) == 7.53
    everything = DualDiT.meta_skeleton(**dual_config_from_wan(WAN22_5B, None))
    assert round(sum(p.numel() for p in everything.parameters()) / 1e9, 2) == 9.99
    mine = apply_overrides(recipe("wan2.2-5b"), ["model.dual_blocks=[0,29]"]).model
    assert wan_dual_blocks(mine, WAN22_5B) == [0, 29]
    smaller = {**WAN22_5B, "num_layers": 2, "num_attention_heads": 2, "attention_head_dim": 12}
    with pytest.raises(ValueError, match=r"model\.dual_blocks: .*has 2 layers"):
        wan_dual_blocks(cfg, smaller)


def test_a_wan_recipe_without_weights_is_refused() -> None:
    from echomotion_trainer.build import check_model_source
    from echomotion_trainer.recipes import recipe

    for name in ("wan2.1-1.3b", "wan2.2-5b"):
        with pytest.raises(ValueError, match=r"model\.wan_path: .*model\.random_init=true"):
            check_model_source(recipe(name).model)
        check_model_source(apply_overrides(recipe(name), ["model.random_init=true"]).model)
        check_model_source(apply_overrides(recipe(name), ["model.wan_path=/wan"]).model)
    check_model_source(recipe("synth-tiny").model)


def test_yaml_1_1_words_stay_strings_in_overrides() -> None:
    c = apply_overrides(TrainConfig(), ["mixed_precision=bf16", "mixed_precision=no"])
    assert c.mixed_precision == "no"
    c = apply_overrides(TrainConfig(), ["model.gradient_checkpointing=yes"])
    assert c.model.gradient_checkpointing is True
    c = apply_overrides(TrainConfig(), ["optim.grad_accum=4", "parallel.cpu_offload=true"])
    assert c.optim.grad_accum == 4 and c.parallel.cpu_offload
    with pytest.raises(ConfigError, match=r"optim\.grad_accum"):
        apply_overrides(TrainConfig(), ["optim.grad_accum=0"])


def test_values_out_of_range_are_named() -> None:
    from echomotion_trainer.build import check_model_source

    for bad, key in [
        ("optim.ema_decay=2.0", r"optim\.ema_decay"),
        ("optim.ema_decay=0", r"optim\.ema_decay"),
        ("flow.num_train_timesteps=0", r"flow\.num_train_timesteps"),
        ("optim.betas=[0.9, 1.5]", r"optim\.betas"),
        ("optim.eps=0", r"optim\.eps"),
        ("optim.grad_clip=-1", r"optim\.grad_clip"),
        ("phase2.lr=0", r"phase2\.lr"),
        ("model.dual_blocks=[1, 1]", r"model\.dual_blocks"),
        ("model.dual_blocks=[-1]", r"model\.dual_blocks"),
        ("device=tpu", r"device"),
    ]:
        with pytest.raises(ConfigError, match=key):
            apply_overrides(TrainConfig(), [bad])
    with pytest.raises(
        ValueError, match=r"model\.dual_blocks: \[99\] must be layer indices in \[0, 4\)"
    ):
        check_model_source(apply_overrides(TrainConfig(), ["model.dual_blocks=[99]"]).model)
    with pytest.raises(ValueError, match=r"model\.preset: "):
        check_model_source(apply_overrides(TrainConfig(), ["model.preset=huge"]).model)
    check_model_source(apply_overrides(TrainConfig(), ["model.dual_blocks=[0, 3]"]).model)
