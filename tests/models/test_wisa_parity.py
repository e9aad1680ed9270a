"""WISA against the official code (360CVGroup/WISA @fcdc0b1 on diffusers 8b4f8ba).

tests/data/reference/wisa_tiny_{cogvideox,wan}.* hold whole tiny official WISA transformers (base
blocks under diffusers names, the WISA parts under official names), the `phys_weights.safetensors`
subset the official trainer writes, and the official outputs for nominal gates, flipped gates and
zero physics (the CFG null rows). Our wrapper loads the base weights into the diffusers model, the
WISA parts through our key map from the phys_weights file, and must give the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from filmcrew.models.wisa.keys import load_phys_weights

REF = Path(__file__).parents[1] / "data" / "reference"
WISA_ONLY = ("shared_head", "expert_head", "quantufiy_dim", "insert_gap", "whether_classifier")


def build(variant: str):
    meta = json.loads((REF / f"wisa_tiny_{variant}.json").read_text(encoding="utf-8"))
    cfg = {k: v for k, v in meta["model_config"].items() if k not in WISA_ONLY}
    if variant == "cogvideox":
        from diffusers import CogVideoXTransformer3DModel

        from filmcrew.models.wisa.transformer import WisaCogVideoXTransformer

        model = WisaCogVideoXTransformer(CogVideoXTransformer3DModel(**cfg))
    else:
        from diffusers import WanTransformer3DModel

        from filmcrew.models.wisa.transformer import WisaWanTransformer

        cfg["patch_size"] = tuple(cfg["patch_size"])
        model = WisaWanTransformer(WanTransformer3DModel(**cfg))
    full = load_file(str(REF / f"wisa_tiny_{variant}.safetensors"))
    missing, unexpected = model.base.load_state_dict(
        {k: v for k, v in full.items() if "phys" not in k}, strict=False)
    assert not missing and not unexpected
    phys = load_file(str(REF / f"wisa_tiny_{variant}_phys_weights.safetensors"))
    assert phys.keys() == {k for k in full if "phys" in k}
    load_phys_weights(model, phys)
    return model.eval()


def official_gates(priori: torch.Tensor, rand: torch.Tensor) -> torch.Tensor:
    """Head-repeated priori [c0, c0, c1, c1, …] → 1.0 / 0.1, flipped where rand < 0.2."""
    from filmcrew.models.wisa.physics import expert_gates

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(torch, "rand", lambda *a, **k: rand.clone())
        return expert_gates(priori, mode="reference")


@pytest.mark.parametrize("variant", ["cogvideox", "wan"])
@pytest.mark.parametrize("case", ["gates_nominal", "gates_flipped", "null_physics"])
def test_tiny_wisa_transformer_matches_the_official_model(variant, case):
    model = build(variant)
    io = load_file(str(REF / f"wisa_tiny_{variant}_io.safetensors"))
    p, q = io["in.priori"], io["in.quantify_priori"]
    if case == "null_physics":
        p, q = torch.zeros_like(p), torch.zeros_like(q)
    kw = {}
    if variant == "cogvideox":
        kw["image_rotary_emb"] = (io["in.rotary_cos"], io["in.rotary_sin"])
    seen: dict[str, torch.Tensor] = {}
    model.physical_block.register_forward_hook(lambda m, a, out: seen.update(phys=out))
    with torch.no_grad():
        sample, logits = model(io["in.hidden_states"], io["in.encoder_hidden_states"],
                               io["in.timestep"], categories=p, quantities=q,
                               gates=official_gates(p, io[f"{case}.rand"]), return_logits=True,
                               **kw)
    torch.testing.assert_close(seen["phys"], io[f"{case}.phys_block.out"], rtol=1e-5, atol=2e-5)
    torch.testing.assert_close(logits, io[f"{case}.phys_logits"], rtol=0, atol=1e-5)
    torch.testing.assert_close(sample, io[f"{case}.sample"], rtol=1e-5, atol=2e-5)
    aux = torch.nn.functional.binary_cross_entropy_with_logits(logits, p)
    torch.testing.assert_close(aux.reshape(1), io[f"{case}.aux_loss"], rtol=0, atol=1e-6)


def test_quantity_embedding_mlp_branch_of_the_released_wan_14b():
    """Input width 1040 > 1024: linear_adaln is Linear(1040, 512) → SiLU → Linear(512, 3·24)."""
    from filmcrew.models.wisa.physics import QuantityEmbedding, sincos_scalars

    io = load_file(str(REF / "wisa_quantify_mlp_io.safetensors"))
    weights = load_file(str(REF / "wisa_quantify_mlp.safetensors"))
    emb = QuantityEmbedding(24, variant="wan", freq_dim=128, hidden=1040)
    ours = {k.removeprefix("phys_quantify_embedder."): v for k, v in weights.items()}
    with torch.no_grad():
        emb.scale_shift_table.zero_()  # the table lives in the official block, not this module
    missing, unexpected = emb.load_state_dict(ours, strict=False)
    assert missing == ["scale_shift_table"] and not unexpected
    with torch.no_grad():
        out = io["in.timestep_proj"] + emb(io["in.quantify_priori"])
    torch.testing.assert_close(out, io["out.before_false"], rtol=0, atol=1e-5)
    for width in (128, 512, 1024):
        torch.testing.assert_close(sincos_scalars(io["in.quantify_priori"], width),
                                   io[f"sincos.freq{width}"], rtol=0, atol=1e-6)


def test_annotations_become_the_official_vectors():
    """Official load_prompt_json on assets/example.json: substring matching, so the misspelt
    'liquid objects appearance' does not set the 'liquids objects appearance' entry."""
    from filmcrew.schemas import PhysicsAnnotation

    ref = json.loads((REF / "wisa_priori_from_annotations.json").read_text(encoding="utf-8"))
    for case in ref["cases"]:
        ann = PhysicsAnnotation.from_wisa_record("s", case["annotation"])
        assert ann.qualitative == case["priori_29"]
        torch.testing.assert_close(torch.tensor(ann.quantitative),
                                   torch.tensor(case["quantify_priori_18"]), rtol=1e-6, atol=0)
