"""The rolling flow-matching sampler on tiny models (METHODS.md §6.4, §6.6).

What a user would notice: the noise levels are the paper's, step for step; a model that knows the
answer gets it back exactly, so the first frame after the warm-up is clean (t = 1) and so is every
later one; each further frame costs n window passes; class guidance at scale 0 is unconditional and
at 1 conditional; A2V/V2A pass the known modality through and guidance 0 is the limit of small
guidance; a stream three windows long holds no more memory in its third window than its second.
"""

from __future__ import annotations

import gc
import itertools
import warnings

import pytest
import torch
from torch import nn

from filmcrew.models.rflav.flav import TINY_FLAV_CONFIG
from filmcrew.models.rflav.keys import load_flav
from filmcrew.tools.video.rflav.sampler import (
    DEFAULT_GUIDANCE,
    StreamStats,
    noise_levels_rolling,
    noise_levels_warmup,
    planned_passes,
    stream,
    t_model,
)

W = TINY_FLAV_CONFIG.window


@pytest.fixture(scope="module")
def model():
    return load_flav(None, debug=True)[0]


class Oracle(nn.Module):
    """Knows the clean target: velocity (x1 − x_t)/(1 − t), exact on straight flow paths."""

    def __init__(self, target_v: torch.Tensor, target_a: torch.Tensor):
        super().__init__()
        self.config = TINY_FLAV_CONFIG
        self.null_class = TINY_FLAV_CONFIG.num_classes
        self.anchor = nn.Parameter(torch.zeros(1, dtype=torch.float64))
        self.tv, self.ta, self.seen = target_v, target_a, []

    def forward(self, v, a, tv, ta, y=None):
        t = (tv - 1) / 999  # back from the model's timestep to flow time
        self.seen.append(t[0].clone())
        s = (1 - t)[..., None, None, None]
        return (self.tv - v) / s, (self.ta - a) / s


def test_warmup_levels_are_the_papers_for_w10_n2():
    lv = noise_levels_warmup(10, 2)
    assert lv.shape == (21, 10)
    assert torch.equal(lv[0], torch.zeros(10, dtype=torch.float64))
    expect_end = torch.tensor([1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1], dtype=torch.float64)
    assert torch.allclose(lv[-1], expect_end, atol=1e-12, rtol=0)
    # τ_1 = 19/20: only frame 0 has started to move
    assert torch.allclose(lv[1], torch.tensor([0.05] + [0.0] * 9, dtype=torch.float64), atol=1e-12)
    # a staircase: frames start one after another and never go back
    assert bool((lv[1:] >= lv[:-1]).all())
    assert torch.allclose(lv[10], torch.tensor([0.5, 0.4, 0.3, 0.2, 0.1] + [0.0] * 5,
                                               dtype=torch.float64), atol=1e-12)


def test_rolling_levels_are_the_papers_for_w10_n2():
    lv = noise_levels_rolling(10, 2)
    k = torch.arange(10, dtype=torch.float64)
    assert torch.allclose(lv[0], 0.9 - 0.1 * k, atol=1e-12, rtol=0)  # [0.9 … 0.0]
    assert torch.allclose(lv[1], 0.95 - 0.1 * k, atol=1e-12, rtol=0)  # [0.95 … 0.05]
    assert torch.allclose(lv[2], 1.0 - 0.1 * k, atol=1e-12, rtol=0)  # back to the staircase
    assert torch.allclose(lv[1:] - lv[:-1], torch.full((2, 10), 0.05, dtype=torch.float64))
    # a frame's life: it enters at the last slot at level 0 and moves one slot down per roll;
    # it gets W·n = 20 updates of 1/(n·W) and leaves at exactly 1
    life = [float(lv[i, 9 - r]) for r in range(10) for i in range(2)] + [float(lv[2, 0])]
    assert life[0] == 0.0 and len(life) - 1 == 20 and life[-1] == 1.0
    assert all(abs(b - a - 0.05) < 1e-12 for a, b in itertools.pairwise(life))
    assert float(t_model(torch.tensor(0.0))) == 1.0 and float(t_model(torch.tensor(1.0))) == 1000.0


def test_an_oracle_model_gets_clean_frames_from_the_first_one_on():
    g = torch.Generator().manual_seed(0)
    tv = torch.randn(1, W, 4, 8, 8, generator=g, dtype=torch.float64)
    ta = torch.randn(1, W, 1, 16, 10, generator=g, dtype=torch.float64)
    oracle = Oracle(tv, ta)
    out = list(stream(oracle, n=2, frames=3, seed=1))
    # the window's target does not move with the shift, so frame j ends at target slot 0 each time
    for v, a in out:
        assert torch.allclose(v, tv[:, 0], atol=1e-9) and torch.allclose(a, ta[:, 0], atol=1e-9)
    seen = torch.stack(oracle.seen)
    warm, roll = noise_levels_warmup(W, 2), noise_levels_rolling(W, 2)
    assert torch.allclose(seen[: 2 * W], warm[:-1], atol=1e-9)  # the model ran at the paper's levels
    assert torch.allclose(seen[2 * W:2 * W + 2], roll[:-1], atol=1e-9)


