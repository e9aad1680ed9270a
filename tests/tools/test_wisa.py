"""WISA pipeline on tiny random models built in code: text, guidance batch, sampling, loading, training.

What a user would notice: the physics paragraph reaches the model and long texts are cut at 500
tokens; the unconditional branch carries no physics; a seed gives the same clip and the physics
conditions change it; the clip is fitted to the film's frame and length; missing weights name what
to fetch; saved weights load back into the same pipeline; fine-tuning fits a batch.
"""

from __future__ import annotations

import copy
import json
import re

import numpy as np
import pytest
import torch

from filmcrew.schemas import PhysicsAnnotation
from filmcrew.tools.video.fit import fit_clip, source_frames
from filmcrew.tools.video.wisa.pipeline import (
    MAX_TEXT_TOKENS,
    build_cfg_batch,
    combine_guidance,
    load_wisa,
    text_for,
    tiny_wisa_pipeline,
)
from filmcrew.tools.video.wisa.weights import (
    WisaWeightsMissing,
    apply_lora,
    find_wisa_files,
    map_lora_key,
)


@pytest.fixture(scope="module")
def pipes():
    return {base: tiny_wisa_pipeline(base, seed=0) for base in ("cogvideox", "wan")}


def annotation(physics: str = "Gravity accelerates the ball at 9.8 m/s².") -> PhysicsAnnotation:
    return PhysicsAnnotation(shot_id="s1", caption="A red ball falls onto a wooden floor.",
                             physics_text=physics, dynamics=["collision", "rigid body motion"],
                             time_range_s=(0.0, 2.0))


# -- text ------------------------------------------------------------------------------------------


def test_text_is_caption_then_physics_paragraph():
    assert text_for(annotation()) == ("A red ball falls onto a wooden floor. "
                                      "Gravity accelerates the ball at 9.8 m/s².")
    assert text_for(annotation(physics="  ")) == "A red ball falls onto a wooden floor."


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_text_reaches_the_model_and_is_cut_at_its_bases_length(pipes, base):
    # CogVideoX-WISA raises CogVideoX's 226 tokens to 500; Wan-WISA keeps Wan's 512 (TEXT_TOKENS)
    pipe = pipes[base]
    assert pipe.max_text_tokens == {"cogvideox": MAX_TEXT_TOKENS, "wan": 512}[base]
    long = text_for(annotation("Momentum is conserved in the collision. " * 40))
    ids = pipe.tokenizer([long], padding="max_length", max_length=MAX_TEXT_TOKENS, truncation=True)
    assert len(ids.input_ids[0]) == 500 and ids.input_ids[0][-1] == pipe.tokenizer.eos_token_id
    emb = pipe.encode_text([long])
    assert emb.shape == (1, pipe.max_text_tokens, 32)
    # Past the limit nothing counts; within it the physics paragraph does.
    assert torch.equal(emb, pipe.encode_text([long + " And then it stops."]))
    a, b = pipe.encode_text([text_for(annotation())]), pipe.encode_text([text_for(annotation("Heat."))])
    assert not torch.allclose(a, b)
    short = pipe.tokenizer(["A ball."], padding="max_length", max_length=500, truncation=True)
    n = sum(short.attention_mask[0])
    assert short.input_ids[0][n:] == [0] * (500 - n)
    if base == "wan":  # Wan zeroes the padding positions of the text
        assert torch.count_nonzero(a[0, len(text_for(annotation())) + 2:]) == 0


# -- guidance batch --------------------------------------------------------------------------------


def test_cfg_batch_zeroes_both_physics_vectors_in_the_unconditional_rows():
    text, neg = torch.full((1, 5, 4), 2.0), torch.full((1, 5, 4), -1.0)
    cats, quants = torch.ones(1, 29), torch.arange(18.0).view(1, 18) + 1
    e, c, q = build_cfg_batch(text, neg, cats, quants, guidance_scale=6.0)
    assert e.shape[0] == c.shape[0] == q.shape[0] == 2
    assert torch.equal(e[0], neg[0]) and torch.equal(e[1], text[0])
    assert not c[0].any() and not q[0].any()
    assert torch.equal(c[1], cats[0]) and torch.equal(q[1], quants[0])

    e, c, q = build_cfg_batch(text, neg, cats, quants, guidance_scale=6.0, physics_guidance_scale=3.0)
    assert [torch.equal(r, x[0]) for r, x in zip(e, (neg, text, text), strict=True)] == [True] * 3
    assert not c[:2].any() and not q[:2].any()
    assert torch.equal(c[2], cats[0]) and torch.equal(q[2], quants[0])

    e, c, q = build_cfg_batch(text, neg, cats, quants, guidance_scale=1.0)
    assert e.shape[0] == 1 and torch.equal(c, cats)
    with pytest.raises(ValueError, match="categories"):
        build_cfg_batch(text, neg, torch.ones(1, 28), quants, guidance_scale=6.0)


