"""SynCoS on tiny random CogVideoX / Wan pipelines (METHODS.md §2.6 CPU tests).

What a user notices: a one-chunk run without coupling is exactly the base model's own sampler; a long
video covers every frame; switching coupling off gives the Gen-L-Video baseline; the kernel term pushes
chunks apart; each chunk follows the prompt of the event it covers; a seed reproduces the video.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from filmcrew.tools.video.syncos.sampler import (
    SyncosSampler,
    assign_prompts,
    chunk_texts,
    chunk_windows,
    coverage,
    csd_gradient,
)
from filmcrew.tools.video.wisa.pipeline import tiny_wisa_pipeline

STEPS = 4


@pytest.fixture(scope="module")
def pipes():
    return {b: tiny_wisa_pipeline(b, seed=0) for b in ("cogvideox", "wan")}


def _gen(seed: int = 3) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _tdim(base: str) -> int:
    return 2 if base == "wan" else 1


# -- one chunk, no coupling = the base sampler -------------------------------------------------------


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
@pytest.mark.parametrize("mode", ["gen-l-video", "syncos-t_min-1000"])
def test_single_chunk_without_stage2_is_the_pipelines_own_sampler(base, mode):
    from diffusers import CogVideoXDDIMScheduler, FlowMatchEulerDiscreteScheduler

    pipe = tiny_wisa_pipeline(base, seed=0)
    # The pipeline's own DDIM (CogVideoX, v-prediction) / flow-matching Euler (Wan) loop.
    pipe.scheduler = (CogVideoXDDIMScheduler.from_config(pipe.scheduler.config) if base == "cogvideox"
                      else FlowMatchEulerDiscreteScheduler(shift=3.0))
    ref = pipe("a red ball falls", num_inference_steps=STEPS, guidance_scale=6.0, generator=_gen())
    kw = ({"mode": "gen-l-video"} if mode == "gen-l-video" else {"t_min": 1000.0, "iters": 5})
    sampler = SyncosSampler(pipe, chunk_len=3, stride=1, guidance_scale=6.0, **kw)
    out = sampler("a red ball falls", [], 3, num_inference_steps=STEPS, generator=_gen())
    assert out.shape == ref.shape == (9, 64, 64, 3)
    # float reassociation may move a rare pixel by one level, nothing more
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1
    assert (out != ref).mean() < 1e-3
    assert sampler.model_calls == STEPS  # one chunk, one evaluation per step
    other = sampler("a red ball falls", [], 3, num_inference_steps=STEPS, generator=_gen(4))
    assert np.abs(other.astype(int) - ref.astype(int)).mean() > 1  # the comparison can fail


# -- windows, coverage, prompts ---------------------------------------------------------------------


@pytest.mark.parametrize("T,L,S,expected", [
    (7, 3, 2, [1, 1, 2, 1, 2, 1, 1]),        # T = L + 2S: divides evenly
    (8, 3, 2, [1, 1, 2, 1, 2, 2, 2, 1]),     # does not divide: an extra chunk ends at T
    (6, 3, 1, [1, 2, 3, 3, 2, 1]),
    (5, 5, 2, [1, 1, 1, 1, 1]),
    (10, 4, 3, [1, 1, 1, 2, 1, 1, 2, 1, 1, 1]),
    (11, 4, 3, [1, 1, 1, 2, 1, 1, 2, 2, 2, 2, 1]),
])
def test_chunk_windows_cover_every_frame_with_the_right_overlap_counts(T, L, S, expected):
    windows = chunk_windows(T, L, S)
    assert all(e - s == L for s, e in windows)
    assert windows[0][0] == 0 and windows[-1][1] == T
    assert [s for s, _ in windows[:-1]] == list(range(0, S * (len(windows) - 1), S))
    counts = coverage(windows, T)
    assert counts.tolist() == expected
    assert counts.min() >= 1


def test_chunk_windows_reject_bad_sizes():
    with pytest.raises(ValueError, match="uncovered"):
        chunk_windows(10, 3, 4)
    with pytest.raises(ValueError, match="shorter than one chunk"):
        chunk_windows(2, 3, 1)
    with pytest.raises(ValueError, match="≥ 1"):
        chunk_windows(5, 3, 0)


def test_prompts_go_to_chunks_by_temporal_centre():
    windows = chunk_windows(12, 4, 2)  # centres 2, 4, 6, 8, 10 of 12
    assert assign_prompts(windows, 3) == [0, 1, 1, 2, 2]
    assert assign_prompts(windows, 1) == [0] * 5
    assert chunk_texts("A red ball in a kitchen.", ["falls", "bounces"]) == [
        "A red ball in a kitchen. falls", "A red ball in a kitchen. bounces"]
    assert chunk_texts("A red ball.", []) == ["A red ball."]
    with pytest.raises(ValueError, match="no prompt"):
        chunk_texts(" ", [""])


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_each_chunk_follows_the_local_prompt_of_its_event(pipes, base):
    # Disjoint chunks, no coupling: changing the second event's prompt changes only its frames.
    pipe, d = pipes[base], _tdim(base)
    sampler = SyncosSampler(pipe, chunk_len=3, stride=3, mode="gen-l-video")
    a = sampler("a ball", ["rolls left", "falls down"], 6, num_inference_steps=STEPS,
                generator=_gen(), output_type="latent")
    b = sampler("a ball", ["rolls left", "flies up high"], 6, num_inference_steps=STEPS,
                generator=_gen(), output_type="latent")
    assert torch.equal(a.narrow(d, 0, 3), b.narrow(d, 0, 3))
    assert (a.narrow(d, 3, 3) - b.narrow(d, 3, 3)).abs().max() > 1e-3


# -- coupling ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_zero_refinement_iterations_is_gen_l_video(pipes, base):
    pipe = pipes[base]
    kw = dict(num_inference_steps=STEPS, output_type="latent")
    glv = SyncosSampler(pipe, chunk_len=3, stride=1, mode="gen-l-video")
    ref = glv("a ball", ["falls", "bounces"], 6, generator=_gen(), **kw)
    zero = SyncosSampler(pipe, chunk_len=3, stride=1, iters=0)
    assert torch.equal(zero("a ball", ["falls", "bounces"], 6, generator=_gen(), **kw), ref)
    coupled = SyncosSampler(pipe, chunk_len=3, stride=1, iters=2)
    out = coupled("a ball", ["falls", "bounces"], 6, generator=_gen(), **kw)
    assert (out - ref).abs().max() > 1e-2  # stage 2 does change the video
    assert coupled.model_calls == coupled.planned_calls(6, STEPS) > glv.model_calls


def test_kernel_term_alone_repels_particles_and_the_printed_sign_attracts():
    x = torch.stack([torch.zeros(2, 3), torch.full((2, 3), 0.5)])
    r = torch.zeros_like(x)
    dist = lambda p: float((p[0] - p[1]).norm())  # noqa: E731
    repel = x - 0.1 * csd_gradient(x, r, kernel_sign=-1.0)
    attract = x - 0.1 * csd_gradient(x, r, kernel_sign=+1.0)
    assert dist(repel) > dist(x) > dist(attract)
    # identical particles: K = 1, the score term is the plain average of the residuals (SDS)
    same = torch.ones(3, 4)
    res = torch.randn(3, 4, generator=_gen())
    g = csd_gradient(same, res, kernel_coeff=1.0)
    assert torch.allclose(g, res.mean(0).expand(3, 4), atol=1e-6)


def test_with_only_the_kernel_term_two_identical_chunks_move_apart():
    # Two disjoint chunks with one prompt; score term off. One DDIM step at t = 0 ("leading" spacing):
    # the particles are ≈ x̂0 itself and the run returns the refined x̂0, so the kernel's pull or push
    # shows in the output. (At t = 999 of a zero-SNR schedule the particles would be pure noise.)
    from diffusers import CogVideoXDDIMScheduler

    pipe = tiny_wisa_pipeline("cogvideox", seed=0)
    pipe.scheduler = CogVideoXDDIMScheduler.from_config(pipe.scheduler.config,
                                                        timestep_spacing="leading")

    def gap(**opts):
        s = SyncosSampler(pipe, chunk_len=3, stride=3, minibatch=None, score_coeff=0.0, lr=0.05,
                          t_min=-1.0, **opts)
        out = s("a ball bounces", [], 6, num_inference_steps=1, generator=_gen(),
                output_type="latent")
        return float((out[:, :3] - out[:, 3:]).norm())

    base_gap = gap(iters=0)
    assert gap(iters=3, kernel_sign=-1.0) > base_gap * 1.05
    assert gap(iters=3, kernel_sign=+1.0) < base_gap * 0.95


@pytest.mark.parametrize("noise", ["fused_eps", "gaussian_fixed_per_step"])
def test_a_fixed_seed_reproduces_the_video(pipes, noise):
    pipe = pipes["wan"]
    s = SyncosSampler(pipe, chunk_len=3, stride=1, iters=2, baseline_noise=noise)
    calls: list[tuple[int, int, int]] = []
    a = s("a ball", ["falls", "bounces"], 5, num_inference_steps=STEPS, generator=_gen(7),
          callback=lambda step, total, chunk: calls.append((step, total, chunk)))
    b = s("a ball", ["falls", "bounces"], 5, num_inference_steps=STEPS, generator=_gen(7))
    c = s("a ball", ["falls", "bounces"], 5, num_inference_steps=STEPS, generator=_gen(8))
    assert a.shape == (17, 64, 64, 3)  # (5 − 1)·4 + 1 frames from 5 latent frames
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    # progress: every chunk evaluation of every step, in order, ending on the last step
    assert len(calls) == s.planned_calls(5, STEPS)
    assert [st for st, _, _ in calls] == sorted(st for st, _, _ in calls)
    assert calls[-1][:2] == (STEPS, STEPS) and {ch for _, _, ch in calls} == {0, 1, 2}


def test_bad_options_raise():
    pipe = tiny_wisa_pipeline("wan")
    with pytest.raises(ValueError, match="unknown mode"):
        SyncosSampler(pipe, mode="fifo")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="baseline_noise"):
        SyncosSampler(pipe, baseline_noise="zeros")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="shorter than one chunk"):
        SyncosSampler(pipe, chunk_len=3)("a", ["b"], 2, num_inference_steps=1)
