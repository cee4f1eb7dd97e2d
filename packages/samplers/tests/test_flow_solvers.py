"""Solvers against data whose flow is known exactly (Gaussian, mixture of Gaussians)."""

from __future__ import annotations

import pytest
import torch
from analytic_flows import AnalyticDenoiser, GaussianMixture
from torch import Tensor

from echomotion_samplers import (
    FlowSolver,
    GuidanceScales,
    Latents,
    Modality,
    Prediction,
    SolverConfig,
    Task,
    initial_noise,
    sample,
    shifted_sigmas,
)

N = 8000  # samples for the statistics tests; the others use fewer

GAUSSIAN = GaussianMixture.gaussian(
    torch.tensor([1.0, -2.0, 0.5]),
    torch.tensor([[1.0, 0.4, -0.2], [0.4, 0.6, 0.1], [-0.2, 0.1, 0.4]]),
)
MIXTURE = GaussianMixture(
    means=torch.tensor([[-2.0, 0.0], [2.0, 1.0]], dtype=torch.float64),
    covariances=torch.tensor(
        [[[0.3, 0.0], [0.0, 0.3]], [[0.5, 0.2], [0.2, 0.4]]], dtype=torch.float64
    ),
    weights=torch.tensor([0.3, 0.7], dtype=torch.float64),
)


def run(
    kind: str, steps: int, shift: float, seed: int = 1, n: int = N, **options: float
) -> tuple[Latents, Latents, AnalyticDenoiser]:
    """Sample both test distributions (video rows ~ GAUSSIAN, motion rows ~ MIXTURE); also
    return the initial noise (same seed) and the denoiser with the σ's it saw. `options`: more
    `SolverConfig` fields (eta, motion_eta)."""
    denoiser = AnalyticDenoiser(GAUSSIAN, MIXTURE)
    out = sample(
        denoiser,
        Task.JOINT,
        text=None,
        scales=GuidanceScales(text=0.0),  # the unconditional pass only: the exact velocity
        video_shape=(n, 3),
        motion_shape=(n, 2),
        solver=SolverConfig(kind=kind, num_steps=steps, shift=shift, **options),  # type: ignore[arg-type]
        generator=torch.Generator().manual_seed(seed),
    )
    noise = initial_noise(
        {Modality.VIDEO: (n, 3), Modality.MOTION: (n, 2)},
        generator=torch.Generator().manual_seed(seed),
    )
    return out, noise, denoiser


def transport_error(out: Latents, noise: Latents) -> float:
    """Mean distance between the sampled Gaussian points and the exact ODE end points."""
    assert out.video is not None and noise.video is not None
    return float((out.video - GAUSSIAN.transport(noise.video)).norm(dim=1).mean())


def relative_cov_error(x: Tensor, target: Tensor) -> float:
    return float(torch.linalg.norm(torch.cov(x.T).double() - target) / torch.linalg.norm(target))


@pytest.mark.parametrize("shift", [1.0, 3.0, 8.0])
@pytest.mark.parametrize("kind", ["euler", "unipc"])
def test_schedule_is_the_shifted_linspace_and_the_denoiser_sees_it(kind: str, shift: float) -> None:
    steps = 12
    unshifted = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    expected = shift * unshifted / (1 + (shift - 1) * unshifted)  # written out, not imported
    solver = FlowSolver(SolverConfig(kind=kind, num_steps=steps, shift=shift), [Modality.VIDEO])  # type: ignore[arg-type]
    torch.testing.assert_close(solver.sigmas.double(), expected, atol=2e-6, rtol=0)
    torch.testing.assert_close(shifted_sigmas(steps, shift), expected)
    _, _, denoiser = run(kind, steps, shift, n=16)
    # every step evaluates both streams at σ_i (two calls per step, same σ)
    seen = torch.tensor(denoiser.sigmas_seen, dtype=torch.float64).reshape(steps, 2)
    torch.testing.assert_close(seen[:, 0], seen[:, 1])
    torch.testing.assert_close(seen[:, 0], expected[:-1], atol=2e-6, rtol=0)
    if shift > 1:  # the shift spends the steps at higher noise
        assert (expected[1:-1] > unshifted[1:-1]).all()


