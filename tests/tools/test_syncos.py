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
    has_physics,
    tiny_base_pipeline,
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
    assert chunk_texts("A red ball in a kitchen.", ["falls", "bounces."]) == [
        "falls. A red ball in a kitchen.", "bounces. A red ball in a kitchen."]
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
    if base == "cogvideox":  # default t_min couples only t = 999 of these 4 steps, where x_t
        # holds no signal (zero-SNR DDIM): nothing to refine
        assert SyncosSampler(pipe, chunk_len=3, stride=1, iters=2).coupled_steps(STEPS) == [False] * 4
    coupled = SyncosSampler(pipe, chunk_len=3, stride=1, iters=2, t_min=-1.0)
    out = coupled("a ball", ["falls", "bounces"], 6, generator=_gen(), **kw)
    assert (out - ref).abs().max() > 1e-4  # what the change is, is checked by the tests below
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


def _two_step_ddim(base_pipe: bool = False):
    """Tiny CogVideoX with a 2-step DDIM ("trailing"): t = 999 (ᾱ = 0 exactly, zero-SNR) then 499."""
    from diffusers import CogVideoXDDIMScheduler

    pipe = tiny_base_pipeline("cogvideox", seed=0) if base_pipe else tiny_wisa_pipeline("cogvideox")
    pipe.scheduler = CogVideoXDDIMScheduler.from_config(pipe.scheduler.config)
    return pipe


def test_no_stage2_movement_where_the_score_residual_is_zero():
    # At t = 999 of a zero-SNR schedule x_t = ε_base whatever x̂0, so the residual is exactly 0 and
    # x̂0 must not move; the old AdamW update moved it by about its own size there (the kernel
    # gradient, ~1e-7, normalised into full-size steps).
    pipe = _two_step_ddim()
    kw = dict(num_inference_steps=1, output_type="latent")
    ref = SyncosSampler(pipe, chunk_len=3, stride=1, mode="gen-l-video")(
        "a ball", ["falls", "bounces"], 6, generator=_gen(), **kw)
    s = SyncosSampler(pipe, chunk_len=3, stride=1, iters=5, t_min=-1.0, lr=0.5)
    out = s("a ball", ["falls", "bounces"], 6, generator=_gen(), **kw)
    assert torch.equal(out, ref)
    assert s.coupled_steps(1) == [False] and s.model_calls == 4  # stage 1 only: no wasted calls


def test_stage2_step_size_follows_the_objective_not_the_learning_rate():
    # Kernel term only (score off): scaling the gradient by 1e-4 scales the movement with it. AdamW
    # normalised any gradient into steps of about lr, so both moved x̂0 alike.
    pipe = _two_step_ddim()
    def moved(coeff: float) -> float:
        run = lambda **o: SyncosSampler(pipe, chunk_len=3, stride=1, t_min=-1.0, lr=0.5, **o)(  # noqa: E731
            "a ball", ["falls"], 6, num_inference_steps=2, generator=_gen(), output_type="latent")
        return float((run(iters=3, score_coeff=0.0, kernel_coeff=coeff) - run(mode="gen-l-video")).abs().max())

    big, small = moved(1.0), moved(1e-4)
    assert big > 0 and 0 < small < 1e-2 * big


def test_frames_outside_the_minibatch_do_not_move():
    # Three disjoint chunks, one per iteration in turn. A second iteration refines chunk 1 only:
    # chunk 0's frames keep the first iteration's values exactly, chunk 2's never move. (A Gaussian
    # baseline noise: with disjoint chunks the fused one makes each chunk's residual exactly 0.)
    pipe = _two_step_ddim()

    def run(**opts):
        return SyncosSampler(pipe, chunk_len=3, stride=3, minibatch=1, t_min=-1.0, lr=0.5,
                             baseline_noise="gaussian_fixed_per_step", **opts)("a ball", ["falls", "rolls", "stops"], 9, num_inference_steps=2,
                                     generator=_gen(), output_type="latent")

    glv, one, two = run(mode="gen-l-video"), run(iters=1), run(iters=2)
    assert (one[:, :3] - glv[:, :3]).abs().max() > 1e-4  # iteration 1 did move chunk 0
    assert torch.equal(two[:, :3], one[:, :3])
    assert (two[:, 3:6] - one[:, 3:6]).abs().max() > 1e-4
    assert torch.equal(one[:, 3:], glv[:, 3:]) and torch.equal(two[:, 6:], glv[:, 6:])