def test_guidance_combines_the_branches():
    u, t, tp = torch.full((1, 3), 1.0), torch.full((1, 3), 3.0), torch.full((1, 3), 7.0)
    two = combine_guidance(torch.cat([u, t]), guidance_scale=2.0)
    assert torch.allclose(two, torch.full((1, 3), 1.0 + 2 * (3 - 1)))
    three = combine_guidance(torch.cat([u, t, tp]), guidance_scale=2.0, physics_guidance_scale=0.5)
    assert torch.allclose(three, torch.full((1, 3), 1.0 + 2 * 2 + 0.5 * 4))


# -- sampling --------------------------------------------------------------------------------------


def _schedulers():
    from diffusers import (
        CogVideoXDDIMScheduler,
        CogVideoXDPMScheduler,
        FlowMatchEulerDiscreteScheduler,
        UniPCMultistepScheduler,
    )

    v = dict(prediction_type="v_prediction", rescale_betas_zero_snr=True, clip_sample=False,
             timestep_spacing="trailing", snr_shift_scale=1.0)
    return [("cogvideox", CogVideoXDPMScheduler(**v)), ("cogvideox", CogVideoXDDIMScheduler(**v)),
            ("wan", UniPCMultistepScheduler(prediction_type="flow_prediction",
                                            use_flow_sigmas=True, flow_shift=3.0)),
            ("wan", FlowMatchEulerDiscreteScheduler(shift=3.0))]


@pytest.mark.parametrize("base,scheduler", _schedulers(),
                         ids=["cogvideox-dpm", "cogvideox-ddim", "wan-unipc", "wan-euler"])
def test_sampling_is_seeded_and_conditioned_by_physics(pipes, base, scheduler):
    pipe = copy.copy(pipes[base])
    pipe.scheduler = scheduler
    ann = annotation()
    cats, quants = torch.tensor([ann.qualitative]), torch.tensor([ann.quantitative])
    steps: list[tuple[int, int]] = []

    def run(seed=1, cats=cats, quants=quants, **kw):
        return pipe(text_for(ann), cats, quants, num_inference_steps=3,
                    generator=torch.Generator().manual_seed(seed), **kw)

    a = run(callback=lambda i, n: steps.append((i, n)))
    assert a.shape == (9, 64, 64, 3) and a.dtype == np.uint8 and a.std() > 5  # noise pictures
    assert steps == [(1, 3), (2, 3), (3, 3)]
    assert np.array_equal(a, run())  # the seed fixes latents and the drawn expert gates
    assert not np.array_equal(a, run(seed=2))
    det = run(gate_mode="deterministic")
    assert not np.array_equal(a, det)
    assert not np.array_equal(det, run(gate_mode="deterministic", cats=torch.zeros(1, 29)))
    assert not np.array_equal(det, run(gate_mode="deterministic", quants=torch.zeros(1, 18)))
    assert not np.array_equal(a, run(physics_guidance_scale=3.0))


def test_sizes_the_model_cannot_make_are_refused(pipes):
    pipe = pipes["cogvideox"]
    with pytest.raises(ValueError, match="multiples of 16"):
        pipe("x", num_frames=9, height=60, width=64, num_inference_steps=1)
    with pytest.raises(ValueError, match=r"4·k \+ 1"):
        pipe("x", num_frames=8, height=64, width=64, num_inference_steps=1)
    with pytest.raises(ValueError, match="exactly one"):
        pipe(None, num_inference_steps=1)


# -- fitting to the film ---------------------------------------------------------------------------