@pytest.mark.parametrize("shift", [1.0, 3.0])
def test_euler_equals_a_hand_written_euler_over_the_shifted_grid(shift: float) -> None:
    steps = 7
    out, noise, _ = run("euler", steps, shift, n=256)
    unshifted = torch.linspace(1, 0, steps + 1, dtype=torch.float64)
    sigmas = shift * unshifted / (1 + (shift - 1) * unshifted)
    assert noise.video is not None
    x = noise.video.clone()
    for i in range(steps):
        velocity = GAUSSIAN.velocity(x, torch.full((x.shape[0],), float(sigmas[i])))
        x = x + float(sigmas[i + 1] - sigmas[i]) * velocity
    assert out.video is not None
    torch.testing.assert_close(out.video, x, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("kind", "steps", "shift", "tol"),
    [("euler", 50, 3.0, 0.08), ("unipc", 10, 1.0, 0.04), ("unipc", 50, 3.0, 0.01)],
)
def test_samples_land_on_the_exact_transport_map(
    kind: str, steps: int, shift: float, tol: float
) -> None:
    out, noise, _ = run(kind, steps, shift, n=1000)
    assert transport_error(out, noise) < tol


def test_unipc_is_higher_order_than_euler() -> None:
    euler_10, euler_20, unipc_10, unipc_20 = (
        transport_error(*run(kind, steps, 1.0, n=1000)[:2])
        for kind, steps in [("euler", 10), ("euler", 20), ("unipc", 10), ("unipc", 20)]
    )
    assert 1.6 < euler_10 / euler_20 < 2.6  # first order: twice the steps, half the error
    assert unipc_10 / unipc_20 > 3.0  # at least second order
    assert unipc_10 < euler_10 / 4


@pytest.mark.parametrize(("kind", "steps"), [("euler", 50), ("unipc", 10)])
def test_sample_statistics_match_the_targets(kind: str, steps: int) -> None:
    out, _, _ = run(kind, steps, 3.0)
    assert out.video is not None and out.motion is not None
    # Sampling error at N = 8000: about 0.01 on the means, 2-4% on the covariances; the solvers'
    # own bias at these step counts is up to 9% on the Gaussian (its 0.18 eigenvalue is stiff
    # near σ = 0); 10 Euler steps are off by 30%.
    assert float((out.video.mean(0).double() - GAUSSIAN.mean).abs().max()) < 0.05
    assert relative_cov_error(out.video, GAUSSIAN.covariance) < 0.12
    # mixture: mean, covariance and the share of each mode
    assert float((out.motion.mean(0).double() - MIXTURE.mean).abs().max()) < 0.05
    assert relative_cov_error(out.motion, MIXTURE.covariance) < 0.06
    assert abs(float((out.motion[:, 0] > 0).double().mean()) - 0.7) < 0.02


def test_too_few_euler_steps_are_caught_by_the_statistics() -> None:
    """The tolerances above are tight enough to tell a converged solver from a bad one."""
    out, _, _ = run("euler", 10, 3.0)
    assert out.video is not None and out.motion is not None
    assert relative_cov_error(out.video, GAUSSIAN.covariance) > 0.12
    assert relative_cov_error(out.motion, MIXTURE.covariance) > 0.06


