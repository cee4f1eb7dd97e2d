#!/usr/bin/env python3
"""EchoMotion developer entry point: set up, run the main job, lint and test.

Needs only Python >= 3.11 and pip. Usage (from the repository root):

    python3 tools/dev.py demo   # set up .venv, then generate video + motion (outputs/demo/)
    python3 tools/dev.py test   # set up, lint, test each package alone, the root tests, experiments/
    python3 tools/dev.py setup  # only set up .venv (every package editable + dev tools)
    python3 tools/dev.py lint   # ruff, ruff format --check, mypy, package layering

Torch: where pip's configured find-links folder holds a torch wheel (a local CPU build), that
exact version is installed first, so no CUDA build is pulled from the registry; otherwise the
packages' own range applies. Set ECHOMOTION_TORCH to force a requirement (e.g. "torch==2.11.0").
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
import venv
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAIN_VENV = ROOT / ".venv"
ISOLATED_VENVS = ROOT / ".venvs"
DEV_REQUIREMENTS = ROOT / "tools" / "requirements-dev.txt"
SHARED_LAYER_CHECK = ROOT.parent / "shared" / "tools" / "check_layers.py"
DEFAULT_TORCH_RANGE = "torch>=2.6"


@dataclass(frozen=True)
class Member:
    """One workspace package, read from its pyproject.toml."""

    folder: Path
    name: str
    import_name: str
    dependencies: tuple[str, ...]
    extras: dict[str, tuple[str, ...]]

    def workspace_deps(self, names: set[str]) -> list[str]:
        return [n for n in (_req_name(d) for d in self.dependencies) if n in names]


def _req_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9_.\-]+)", requirement)
    if match is None:
        raise ValueError(f"cannot read a package name from requirement {requirement!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def discover() -> list[Member]:
    """All packages under packages/, ordered so each comes after its workspace dependencies."""
    members: dict[str, Member] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project = data["project"]
        src = [
            p for p in (pyproject.parent / "src").iterdir() if p.is_dir() and p.name.isidentifier()
        ]
        if len(src) != 1:
            raise SystemExit(
                f"{pyproject.parent}: expected exactly one package under src/, found {src}"
            )
        name = _req_name(project["name"])
        members[name] = Member(
            folder=pyproject.parent,
            name=name,
            import_name=src[0].name,
            dependencies=tuple(project.get("dependencies", [])),
            extras={k: tuple(v) for k, v in project.get("optional-dependencies", {}).items()},
        )
    ordered: list[Member] = []
    seen: set[str] = set()

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in seen:
            return
        if name in stack:
            raise SystemExit(f"dependency cycle among packages: {' -> '.join((*stack, name))}")
        for dep in members[name].workspace_deps(set(members)):
            visit(dep, (*stack, name))
        seen.add(name)
        ordered.append(members[name])

    for name in sorted(members):
        visit(name, ())
    return ordered


def closure(member: Member, members: dict[str, Member]) -> list[Member]:
    """The member and every workspace package it depends on, dependencies first."""
    out: list[Member] = []

    def visit(m: Member) -> None:
        for dep in m.workspace_deps(set(members)):
            visit(members[dep])
        if m not in out:
            out.append(m)

    visit(member)
    return out


@functools.cache
def pip_find_links() -> tuple[str, ...]:
    """The find-links folders of pip's configuration (where a local torch wheel may lie)."""
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    except OSError:
        return ()
    folders: list[str] = []
    for line in out.splitlines():
        if "find-links" in line:
            folders += line.split("=", 1)[1].strip().strip("'\"").split()
    return tuple(dict.fromkeys(f for f in folders if Path(f).is_dir()))


@functools.cache
def torch_requirement() -> str:
    if spec := os.environ.get("ECHOMOTION_TORCH"):
        return spec
    for folder in pip_find_links():
        for wheel in sorted(Path(folder).glob("torch-*.whl")):
            version = wheel.name.split("-")[1].split("+")[0]
            return f"torch=={version}"
    return DEFAULT_TORCH_RANGE