def test_clip_is_fitted_to_the_film_frame_and_length():
    native = np.zeros((49, 48, 72, 3), np.uint8)  # 49 frames at 8 fps, 3:2
    for k in range(49):
        native[k, :, :] = 5 * k  # frame number as brightness
    native[:, 22:26, 34:38] = 255  # a marker at the centre
    out = list(fit_clip(native, n_out=36, width=64, height=36, fps=24, native_fps=8))
    assert len(out) == 36 and all(f.shape == (36, 64, 3) for f in out)
    # 1.5 s shot, 6.1 s clip: real time, so film frame i shows generated frame floor(i / 3)
    assert [int(f[2, 2, 0]) // 5 for f in out] == [i // 3 for i in range(36)]
    assert out[0][18, 32, 0] == 255  # centre crop keeps the centre
    # a longer shot (10 s) stretches the clip: it starts at the first and ends at the last frame
    idx = source_frames(240, 24, 49, 8)
    assert idx[0] == 0 and idx[-1] == 48 and np.all(np.diff(idx) >= 0)


# -- weights ---------------------------------------------------------------------------------------


def test_missing_weights_name_what_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf"))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WisaWeightsMissing) as e:
        load_wisa("wan", model=str(empty), wisa_dir=str(empty))
    msg = str(e.value)
    assert "model_index.json" in msg and "Wan-AI/Wan2.1-T2V-14B-Diffusers" in msg
    assert "qihoo360/WISA" in msg and "phys_weights.safetensors" in msg
    assert "pytorch_lora_weights.safetensors" in msg and "\n" not in msg
    with pytest.raises(FileNotFoundError, match="huggingface-cli download THUDM/CogVideoX-5b"):
        load_wisa("cogvideox")  # hub ids, empty cache
    with pytest.raises(ValueError, match="unknown WISA base"):
        load_wisa("sora")  # type: ignore[arg-type]


def test_wisa_files_are_found_in_the_hf_cache_per_base(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    repo = tmp_path / "models--qihoo360--WISA"
    rev = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(rev)
    (repo / "blobs").mkdir()
    for sub in ("wan2.1-t2v-14b-480p-wisa", "cogvideox-5b-wisa"):
        (repo / "snapshots" / rev / sub).mkdir(parents=True)
        for name in ("phys_weights.safetensors", "pytorch_lora_weights.safetensors"):
            blob = repo / "blobs" / f"{sub}-{name}"
            blob.write_text("x")
            (repo / "snapshots" / rev / sub / name).symlink_to(blob)
    phys, lora = find_wisa_files("wan", None)
    assert phys.parent.name == "wan2.1-t2v-14b-480p-wisa" and lora.name.startswith("pytorch_lora")
    assert find_wisa_files("cogvideox", None)[0].parent.name == "cogvideox-5b-wisa"


def test_lora_keys_map_from_diffusers_names():
    assert map_lora_key("transformer.transformer_blocks.3.attn1.to_out.0.lora_B.weight") == (
        "base.transformer_blocks.3.attn1.to_out.0", "B")
    assert map_lora_key("transformer.blocks.0.attn1.to_q.lora_A.weight") == (
        "base.blocks.0.attn1.to_q", "A")
    with pytest.raises(ValueError, match="unrecognised LoRA key"):
        map_lora_key("lora_unet_down_blocks_0.weight")


def _lora_file(model, rank: int, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name, m in model.named_modules():
        if name.startswith("base.") and ".attn1." in name and name.endswith(
                ("to_q", "to_k", "to_v", "to_out.0")):
            key = "transformer." + name.removeprefix("base.")
            out[f"{key}.lora_A.weight"] = torch.randn(rank, m.in_features, generator=g) * 0.1
            out[f"{key}.lora_B.weight"] = torch.randn(m.out_features, rank, generator=g) * 0.1
    return out


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_saved_weights_load_back_into_the_same_pipeline(pipes, base, tmp_path):
    from safetensors.torch import save_file

    from filmcrew.models.wisa.keys import phys_state_dict, to_published

    pipe = copy.copy(pipes[base])
    pipe.transformer = copy.deepcopy(pipe.transformer)
    model_dir, wisa_dir = tmp_path / "base", tmp_path / "wisa" / f"{base}-wisa"
    pipe.transformer.base.save_pretrained(model_dir / "transformer")
    for part in ("vae", "text_encoder", "tokenizer", "scheduler"):
        getattr(pipe, part).save_pretrained(model_dir / part)
    (model_dir / "model_index.json").write_text(json.dumps({"_class_name": "tiny"}))
    wisa_dir.mkdir(parents=True)
    published = to_published(phys_state_dict(pipe.transformer), base)
    save_file({k: v.contiguous() for k, v in published.items()}, wisa_dir / "phys_weights.safetensors")
    lora = _lora_file(pipe.transformer, rank=4, seed=5)
    save_file(lora, wisa_dir / "pytorch_lora_weights.safetensors")

    assert len(apply_lora(pipe.transformer, lora, alpha=16.0)) == len(lora) // 2
    loaded = load_wisa(base, model=str(model_dir), wisa_dir=str(tmp_path / "wisa"), device="cpu")

    def run(p):
        return p("A ball falls.", torch.ones(1, 29), torch.ones(1, 18), num_inference_steps=2,
                 num_frames=9, height=64, width=64,
                 generator=torch.Generator().manual_seed(3))

    a, b = run(pipe), run(loaded)
    assert np.array_equal(a, b)
    without_lora = run(pipes[base])
    assert not np.array_equal(a, without_lora)  # the LoRA (scale 16/4) changed the model

    bad = dict(lora)
    bad["transformer.transformer_blocks.99.attn1.to_q.lora_A.weight"] = torch.zeros(4, 32)
    with pytest.raises(ValueError, match="not in the model"):
        apply_lora(copy.deepcopy(pipes[base].transformer), bad)


# -- training --------------------------------------------------------------------------------------


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_fine_tuning_fits_one_batch_and_leaves_the_base_frozen(base):
    from diffusers import CogVideoXDDIMScheduler, FlowMatchEulerDiscreteScheduler

    from filmcrew.models.wisa.transformer import tiny_cogvideox, tiny_wan
    from filmcrew.tools.video.wisa.train import (
        prepare_for_training,
        wisa_optimizer,
        wisa_training_step,
    )

    model = tiny_cogvideox(0) if base == "cogvideox" else tiny_wan(0)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if n.startswith("base.")}
    params = prepare_for_training(model, rank=8, alpha=8.0, generator=torch.Generator().manual_seed(0))
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert names and all(n.startswith("phys_") or ".lora_" in n for n in names)
    assert any(".attn1.to_q.lora_A" in n for n in names) and any(n.startswith("phys_") for n in names)
    g = torch.Generator().manual_seed(0)
    shape = (2, 3, 4, 8, 8) if base == "cogvideox" else (2, 4, 3, 8, 8)
    batch = {"latents": torch.randn(shape, generator=g),
             "prompt_embeds": torch.randn(2, 16, 32, generator=g),
             "categories": (torch.rand(2, 29, generator=g) < 0.3).float(),
             "quantities": torch.rand(2, 18, generator=g)}
    scheduler = (CogVideoXDDIMScheduler(prediction_type="v_prediction", rescale_betas_zero_snr=True,
                                        timestep_spacing="trailing") if base == "cogvideox"
                 else FlowMatchEulerDiscreteScheduler(shift=3.0))
    opt = wisa_optimizer(params, lr=1e-2)
    hist = [wisa_training_step(model, batch, opt, scheduler=scheduler,
                               generator=torch.Generator().manual_seed(123)) for _ in range(60)]
    assert hist[-1]["loss"] < hist[0]["loss"] / 3, [round(h["loss"], 3) for h in hist[::10]]
    assert hist[-1]["classifier"] < 0.05 < hist[0]["classifier"]
    # Every base weight is unchanged (LoRA-wrapped projections now sit under `<layer>.base`).
    now = {re.sub(r"\.base\.(weight|bias)$", r".\1", n): p for n, p in model.named_parameters()
           if n.startswith("base.") and ".lora_" not in n}
    assert now.keys() == frozen.keys()
    assert all(torch.equal(now[n], frozen[n]) for n in frozen)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU-only refusal")
def test_real_backend_with_weights_but_no_gpu_is_refused(tmp_path, monkeypatch):
    from filmcrew.config import Settings
    from filmcrew.tools.video import WisaGenerator

    base = tmp_path / "base"
    for f in ("model_index.json", "transformer/config.json", "vae/config.json",
              "text_encoder/config.json", "tokenizer/tokenizer.json"):
        (base / f).parent.mkdir(parents=True, exist_ok=True)
        (base / f).write_text("{}")
    wisa = tmp_path / "wisa"
    wisa.mkdir()
    for f in ("phys_weights.safetensors", "pytorch_lora_weights.safetensors"):
        (wisa / f).write_text("")
    monkeypatch.setenv("FILMCREW_WISA_MODEL", str(base))
    monkeypatch.setenv("FILMCREW_WISA_DIR", str(wisa))
    with pytest.raises(ValueError, match="needs a CUDA GPU"):
        WisaGenerator(settings=Settings(_env_file=None))
    # on a cluster the GPUs are the workers': the driver needs none
    monkeypatch.setenv("FILMCREW_EXECUTOR", "ray")
    assert WisaGenerator(settings=Settings(_env_file=None)).steps > 4
    monkeypatch.delenv("FILMCREW_EXECUTOR")
    assert WisaGenerator(debug_models=True, settings=Settings(_env_file=None)).steps == 4


def test_cogvideox_runs_the_official_dynamic_cfg_and_wan_reads_512_text_tokens(monkeypatch):
    """Official inference: CogVideoX-WISA with use_dynamic_cfg=True; Wan's text length 512."""
    import math

    from filmcrew.tools.video.wisa import pipeline as wp

    assert wp.TEXT_TOKENS == {"cogvideox": 500, "wan": 512}
    g, t, n = 6.0, 981.0, 50
    assert wp.dynamic_guidance_scale(g, t, n) == pytest.approx(
        1 + g * (1 - math.cos(math.pi * ((n - t) / n) ** 5.0)) / 2)
    pipe = wp.tiny_wisa_pipeline("cogvideox", seed=0)
    seen: list[float] = []
    real = wp.combine_guidance

    def spy(pred, *, guidance_scale, physics_guidance_scale=None):
        seen.append(guidance_scale)
        return real(pred, guidance_scale=guidance_scale,
                    physics_guidance_scale=physics_guidance_scale)

    monkeypatch.setattr(wp, "combine_guidance", spy)
    pipe("x", num_inference_steps=2, guidance_scale=g, generator=torch.Generator().manual_seed(0))
    steps = pipe.fresh_scheduler()
    steps.set_timesteps(2)
    assert seen == [pytest.approx(wp.dynamic_guidance_scale(g, float(s), 2))
                    for s in steps.timesteps]
    seen.clear()
    pipe("x", num_inference_steps=2, guidance_scale=g, dynamic_cfg=False,
         generator=torch.Generator().manual_seed(0))
    assert seen == [g, g]


class _DeviceScheduler:
    """A plain Euler scheduler that keeps its tables on the device it is given (diffusers'
    schedulers need real data, so this stands in for them on `meta`)."""

    config: dict = {}

    def set_timesteps(self, n: int, device=None) -> None:
        self.timesteps = torch.linspace(999, 1, n, device=device)

    def step(self, pred, t, latents, return_dict=False):
        assert pred.device == t.device == latents.device, (pred.device, t.device, latents.device)
        return (latents - 0.1 * pred,)


@pytest.mark.parametrize("base", ["cogvideox", "wan"])
def test_sampling_runs_with_the_transformer_on_another_device(base, monkeypatch):
    """Inputs are made on the CPU and the transformer lives on `meta`: a tensor left behind fails."""
    from filmcrew.tools.video.wisa import pipeline as wp

    pipe = wp.tiny_wisa_pipeline(base, seed=0)
    emb = pipe.encode_text(["x"])
    pipe.transformer.to("meta")
    monkeypatch.setattr(pipe, "_fresh_scheduler", _DeviceScheduler)
    decoded = []
    monkeypatch.setattr(pipe, "_decode", lambda latents: decoded.append(latents.device))
    pipe(None, torch.ones(1, 29), torch.ones(1, 18), prompt_embeds=emb,
         negative_prompt_embeds=emb, num_inference_steps=2, guidance_scale=6.0,
         generator=torch.Generator().manual_seed(0))
    assert decoded == [torch.device("meta")]