def test_clean_streams_pass_through_and_steps_go_in_order() -> None:
    solver = FlowSolver(SolverConfig(kind="unipc", num_steps=3, shift=2.0), [Modality.VIDEO])
    video, motion = torch.randn(2, 4), torch.randn(2, 5)
    state = Latents(video=video, motion=motion)
    stepped = solver.step(0, state, Prediction(video=torch.randn(2, 4), motion=None))
    assert stepped.motion is motion  # the given modality is never touched
    assert stepped.video is not None and not torch.equal(stepped.video, video)
    with pytest.raises(ValueError, match="step 1"):
        solver.step(2, stepped, Prediction(video=torch.randn(2, 4)))
    with pytest.raises(ValueError, match="velocity"):
        solver.step(1, stepped, Prediction(video=None))
    with pytest.raises(ValueError, match="shape"):
        solver.step(1, stepped, Prediction(video=torch.randn(2, 3)))


def test_streams_get_separate_scheduler_state() -> None:
    """UniPC keeps a history: stepping two streams in one solver equals two solvers, one each."""
    config = SolverConfig(kind="unipc", num_steps=4, shift=3.0)
    both = FlowSolver(config, [Modality.VIDEO, Modality.MOTION])
    only_v, only_m = FlowSolver(config, [Modality.VIDEO]), FlowSolver(config, [Modality.MOTION])
    g = torch.Generator().manual_seed(0)
    v, m = torch.randn(3, 4, generator=g), torch.randn(3, 2, generator=g)
    state, sv, sm = Latents(v, m), Latents(video=v), Latents(motion=m)
    for i in range(4):
        dv, dm = torch.randn(3, 4, generator=g), torch.randn(3, 2, generator=g)
        state = both.step(i, state, Prediction(dv, dm))
        sv = only_v.step(i, sv, Prediction(video=dv))
        sm = only_m.step(i, sm, Prediction(motion=dm))
    assert state.video is not None and state.motion is not None
    torch.testing.assert_close(state.video, sv.video)
    torch.testing.assert_close(state.motion, sm.motion)


def test_solver_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="kind"):
        SolverConfig(kind="heun")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="num_steps"):
        SolverConfig(num_steps=0)
    with pytest.raises(ValueError, match="shift"):
        SolverConfig(shift=0.0)


def run_stochastic(
    eta: float,
    steps: int,
    shift: float,
    seed: int = 1,
    n: int = N,
    motion_eta: float | None = None,
) -> tuple[Latents, Latents, AnalyticDenoiser]:
    """`run` with the stochastic solver; motion_eta None = eta."""
    motion_eta = eta if motion_eta is None else motion_eta
    return run("stochastic", steps, shift, seed, n, eta=eta, motion_eta=motion_eta)