def test_each_further_frame_costs_n_window_passes(model):
    calls: list[int] = []
    handle = model.register_forward_hook(lambda m, i, o: calls.append(i[0].shape[1]))
    for n in (1, 2, 3):
        calls.clear()
        stats = StreamStats()
        frames = stream(model, n=n, frames=7, seed=0, stats=stats)
        next(frames)
        assert stats.warmup_passes == W * n and len(calls) == W * n
        rest = list(frames)
        assert len(rest) == 6 and len(calls) == W * n + 6 * n == planned_passes(7, W, n)
        assert set(calls) == {W}  # always the full window
    handle.remove()


def test_class_guidance_scale_0_is_unconditional_and_1_conditional(model):
    def run(**kw):
        return torch.cat([v for v, _ in stream(model, frames=3, seed=5, **kw)])

    uncond, cond = run(), run(y=2)
    assert torch.allclose(run(y=2, cfg_scale=0.0), uncond, atol=1e-5)
    assert torch.allclose(run(y=2, cfg_scale=1.0), cond, atol=1e-6)
    assert not torch.allclose(cond, uncond, atol=1e-3)
    stats = StreamStats()
    list(stream(model, frames=2, y=2, cfg_scale=3.0, stats=stats))
    assert stats.model_calls == stats.passes  # the CFG pair is one batched call


@pytest.mark.parametrize("mode", ["a2v", "v2a"])
def test_reconstruction_guidance_0_is_its_small_scale_limit_and_known_passes_through(model, mode):
    g = torch.Generator().manual_seed(3)
    shape = (6, 1, 16, 10) if mode == "a2v" else (6, 4, 8, 8)
    known = torch.randn(*shape, generator=g)
    gen_index = 0 if mode == "a2v" else 1

    def run(scale):
        out = list(stream(model, frames=6, mode=mode, known=known, guidance_scale=scale, seed=2))
        return torch.cat([o[gen_index] for o in out]), torch.cat([o[1 - gen_index] for o in out])

    off, passed = run(0.0)
    assert torch.equal(passed, known)  # the known modality comes out as given
    tiny, _ = run(1e-7)
    on, _ = run(DEFAULT_GUIDANCE[mode])  # the official scripts' scale on the mean error
    assert torch.allclose(tiny, off, atol=1e-6)
    assert (on - off).abs().max() > 1e-5  # the official mean error: small on a tiny random model


def test_known_stream_can_be_an_iterator_and_run_out(model):
    frames = (torch.zeros(1, 16, 10) for _ in range(3))
    out = list(stream(model, frames=5, mode="a2v", known=frames, seed=0))
    assert len(out) == 5 and out[4][1].abs().sum() > 0  # past the end: audio generated jointly


def _is_tensor(obj: object) -> bool:
    try:
        return isinstance(obj, torch.Tensor)
    except ReferenceError:  # a weak proxy whose object is gone (left by other tests in the process)
        return False


def _live_tensor_bytes() -> tuple[int, int]:
    gc.collect()
    with warnings.catch_warnings():  # isinstance on torch.distributed's deprecated aliases warns
        warnings.simplefilter("ignore")
        ts = [o for o in gc.get_objects() if _is_tensor(o)]
    return len(ts), sum(t.numel() * t.element_size() for t in ts)


def test_streaming_three_windows_keeps_memory_flat(model):
    stats = StreamStats()
    counts = []
    for v, _ in itertools.islice(stream(model, frames=None, seed=0, stats=stats), 3 * W):
        del v
        counts.append(_live_tensor_bytes())
    second, third = counts[W:2 * W], counts[2 * W:3 * W]
    assert max(c for c, _ in third) == max(c for c, _ in second)
    assert max(b for _, b in third) == max(b for _, b in second)
    assert stats.window_frames == W and stats.emitted == 3 * W


def test_bad_arguments_are_refused(model):
    with pytest.raises(ValueError, match="mode"):
        next(stream(model, mode="t2v"))
    with pytest.raises(ValueError, match="'known' goes with"):
        next(stream(model, mode="a2v"))
    with pytest.raises(ValueError, match="frames must be"):
        next(stream(model, frames=0))
