"""WISA physical module on CPU: gates, quantity embedding, MoPA gating, loss, condition dropout, overfit."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from filmcrew.models.wisa.physics import (
    EXPERT_HEADS,
    NUM_CATEGORIES,
    NUM_QUANTITIES,
    PhysicalBlock,
    PhysicalClassifier,
    QuantityEmbedding,
    drop_conditions,
    expert_gates,
    sincos_scalars,
    wisa_loss,
)


def _random_categories(b: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(b, NUM_CATEGORIES, generator=g) < 0.3).float()


def test_expert_gates_pair_order_and_deterministic_values() -> None:
    cats = torch.zeros(2, NUM_CATEGORIES)
    cats[0, 0] = 1
    cats[0, 5] = 1
    cats[1, 28] = 1
    g = expert_gates(cats, mode="deterministic")
    assert g.shape == (2, EXPERT_HEADS)
    # Category i gates heads 2i and 2i+1: [c0, c0, c1, c1, ...].
    assert torch.equal(g[:, 0::2], g[:, 1::2])
    assert torch.equal(g[:, 0::2], torch.where(cats > 0, 1.0, 0.1))
    assert g[0, :2].tolist() == [1.0, 1.0] and g[0, 10:12].tolist() == [1.0, 1.0]
    assert g[1, 56:].tolist() == [1.0, 1.0] and g[1, 0].item() == pytest.approx(0.1)


def test_expert_gates_reference_mode_is_seeded_and_flips_a_fifth() -> None:
    cats = _random_categories(2000, seed=3)
    a = expert_gates(cats, generator=torch.Generator().manual_seed(7))
    b = expert_gates(cats, generator=torch.Generator().manual_seed(7))
    c = expert_gates(cats, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.unique(a).tolist() == pytest.approx([0.1, 1.0])
    active = cats.repeat_interleave(2, dim=1) > 0
    flipped_off = (a[active] < 0.5).float().mean().item()  # active experts attenuated
    flipped_on = (a[~active] > 0.5).float().mean().item()  # inactive experts opened
    # 116k independent heads: the standard error of each rate is ~0.002.
    assert flipped_off == pytest.approx(0.2, abs=0.015)
    assert flipped_on == pytest.approx(0.2, abs=0.015)
    # Flips are per head, not per category pair.
    assert not torch.equal(a[:, 0::2], a[:, 1::2])


def test_expert_gates_reject_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(B, 29\)"):
        expert_gates(torch.zeros(2, 28))
    with pytest.raises(ValueError, match="0/1"):
        expert_gates(torch.full((1, NUM_CATEGORIES), 0.5))
    with pytest.raises(ValueError, match="mode"):
        expert_gates(torch.zeros(1, NUM_CATEGORIES), mode="soft")  # type: ignore[arg-type]


def test_sincos_scalars_layout_and_values() -> None:
    x = torch.zeros(2, NUM_QUANTITIES)
    x[0, 0], x[0, 1], x[1, 17] = 1.0, math.pi, -250.0
    emb = sincos_scalars(x, 80)  # k = (80 // 2) // 18 = 2 frequencies: 1 and 10000**-0.5
    assert emb.shape == (2, 80)
    f = [1.0, 0.01]
    # Scalar 0 of sample 0 (x=1): [cos(1), cos(0.01), sin(1), sin(0.01)].
    assert emb[0, :4].tolist() == pytest.approx(
        [math.cos(1), math.cos(0.01), math.sin(1), math.sin(0.01)], abs=1e-6
    )
    assert emb[0, 4:8].tolist() == pytest.approx(
        [-1.0, math.cos(0.01 * math.pi), 0.0, math.sin(0.01 * math.pi)], abs=1e-6
    )
    # A zero scalar embeds as [1, 1, 0, 0]; the last scalar sits at 68..71; 72..79 are padding.
    assert emb[1, :4].tolist() == pytest.approx([1, 1, 0, 0])
    want = [math.cos(-250 * fi) for fi in f] + [math.sin(-250 * fi) for fi in f]
    assert emb[1, 68:72].tolist() == pytest.approx(want, abs=1e-5)
    assert torch.count_nonzero(emb[:, 72:]) == 0
    with pytest.raises(ValueError, match="too small"):
        sincos_scalars(x, 20)


def test_quantity_embedding_shapes_both_variants() -> None:
    q = torch.randn(3, NUM_QUANTITIES)
    cog = QuantityEmbedding(32, variant="cogvideox", time_embed_dim=24)
    assert cog(q, torch.randn(3, 24)).shape == (3, 3, 32)
    assert cog.quantify_proj.in_features == 48  # sincos width = 2 * time_embed_dim
    with pytest.raises(ValueError, match="sincos width"):
        QuantityEmbedding(32, variant="cogvideox", time_embed_dim=16)
    with pytest.raises(ValueError, match="temb"):
        cog(q)
    wan = QuantityEmbedding(32, variant="wan", freq_dim=64)
    assert wan(q).shape == (3, 3, 32)
    mlp = QuantityEmbedding(32, variant="wan", freq_dim=64, adaln_mlp=True)
    assert mlp(q).shape == (3, 3, 32)
    assert (
        isinstance(mlp.linear_adaln, torch.nn.Sequential)
        and mlp.linear_adaln[0].out_features == 512
    )
    with pytest.raises(ValueError, match=r"\(B, 18\)"):
        wan(torch.randn(3, 10))


@pytest.mark.parametrize("qk_norm", ["layer_norm", "rms_norm_across_heads"])
def test_inactive_experts_speak_at_exactly_a_tenth(qk_norm: str) -> None:
    torch.manual_seed(0)
    block = PhysicalBlock(24, 8, qk_norm=qk_norm).eval()  # type: ignore[arg-type]
    h = torch.randn(1, 10, 24)
    mod = torch.randn(1, 3, 24) * 0.3
    cats = torch.zeros(1, NUM_CATEGORIES)
    cats[0, 4] = 1  # only category 4 (heads 8, 9) active
    g = expert_gates(cats, mode="deterministic")

    def out(gates: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return block(h, mod, gates).double()

    def pair(j: int, value: float, base: torch.Tensor) -> torch.Tensor:
        gg = base.clone()
        gg[0, 2 * j : 2 * j + 2] = value
        return gg

    zero = torch.zeros_like(g)
    alone = {j: out(pair(j, 1.0, zero)) - out(zero) for j in (4, 11)}  # one pair at full volume
    assert alone[11].abs().max() > 1e-3
    # Silencing inactive pair 11 removes exactly 0.1 of what that pair says at full volume ...
    d_inactive = out(g) - out(pair(11, 0.0, g))
    torch.testing.assert_close(d_inactive, 0.1 * alone[11], atol=1e-6, rtol=1e-4)
    # ... while silencing the active pair 4 removes all of it.
    d_active = out(g) - out(pair(4, 0.0, g))
    torch.testing.assert_close(d_active, alone[4], atol=1e-6, rtol=1e-4)


def test_zero_adaln_gate_makes_the_block_an_identity() -> None:
    torch.manual_seed(1)
    block = PhysicalBlock(24, 8, qk_norm="layer_norm", norm_affine=True)
    h = torch.randn(2, 7, 24)
    mod = torch.randn(2, 3, 24)
    gates = expert_gates(_random_categories(2, 0), mode="deterministic")
    assert not torch.allclose(block(h, mod, gates), h)
    mod[:, 2] = 0
    assert torch.equal(block(h, mod, gates), h)
    with pytest.raises(ValueError, match="gates"):
        block(h, mod, gates[:, :20])


def test_wisa_loss_balances_both_regimes() -> None:
    cats = _random_categories(4, 1)
    d = torch.tensor(0.7)
    # Confident and right: BCE < 1 -> + 0.05 * BCE * (1 + BCE) / (1 + BCE + 1e-5) ~ 0.05 * BCE.
    good = (cats * 2 - 1) * 3.0
    bce = F.binary_cross_entropy_with_logits(good, cats).item()
    assert bce < 1
    assert wisa_loss(d, good, cats).item() == pytest.approx(
        0.7 + 0.05 * bce * (1 + bce) / (1 + bce + 1e-5), rel=1e-6
    )
    # Confident and wrong: BCE > 1 -> + 0.10 * (1 + BCE) / (1 + BCE + 1e-5) ~ 0.10.
    bad = -good * 2
    assert wisa_loss(d, bad, cats).item() == pytest.approx(0.8, abs=1e-5)
    # The gradient reaches the logits.
    logits = good.clone().requires_grad_(True)
    wisa_loss(d, logits, cats).backward()
    assert logits.grad is not None and logits.grad.abs().sum() > 0


def test_drop_conditions_per_sample_seeded() -> None:
    b = 4000
    cats = torch.ones(b, NUM_CATEGORIES)
    quants = torch.ones(b, NUM_QUANTITIES)
    c1, q1 = drop_conditions(cats, quants, p=0.1, generator=torch.Generator().manual_seed(0))
    c2, q2 = drop_conditions(cats, quants, p=0.1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(c1, c2) and torch.equal(q1, q2)
    dropped_c, dropped_q = (c1.sum(1) == 0), (q1.sum(1) == 0)
    assert torch.all((c1.sum(1) == 0) | (c1.sum(1) == NUM_CATEGORIES))  # whole rows only
    assert dropped_c.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert dropped_q.float().mean().item() == pytest.approx(0.1, abs=0.02)
    assert not torch.equal(dropped_c, dropped_q)  # independent draws


def test_classifier_and_block_overfit_fixed_batch() -> None:
    torch.manual_seed(0)
    dim = 32
    block = PhysicalBlock(dim, 8, qk_norm="layer_norm")
    clf = PhysicalClassifier(dim)
    token = torch.nn.Parameter(torch.randn(dim))
    emb = QuantityEmbedding(dim, variant="cogvideox", time_embed_dim=24)
    cats = _random_categories(8, 5)
    quants = torch.randn(8, NUM_QUANTITIES)
    temb = torch.randn(8, 24)
    video = torch.randn(8, 12, dim)
    gates = expert_gates(cats, mode="deterministic")
    params = [token, *block.parameters(), *clf.parameters(), *emb.parameters()]
    opt = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(30):
        h = torch.cat([token.expand(8, 1, dim), video], dim=1)
        logits = clf(block(h, emb(quants, temb), gates)[:, 0])
        loss = F.binary_cross_entropy_with_logits(logits, cats)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.3 * losses[0], losses