def test_stochastic_at_eta_zero_is_euler() -> None:
    euler, _, _ = run("euler", 9, 3.0, n=256)
    still, _, _ = run_stochastic(0.0, 9, 3.0, n=256)
    assert euler.video is not None and still.video is not None
    torch.testing.assert_close(still.video, euler.video, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(still.motion, euler.motion, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("eta", [1.0, 0.5])
def test_stochastic_step_is_ddims_eta_family(eta: float) -> None:
    """With the clean sample known (point-mass data, exact velocity), one step from σ to σ'
    lands on (1 − σ')x₀ + σ'ε' with ε' standard normal whose correlation with the noise at σ is
    √(1 − ρ²), ρ = η·√(1 − ((1 − σ)σ'/((1 − σ')σ))²); at η = 1 that is the forward process's
    own correlation (1 − σ)σ'/((1 − σ')σ): DDPM's posterior step."""
    solver = FlowSolver(
        SolverConfig(kind="stochastic", num_steps=5, shift=1.0, eta=eta),
        [Modality.VIDEO],
        generator=torch.Generator().manual_seed(2),
    )
    n, clean = 200_000, torch.tensor([0.7, -1.3])
    g = torch.Generator().manual_seed(9)
    for i in range(3):
        sigma, sigma_next = solver.sigma(i), solver.sigma(i + 1)
        eps = torch.randn(n, 2, generator=g)
        x = (1 - sigma) * clean + sigma * eps
        velocity = eps - clean  # exact: the data is the point x₀
        out = solver.step(i, Latents(video=x), Prediction(video=velocity)).video
        assert out is not None
        eps_next = (out - (1 - sigma_next) * clean) / sigma_next
        kept = (1 - sigma) * sigma_next / ((1 - sigma_next) * sigma)
        rho = eta * (1 - kept**2) ** 0.5
        assert solver.fresh_share(i) == pytest.approx(rho)
        assert float(eps_next.std()) == pytest.approx(1.0, abs=0.01)
        corr = float((eps_next * eps).mean())
        assert corr == pytest.approx((1 - rho**2) ** 0.5, abs=0.01)
        if eta == 1.0:
            assert corr == pytest.approx(kept, abs=0.01)
    assert solver.fresh_share(4) == 0.0  # the last step lands on x̂


def test_stochastic_noise_comes_from_the_generator() -> None:
    a, _, _ = run_stochastic(1.0, 5, 1.0, seed=3, n=64)
    b, _, _ = run_stochastic(1.0, 5, 1.0, seed=3, n=64)
    c, _, _ = run_stochastic(1.0, 5, 1.0, seed=4, n=64)
    assert a.video is not None and b.video is not None and c.video is not None
    assert torch.equal(a.video, b.video) and torch.equal(a.motion, b.motion)
    assert not torch.allclose(a.video, c.video)


@pytest.mark.parametrize(("eta", "steps"), [(1.0, 100), (0.5, 50)])
def test_stochastic_sample_statistics_match_the_targets(eta: float, steps: int) -> None:
    """A consistent sampler: the marginals are the data's up to a first-order bias (at η = 1
    the Gaussian's covariance is off by 13% at 50 steps, 7% at 100, 4% at 200; a constant
    fresh-noise share of 1 would stay 55% off, collapsing samples towards the mean)."""
    out, noise, _ = run_stochastic(eta, steps, 3.0)
    assert out.video is not None and out.motion is not None
    assert float((out.video.mean(0).double() - GAUSSIAN.mean).abs().max()) < 0.05
    assert relative_cov_error(out.video, GAUSSIAN.covariance) < 0.12
    assert float((out.motion.mean(0).double() - MIXTURE.mean).abs().max()) < 0.05
    assert relative_cov_error(out.motion, MIXTURE.covariance) < 0.06
    assert abs(float((out.motion[:, 0] > 0).double().mean()) - 0.7) < 0.02
    # fresh noise: the end points are no longer the ODE's transport of the initial noise
    assert transport_error(out, noise) > 0.3


def test_each_stream_has_its_own_eta() -> None:
    """motion_eta = 0 keeps the motion stream on Euler (and draws no noise for it) while the
    video stream takes fresh noise; the analytic streams do not interact."""
    euler, _, _ = run("euler", 9, 3.0, n=256)
    mixed, _, _ = run_stochastic(1.0, 9, 3.0, n=256, motion_eta=0.0)
    assert mixed.motion is not None and euler.motion is not None
    assert mixed.video is not None and euler.video is not None
    torch.testing.assert_close(mixed.motion, euler.motion, atol=1e-5, rtol=1e-5)
    assert float((mixed.video - euler.video).abs().max()) > 0.1
    solver = FlowSolver(
        SolverConfig(kind="stochastic", num_steps=4, eta=1.0, motion_eta=0.25), list(Modality)
    )
    assert solver.fresh_share(1, Modality.MOTION) == pytest.approx(
        0.25 * solver.fresh_share(1, Modality.VIDEO)
    )


def test_solver_config_rejects_a_bad_eta() -> None:
    for eta in (-0.1, 1.5):
        with pytest.raises(ValueError, match="eta"):
            SolverConfig(kind="stochastic", eta=eta)
        with pytest.raises(ValueError, match="motion_eta"):
            SolverConfig(kind="stochastic", motion_eta=eta)