def test_csd_does_not_raise_the_disagreement_between_overlapping_chunks():
    # Disagreement: how far the overlapping chunks' x̂0 predictions of the same frames are from their
    # mean, measured before and after each stage-2 refinement at that step's own timestep.
    pipe = tiny_base_pipeline("cogvideox", seed=0)
    seen: list[tuple[float, float]] = []

    class Probe(SyncosSampler):
        def spread(self, theta, eps, sched, i, windows, conds, gates, rotary, scale_input):
            parts = []
            for c, w in enumerate(windows):
                x_t = sched.noise(self._chunk(theta, w), self._chunk(eps, w), i)
                pred = self._predict(x_t, sched.timesteps[i], self._guidance(sched, i), conds[c], gates,
                                     rotary, scale_input)
                parts.append(sched.split(x_t, pred, i)[0])
            mean = self._scatter_mean(parts, windows, theta)
            return sum(float((p - self._chunk(mean, w)).pow(2).sum()) for p, w in zip(parts, windows, strict=True))

        def refine(self, x0, eps, sched, i, *args, on_call=None):
            out = super().refine(x0, eps, sched, i, *args)
            seen.append((self.spread(x0, eps, sched, i, *args), self.spread(out, eps, sched, i, *args)))
            return out

    Probe(pipe, chunk_len=3, stride=1, iters=10, lr=1.0, minibatch=None, t_min=-1.0)(
        "a red ball", ["falls", "bounces"], 6, num_inference_steps=4, generator=_gen(),
        output_type="latent")
    assert len(seen) == 3  # steps at t = 749, 499, 249 (t = 999 holds no signal)
    assert all(after <= before for before, after in seen)
    assert all(before > 0 for before, _ in seen)


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


# -- prompts, base models, devices ----------------------------------------------------------------------


def test_a_long_global_prompt_never_cuts_a_chunks_event():
    pipe = tiny_base_pipeline("wan", seed=0)
    global_prompt = "A red rubber ball in a sunlit kitchen, warm film look. " * 40  # > 500 tokens
    events = ["the ball rolls off the table", "the ball bounces on the tiles"]
    texts = chunk_texts(global_prompt, events)
    ids = pipe.tokenizer(texts, max_length=pipe.max_text_tokens, truncation=True).input_ids
    assert len(pipe.tokenizer(global_prompt).input_ids) > pipe.max_text_tokens
    for event, row in zip(events, ids, strict=True):
        assert event.replace(" ", "") in pipe.tokenizer.decode(row).replace(" ", "")


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_syncos_runs_over_a_plain_base_transformer(base):
    pipe = tiny_base_pipeline(base, seed=0)
    assert not has_physics(pipe.transformer) and has_physics(tiny_wisa_pipeline(base).transformer)
    s = SyncosSampler(pipe, chunk_len=3, stride=1, iters=2, t_min=-1.0)
    a = s("a ball", ["falls", "bounces"], 5, num_inference_steps=3, generator=_gen(7))
    b = s("a ball", ["falls", "bounces"], 5, num_inference_steps=3, generator=_gen(7))
    assert a.shape == (17, 64, 64, 3) and np.array_equal(a, b)
    assert s.model_calls == 2 * s.planned_calls(5, 3)
    with pytest.raises(ValueError, match="WISA transformer"):
        SyncosSampler(pipe, physics_guidance_scale=2.0)


@pytest.mark.parametrize("which", ["base", "wisa"])
def test_every_tensor_of_the_loop_follows_the_model_device(which):
    # The transformer on `meta`: any tensor left on the CPU inside the loop (noise, gates, rotary,
    # kernel bandwidth, prompt embeddings) raises a device mismatch; a host sync (.item()) raises too.
    pipe = tiny_base_pipeline("cogvideox") if which == "base" else tiny_wisa_pipeline("cogvideox")
    pipe.transformer.to("meta")
    for noise in ("fused_eps", "gaussian_fixed_per_step"):
        s = SyncosSampler(pipe, chunk_len=3, stride=1, iters=2, t_min=-1.0, baseline_noise=noise)
        out = s("a ball", ["falls", "bounces"], 5, num_inference_steps=3, generator=_gen(),
                output_type="latent")
        assert out.device.type == "meta" and out.shape == (1, 5, 4, 8, 8)
