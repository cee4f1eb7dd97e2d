from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from echomotion_trainer.cli import register


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        pass

    return app


def test_print_config_applies_recipe_file_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("seed: 5\noptim:\n  lr: 0.002\n")
    result = CliRunner().invoke(
        _app(),
        [
            "train",
            "--recipe",
            "wan2.1-1.3b",
            "--config",
            str(tmp_path / "c.yaml"),
            "--print-config",
            "phase2.steps=7",
        ],
    )
    assert result.exit_code == 0, result.output
    cfg = yaml.safe_load(result.output)
    assert cfg["recipe"] == "wan2.1-1.3b" and cfg["seed"] == 5
    assert cfg["optim"]["lr"] == 0.002 and cfg["phase2"]["steps"] == 7
    assert (
        cfg["data"]["frames"] == 81 and cfg["data"]["height"] == 480 and cfg["flow"]["shift"] == 8.0
    )


def test_bad_recipe_and_bad_override_exit_2() -> None:
    runner = CliRunner()
    bad = runner.invoke(_app(), ["train", "--recipe", "nope"])
    assert bad.exit_code == 2
    assert "unknown name 'nope'" in bad.output
    bad = runner.invoke(_app(), ["train", "optim.momentum=3"])
    assert bad.exit_code == 2
    assert "optim.momentum" in bad.output