@functools.cache
def uv_binary() -> Path | None:
    """uv in a small tools venv (installs are ~6× faster than pip's); None = use pip.

    ECHOMOTION_INSTALLER=pip forces pip. uv does not read pip's configuration, so pip's
    find-links folders are passed to it (UV_FIND_LINKS)."""
    if os.environ.get("ECHOMOTION_INSTALLER", "uv") == "pip":
        return None
    tools = ISOLATED_VENVS / "_tools"
    uv = tools / "bin" / "uv"
    if not uv.exists():
        try:
            venv.EnvBuilder(with_pip=True, clear=True).create(tools)
            subprocess.run([python_of(tools), "-m", "pip", "install", "-q", "uv>=0.5"], check=True)
        except (OSError, subprocess.CalledProcessError) as err:
            print(f"uv unavailable ({err}); installing with pip", flush=True)
            return None
    if pip_find_links() and "UV_FIND_LINKS" not in os.environ:
        os.environ["UV_FIND_LINKS"] = " ".join(pip_find_links())
    return uv


def install(env: Path, args: list[str], *, rebuild: bool = False) -> None:
    """`pip install ARGS` into `env`, through uv when it is available. rebuild: never reuse a
    cached build (uv keys local-folder builds on pyproject.toml, not on the sources)."""
    uv = uv_binary()
    if uv is not None:
        fresh = ["--no-cache"] if rebuild else []
        must([uv, "pip", "install", "-q", *fresh, "--python", python_of(env), *args])
    else:
        must([python_of(env), "-m", "pip", "install", "-q", *args])


def run(cmd: list[str | Path], **kwargs: object) -> int:
    printable = " ".join(str(c) for c in cmd)
    print(f"$ {printable}", flush=True)
    return subprocess.run([str(c) for c in cmd], check=False, **kwargs).returncode  # type: ignore[call-overload]


def must(cmd: list[str | Path], **kwargs: object) -> None:
    if (rc := run(cmd, **kwargs)) != 0:
        raise SystemExit(f"command failed with exit code {rc}: {' '.join(str(c) for c in cmd)}")


def python_of(env: Path) -> Path:
    return env / "bin" / "python"


def make_env(env: Path, base_text: str) -> None:
    """Create `env` with torch and hatchling unless it exists with the same base stamp."""
    stamp = env / ".echomotion-stamp"
    digest = hashlib.sha256((base_text + torch_requirement()).encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == digest and python_of(env).exists():
        return
    if env.exists():
        shutil.rmtree(env)
    print(f"creating {env.relative_to(ROOT)}", flush=True)
    venv.EnvBuilder(with_pip=uv_binary() is None, clear=True).create(env)
    install(env, [torch_requirement(), "hatchling", "editables"])
    stamp.write_text(digest)


def _member_digest(m: Member, extra: str) -> str:
    return hashlib.sha256(((m.folder / "pyproject.toml").read_text() + extra).encode()).hexdigest()


def install_members(env: Path, members: list[Member], targets: list[str], tag: str) -> None:
    """pip-install `targets` unless every member's pyproject is unchanged since the last install."""
    stamp = env / f".echomotion-members-{tag}"
    digest = "\n".join(f"{m.name}={_member_digest(m, tag)}" for m in members)
    if stamp.exists() and stamp.read_text() == digest:
        return
    install(env, ["--no-build-isolation", *targets])
    stamp.write_text(digest)


def setup_main(members: list[Member]) -> Path:
    """.venv: every package editable with its `test` extra, and the dev tools."""
    make_env(MAIN_VENV, DEV_REQUIREMENTS.read_text())
    py = python_of(MAIN_VENV)
    targets: list[str] = ["-r", str(DEV_REQUIREMENTS)]
    for m in members:
        targets += ["-e", f"{m.folder}[test]" if "test" in m.extras else str(m.folder)]
    install_members(MAIN_VENV, members, targets, "editable")
    return py


def lint(py: Path) -> None:
    must([py, "-m", "ruff", "check", "."], cwd=ROOT)
    must([py, "-m", "ruff", "format", "--check", "."], cwd=ROOT)
    src_dirs = [str(p) for p in sorted(ROOT.glob("packages/*/src/*")) if p.is_dir()]
    if src_dirs:
        must([py, "-m", "mypy", *src_dirs], cwd=ROOT)
    if SHARED_LAYER_CHECK.exists():
        must([py, SHARED_LAYER_CHECK, ROOT])
    else:
        print(f"layer check skipped: {SHARED_LAYER_CHECK} not found", flush=True)


def pytest(py: Path, target: Path, label: str) -> None:
    """Run pytest; no tests collected (exit 5) is a failure, as is any failed test."""
    rc = run([py, "-m", "pytest", target, "-q", "-p", "no:cacheprovider"], cwd=ROOT)
    if rc == 5:
        raise SystemExit(f"{label}: pytest collected no tests, which counts as a failure")
    if rc != 0:
        raise SystemExit(f"{label}: tests failed (pytest exit code {rc})")


def test_isolated(member: Member, members: dict[str, Member]) -> None:
    """Install only this package and what it declares (non-editable), then run its tests."""
    chain = closure(member, members)
    env = ISOLATED_VENVS / member.folder.name
    make_env(env, "")
    py = python_of(env)
    targets = [str(m.folder) for m in chain[:-1]]
    extras = "[test]" if "test" in member.extras else ""
    targets.append(f"{member.folder}{extras}")
    install_members(env, chain, targets, "isolated")
    # Our own packages are reinstalled every run (their code changes); third-party deps stay.
    install(
        env,
        ["--no-build-isolation", "--no-deps", "--force-reinstall", *[str(m.folder) for m in chain]],
        rebuild=True,
    )
    where = subprocess.run(
        [py, "-c", f"import {member.import_name} as m; print(m.__file__)"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    if str(env) not in where:
        raise SystemExit(f"{member.name}: imported from {where}, not from its isolated install")
    pytest(py, member.folder / "tests", member.name)


def cmd_setup() -> Path:
    return setup_main(discover())


def cmd_test(only: list[str]) -> None:
    start = time.time()
    members = discover()
    by_name = {m.name: m for m in members}
    py = setup_main(members)
    if not only:
        lint(py)
    for m in members:
        if only and m.folder.name not in only:
            continue
        print(f"\n=== {m.name}: tests with only its declared dependencies ===", flush=True)
        test_isolated(m, by_name)
    if not only or "root" in only:
        print("\n=== root: cross-package tests ===", flush=True)
        pytest(py, ROOT / "tests", "root tests")
    if not only or "experiments" in only:
        print("\n=== experiments: the shipped toy's stages and the lab scripts ===", flush=True)
        pytest(py, ROOT / "experiments" / "tests", "experiments tests")
    print(f"\nall green in {time.time() - start:.0f} s")


DEMO_CHECKPOINT = ROOT / "checkpoints" / "synth-tiny"
DEMO_PROMPT = (
    "A person in a red long-sleeved shirt and blue trousers does two jumping jacks "
    "in front of a plain light blue wall, on a wooden floor."
)


def cmd_demo(args: list[str]) -> None:
    """The main job: text → video + motion with the shipped checkpoint (outputs/demo/)."""
    py = setup_main(discover())
    echomotion = py.parent / ("echomotion.exe" if os.name == "nt" else "echomotion")
    options = [
        "--checkpoint", DEMO_CHECKPOINT, "--mode", "joint", "--seed", "0",
        "--out", ROOT / "outputs" / "demo",
    ]  # fmt: skip
    if not any(a in ("--prompt", "-p") or a.startswith("--prompt=") for a in args):
        options += ["--prompt", DEMO_PROMPT]
    must([echomotion, "generate", *options, *args], cwd=ROOT)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup", help="create .venv with every package (editable) and the dev tools")
    sub.add_parser("lint", help="ruff, format check, mypy and the package layering")
    t = sub.add_parser("test", help="lint, each package alone, then the root tests")
    t.add_argument(
        "only", nargs="*", help="package folder names (and/or 'root') to test; lint is skipped"
    )
    d = sub.add_parser("demo", help="set up, then run the main job")
    d.add_argument("rest", nargs=argparse.REMAINDER, help="arguments passed to the main job")
    args = parser.parse_args()
    if args.command == "setup":
        cmd_setup()
    elif args.command == "lint":
        lint(cmd_setup())
    elif args.command == "test":
        cmd_test(args.only)
    elif args.command == "demo":
        cmd_demo(args.rest)


if __name__ == "__main__":
    main()
