"""WISA: physics-aware text-to-video on CogVideoX-5B or Wan2.1 (METHODS.md §1.6).

The pipeline is written out in plain sight, diffusers-style: encode the text (caption + physics
paragraph, up to 500 tokens), draw the latents, and for each denoising step run the WISA transformer
once on a classifier-free-guidance batch whose unconditional rows zero *both* physics vectors, then
step the scheduler and decode with the base VAE. CogVideoX predicts v (DDIM/DPM schedulers, latents
laid out B,F,C,H,W); Wan predicts the flow (UniPC/flow-matching Euler, latents B,C,F,H,W).

`tiny_wisa_pipeline` builds every component tiny and random in code (no download, no GPU) for
`--debug-models` and the tests; `load_wisa` loads the real base model plus the released physics
weights and LoRA from local files only.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from filmcrew.schemas import PhysicsAnnotation
from filmcrew.tools.video.wisa.weights import (
    Base,
    WisaWeightsMissing,
    apply_lora,
    check_base,
    locate_wisa,
)

MAX_TEXT_TOKENS = 500  # WISA raises CogVideoX's 226 so the physics paragraph fits
#: Text length per base as the official inference runs it (tests/test_wisa_inference.py passes 500
#: for CogVideoX-WISA; pipeline_wan_wisa.__call__ defaults to 512).
TEXT_TOKENS = {"cogvideox": MAX_TEXT_TOKENS, "wan": 512}
#: Native clip of each base: what it was trained to generate, and at which frame rate.
NATIVE: dict[str, dict[str, int]] = {
    "cogvideox": {"frames": 49, "fps": 8, "width": 720, "height": 480},
    "wan": {"frames": 81, "fps": 16, "width": 832, "height": 480},
}
GateMode = Literal["reference", "deterministic"]
StepCallback = Callable[[int, int], None]


def text_for(annotation: PhysicsAnnotation) -> str:
    """WISA's text condition: the caption followed by the physics paragraph."""
    return " ".join(p.strip() for p in (annotation.caption, annotation.physics_text) if p.strip())


# -- classifier-free guidance ----------------------------------------------------------------------


def cfg_branches(guidance_scale: float, physics_guidance_scale: float | None) -> int:
    """Rows per sample in the guidance batch: 1 (no CFG), 2 (text CFG) or 3 (text + physics)."""
    if physics_guidance_scale is not None:
        return 3
    return 2 if guidance_scale > 1.0 else 1


def build_cfg_batch(prompt_embeds: torch.Tensor, negative_prompt_embeds: torch.Tensor,
                    categories: torch.Tensor, quantities: torch.Tensor, *, guidance_scale: float,
                    physics_guidance_scale: float | None = None,
                    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The (text, P_c, P_p) rows of one transformer call, unconditional rows first.

    2 branches: [(neg, 0, 0), (text, P_c, P_p)]; 3 branches (physical CFG):
    [(neg, 0, 0), (text, 0, 0), (text, P_c, P_p)]; 1 branch: [(text, P_c, P_p)].
    """
    if prompt_embeds.shape != negative_prompt_embeds.shape:
        raise ValueError(f"prompt embeds {tuple(prompt_embeds.shape)} and negative embeds "
                         f"{tuple(negative_prompt_embeds.shape)} differ in shape")
    b = prompt_embeds.shape[0]
    if categories.shape != (b, 29) or quantities.shape != (b, 18):
        raise ValueError(f"need categories ({b}, 29) and quantities ({b}, 18), got "
                         f"{tuple(categories.shape)} and {tuple(quantities.shape)}")
    zc, zq = torch.zeros_like(categories), torch.zeros_like(quantities)
    n = cfg_branches(guidance_scale, physics_guidance_scale)
    if n == 1:
        return prompt_embeds, categories, quantities
    if n == 2:
        return (torch.cat([negative_prompt_embeds, prompt_embeds]), torch.cat([zc, categories]),
                torch.cat([zq, quantities]))
    return (torch.cat([negative_prompt_embeds, prompt_embeds, prompt_embeds]),
            torch.cat([zc, zc, categories]), torch.cat([zq, zq, quantities]))


def dynamic_guidance_scale(guidance_scale: float, timestep: float, num_inference_steps: int) -> float:
    """CogVideoX's dynamic CFG, on in the official WISA inference (`use_dynamic_cfg=True`).

    1 + g·(1 − cos(π·((N − t)/N)^5))/2 with t the scheduler's timestep value (not the step index), as
    the official pipeline computes it.
    """
    n = num_inference_steps
    return 1 + guidance_scale * (1 - math.cos(math.pi * ((n - float(timestep)) / n) ** 5.0)) / 2


def combine_guidance(pred: torch.Tensor, *, guidance_scale: float,
                     physics_guidance_scale: float | None = None) -> torch.Tensor:
    """eps = eps_u + w (eps_t − eps_u) [+ w_phys (eps_tp − eps_t)] from the batch of build_cfg_batch."""
    n = cfg_branches(guidance_scale, physics_guidance_scale)
    if n == 1:
        return pred
    parts = pred.chunk(n)
    out = parts[0] + guidance_scale * (parts[1] - parts[0])
    if n == 3:
        out = out + physics_guidance_scale * (parts[2] - parts[1])
    return out


# -- the pipeline ----------------------------------------------------------------------------------


class WisaPipeline:
    """Text encoder + WISA transformer + base VAE + scheduler, for one base (CogVideoX or Wan)."""

    def __init__(self, *, base: Base, transformer: torch.nn.Module, vae: torch.nn.Module,
                 scheduler: Any, text_encoder: torch.nn.Module | None = None,
                 tokenizer: Any | None = None, native_frames: int, native_fps: int,
                 native_width: int, native_height: int, max_text_tokens: int | None = None):
        self.base = check_base(base)
        self.transformer, self.vae, self.scheduler = transformer, vae, scheduler
        self.text_encoder, self.tokenizer = text_encoder, tokenizer
        self.native_frames, self.native_fps = native_frames, native_fps
        self.native_width, self.native_height = native_width, native_height
        self.max_text_tokens = max_text_tokens or TEXT_TOKENS[self.base]  # the base's own length
        if base == "cogvideox":
            self.scale_spatial = 2 ** (len(vae.config.block_out_channels) - 1)
            self.scale_temporal = vae.config.temporal_compression_ratio
            if getattr(transformer.config, "patch_size_t", None):
                raise ValueError("CogVideoX 1.5 (patch_size_t) is not supported; use CogVideoX-5B 1.0")
        else:
            self.scale_spatial = vae.config.scale_factor_spatial
            self.scale_temporal = vae.config.scale_factor_temporal
        self.lock = threading.Lock()  # one generation at a time: schedulers and GPU memory

    @property
    def device(self) -> torch.device:
        return self.transformer.device

    @property
    def dtype(self) -> torch.dtype:
        """The compute dtype (of the output projection; some base modules stay float32)."""
        return self.transformer.dtype

    def encode_text(self, texts: list[str]) -> torch.Tensor:
        """T5 hidden states (B, max_text_tokens, D); longer texts are cut at max_text_tokens."""
        if self.tokenizer is None or self.text_encoder is None:
            raise ValueError("this pipeline has no text encoder; pass prompt_embeds")
        tok = self.tokenizer(texts, padding="max_length", max_length=self.max_text_tokens,
                             truncation=True, add_special_tokens=True, return_attention_mask=True,
                             return_tensors="pt")
        dev = next(self.text_encoder.parameters()).device
        ids, mask = tok.input_ids.to(dev), tok.attention_mask.to(dev)
        if self.base == "wan":
            # Wan reads the masked encoder and zeroes the padding positions.
            h = self.text_encoder(ids, mask).last_hidden_state
            h = h * mask[..., None].to(h.dtype)
        else:  # CogVideoX encodes the padded ids without a mask, as it was trained
            h = self.text_encoder(ids)[0]
        return h.to(self.device, self.dtype)

    def check_size(self, num_frames: int, height: int, width: int) -> None:
        """Raise a short error for a size the VAE and patching cannot produce exactly."""
        patch = self.transformer.config.patch_size
        step = self.scale_spatial * (patch if isinstance(patch, int) else patch[1])
        if height % step or width % step:
            raise ValueError(f"{width}x{height}: width and height must be multiples of {step}")
        if num_frames < 1 or (num_frames - 1) % self.scale_temporal:
            raise ValueError(f"{num_frames} frames: must be {self.scale_temporal}·k + 1")

    def _latent_shape(self, batch: int, num_frames: int, height: int, width: int) -> tuple[int, ...]:
        f = (num_frames - 1) // self.scale_temporal + 1
        c = self.transformer.config.in_channels
        h, w = height // self.scale_spatial, width // self.scale_spatial
        return (batch, f, c, h, w) if self.base == "cogvideox" else (batch, c, f, h, w)

    def _decode(self, latents: torch.Tensor) -> np.ndarray:
        """Latents of one video → uint8 frames (T, H, W, 3)."""
        vae_dtype = next(self.vae.parameters()).dtype
        z = latents.to(vae_dtype)
        if self.base == "cogvideox":
            z = z.permute(0, 2, 1, 3, 4) / self.vae.config.scaling_factor
        else:
            c = self.vae.config.z_dim
            mean = torch.tensor(self.vae.config.latents_mean, dtype=vae_dtype, device=z.device)
            std = torch.tensor(self.vae.config.latents_std, dtype=vae_dtype, device=z.device)
            z = z * std.view(1, c, 1, 1, 1) + mean.view(1, c, 1, 1, 1)
        video = self.vae.decode(z).sample[0]  # (3, T, H, W) in [-1, 1]
        video = ((video.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        return video.permute(1, 2, 3, 0).cpu().numpy()

    def latent_shape(self, batch: int, num_frames: int, height: int, width: int) -> tuple[int, ...]:
        """Public form of the latent layout (B,F,C,H,W CogVideoX; B,C,F,H,W Wan), for samplers."""
        return self._latent_shape(batch, num_frames, height, width)

    def decode(self, latents: torch.Tensor) -> np.ndarray:
        """Public form of the VAE decode (one video's latents → uint8 frames), for samplers."""
        return self._decode(latents)

    def fresh_scheduler(self) -> Any:
        """Public form of a per-run scheduler copy, for samplers."""
        return self._fresh_scheduler()

    def _fresh_scheduler(self) -> Any:
        # Schedulers keep per-run state (step index, solver history): one per call.
        return type(self.scheduler).from_config(self.scheduler.config)

    @torch.no_grad()
    def __call__(self, prompt: str | None = None, categories: torch.Tensor | None = None,
                 quantities: torch.Tensor | None = None, *, prompt_embeds: torch.Tensor | None = None,
                 negative_prompt: str = "", negative_prompt_embeds: torch.Tensor | None = None,
                 num_frames: int | None = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = 50, guidance_scale: float = 6.0,
                 physics_guidance_scale: float | None = None,
                 generator: torch.Generator | None = None, gate_mode: GateMode = "reference",
                 callback: StepCallback | None = None,
                 dynamic_cfg: bool | None = None) -> np.ndarray:
        """Generate one clip; frames uint8 (T, H, W, 3) at the generation size.

        `categories` (29) and `quantities` (18) are the WISA vectors of the shot (None = zeros);
        gates of the expert heads are drawn from `generator` each step (`gate_mode="reference"`, the
        released behaviour) or fixed at 1.0/0.1 (`"deterministic"`). `dynamic_cfg` (default: on for
        CogVideoX, as the official inference runs it) varies the text guidance scale per step.
        """
        from filmcrew.models.wisa.physics import expert_gates

        num_frames = num_frames or self.native_frames
        height, width = height or self.native_height, width or self.native_width
        self.check_size(num_frames, height, width)
        if num_inference_steps < 1:
            raise ValueError(f"{num_inference_steps} steps; need at least 1")
        if (prompt is None) == (prompt_embeds is None):
            raise ValueError("give exactly one of prompt and prompt_embeds")
        if prompt is not None:
            prompt_embeds = self.encode_text([prompt])
        assert prompt_embeds is not None
        prompt_embeds = prompt_embeds.to(self.device, self.dtype)
        if negative_prompt_embeds is None:
            negative_prompt_embeds = (self.encode_text([negative_prompt]) if self.tokenizer is not None
                                      else torch.zeros_like(prompt_embeds))
        negative_prompt_embeds = negative_prompt_embeds.to(self.device, self.dtype)
        b = prompt_embeds.shape[0]
        cats = torch.zeros(b, 29) if categories is None else categories.reshape(b, 29)
        quants = torch.zeros(b, 18) if quantities is None else quantities.reshape(b, 18)
        embeds, cats_b, quants_b = build_cfg_batch(
            prompt_embeds, negative_prompt_embeds, cats.float(), quants.float(),
            guidance_scale=guidance_scale, physics_guidance_scale=physics_guidance_scale)
        cats_host = cats_b.float()  # gates are drawn where the generator lives, from a host copy
        cats_b, quants_b = cats_b.to(self.device, self.dtype), quants_b.to(self.device, self.dtype)
        n = cfg_branches(guidance_scale, physics_guidance_scale)

        gen_device = generator.device if generator is not None else torch.device("cpu")
        shape = self._latent_shape(b, num_frames, height, width)
        scheduler = self._fresh_scheduler()
        scheduler.set_timesteps(num_inference_steps, device=self.device)
        timesteps = scheduler.timesteps
        latents = torch.randn(shape, generator=generator, device=gen_device, dtype=torch.float32)
        # Flow-matching schedulers start from unit noise and have no input scaling.
        latents = latents.to(self.device) * getattr(scheduler, "init_noise_sigma", 1.0)
        scale_input = getattr(scheduler, "scale_model_input", lambda x, t: x)
        rotary = None
        if self.base == "cogvideox" and self.transformer.config.use_rotary_positional_embeddings:
            from filmcrew.models.wisa.transformer import cogvideox_rotary_emb

            rotary = cogvideox_rotary_emb(self.transformer.config, shape[1], shape[3], shape[4],
                                          device=self.device)
        dpm = type(scheduler).__name__ == "CogVideoXDPMScheduler"
        dynamic = self.base == "cogvideox" if dynamic_cfg is None else dynamic_cfg
        host = self._fresh_scheduler()  # the timestep values on the host, for the dynamic scale
        host.set_timesteps(num_inference_steps, device="cpu")
        host_t = [float(x) for x in host.timesteps]
        old_x0 = None
        with self.lock:
            for i, t in enumerate(timesteps):
                # Expert gates per step; drawn on the generator's device so the same generator
                # gives the same gates wherever the model runs.
                gates = expert_gates(cats_host.to(gen_device), mode=gate_mode,
                                     generator=generator).to(self.device, self.dtype)
                x = scale_input(torch.cat([latents] * n), t).to(self.dtype)
                kwargs = {"image_rotary_emb": rotary} if self.base == "cogvideox" else {}
                pred = self.transformer(x, embeds, t.expand(x.shape[0]), categories=cats_b,
                                        quantities=quants_b, gates=gates, **kwargs)
                g = (dynamic_guidance_scale(guidance_scale, host_t[i], len(timesteps))
                     if dynamic and n > 1 else guidance_scale)
                pred = combine_guidance(pred.float(), guidance_scale=g,
                                        physics_guidance_scale=physics_guidance_scale)
                if dpm:
                    prev_t = timesteps[i - 1] if i > 0 else None
                    latents, old_x0 = scheduler.step(pred, old_x0, t, prev_t, latents,
                                                     generator=generator, return_dict=False)
                else:
                    latents = scheduler.step(pred, t, latents, return_dict=False)[0]
                if callback is not None:
                    callback(i + 1, len(timesteps))
            return self._decode(latents)


# -- building pipelines ----------------------------------------------------------------------------


def tiny_tokenizer() -> Any:
    """A character-level T5-style tokenizer built in code (pad 0, eos 1, unk 2): no download."""
    import string

    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    chars = ["▁"] + [c for c in string.printable if not c.isspace()]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)] + [(c, -1.0) for c in chars]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2, byte_fallback=False))
    tok.normalizer = normalizers.Sequence([normalizers.NFKD(), normalizers.StripAccents()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(single="$A </s>",
                                                       special_tokens=[("</s>", 1)])
    tok.decoder = decoders.Metaspace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>")


def tiny_wisa_pipeline(base: Base, seed: int = 0) -> WisaPipeline:
    """Every component tiny and random, built in code (METHODS.md §1.7): noise pictures, fast on CPU."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        AutoencoderKLWan,
        CogVideoXDPMScheduler,
        UniPCMultistepScheduler,
    )
    from transformers import T5Config, T5EncoderModel

    from filmcrew.models.wisa.transformer import tiny_cogvideox, tiny_wan

    check_base(base)
    transformer = tiny_cogvideox(seed) if base == "cogvideox" else tiny_wan(seed)
    cfg = transformer.config
    text_dim = cfg.text_embed_dim if base == "cogvideox" else cfg.text_dim
    tokenizer = tiny_tokenizer()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = T5EncoderModel(T5Config(
            vocab_size=len(tokenizer), d_model=text_dim, d_kv=16, d_ff=2 * text_dim, num_layers=1,
            num_heads=2, relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1))
        if base == "cogvideox":
            vae = AutoencoderKLCogVideoX(
                block_out_channels=(8, 8, 8, 8), latent_channels=cfg.in_channels,
                layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4,
                down_block_types=("CogVideoXDownBlock3D",) * 4,
                up_block_types=("CogVideoXUpBlock3D",) * 4)
            scheduler = CogVideoXDPMScheduler(prediction_type="v_prediction", clip_sample=False,
                                              rescale_betas_zero_snr=True, snr_shift_scale=1.0,
                                              timestep_spacing="trailing")
        else:
            c = cfg.in_channels
            vae = AutoencoderKLWan(base_dim=3, z_dim=c, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                                   temperal_downsample=[False, True, True],
                                   latents_mean=[0.0] * c, latents_std=[1.0] * c)
            scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction",
                                                use_flow_sigmas=True, flow_shift=3.0)
    for m in (transformer, text_encoder, vae):
        m.eval().requires_grad_(False)
    return WisaPipeline(base=base, transformer=transformer, vae=vae, scheduler=scheduler,
                        text_encoder=text_encoder, tokenizer=tokenizer, native_frames=9,
                        native_fps=8, native_width=64, native_height=64)


def _load_base(base: Base, src: str, dtype: torch.dtype) -> tuple[Any, ...]:
    """(base transformer, VAE, scheduler, tokenizer, text encoder, native clip) from a diffusers folder."""
    from transformers import AutoTokenizer, T5EncoderModel, UMT5EncoderModel

    if base == "cogvideox":
        from diffusers import (
            AutoencoderKLCogVideoX,
            CogVideoXDPMScheduler,
            CogVideoXTransformer3DModel,
        )

        core = CogVideoXTransformer3DModel.from_pretrained(
            src, subfolder="transformer", torch_dtype=dtype, max_text_seq_length=MAX_TEXT_TOKENS)
        vae = AutoencoderKLCogVideoX.from_pretrained(src, subfolder="vae", torch_dtype=dtype)
        vae.enable_tiling()  # 49 frames at 720×480 decode in tiles, as the reference does
        scheduler = CogVideoXDPMScheduler.from_pretrained(src, subfolder="scheduler",
                                                          timestep_spacing="trailing")
        native = dict(NATIVE["cogvideox"], width=core.config.sample_width * 8,
                      height=core.config.sample_height * 8, frames=core.config.sample_frames)
    else:
        from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanTransformer3DModel

        core = WanTransformer3DModel.from_pretrained(src, subfolder="transformer", torch_dtype=dtype)
        # Wan's VAE stays float32 (its decoder is sensitive to bf16).
        vae = AutoencoderKLWan.from_pretrained(src, subfolder="vae", torch_dtype=torch.float32)
        scheduler = UniPCMultistepScheduler.from_pretrained(src, subfolder="scheduler",
                                                            flow_shift=3.0)  # 3.0 for 480p
        native = NATIVE["wan"]
    tokenizer = AutoTokenizer.from_pretrained(src, subfolder="tokenizer")
    config = json.loads((Path(src) / "text_encoder" / "config.json").read_text())
    encoder = UMT5EncoderModel if config.get("model_type") == "umt5" else T5EncoderModel
    text_encoder = encoder.from_pretrained(src, subfolder="text_encoder", torch_dtype=dtype)
    return core, vae, scheduler, tokenizer, text_encoder, native


def load_wisa(base: Base, *, model: str | None = None, wisa_dir: str | None = None,
              device: str | torch.device | None = None, dtype: torch.dtype | None = None,
              local_files_only: bool = True) -> WisaPipeline:
    """The real WISA pipeline: base model + phys_weights + LoRA, from local files or the HF cache.

    Missing weights raise WisaWeightsMissing (a FileNotFoundError) naming the repo and files to
    fetch. `local_files_only=False` is the one way to let it download (explicitly asked for).
    """
    from safetensors.torch import load_file

    from filmcrew.models.wisa.keys import load_phys_weights
    from filmcrew.models.wisa.transformer import WisaCogVideoXTransformer, WisaWanTransformer
    from filmcrew.tools.video.wisa.weights import DEFAULT_MODELS, WAN_SUBFOLDER, WISA_REPO

    check_base(base)
    if not local_files_only:
        from huggingface_hub import snapshot_download

        model = snapshot_download(model or DEFAULT_MODELS[base])
        wisa_dir = snapshot_download(wisa_dir or WISA_REPO, allow_patterns=(
            [f"{WAN_SUBFOLDER}/*"] if base == "wan" else None))
    files = locate_wisa(base, model=model, wisa_dir=wisa_dir)
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    try:
        core, vae, scheduler, tokenizer, text_encoder, native = _load_base(
            base, str(files.model_dir), dtype)
        phys, lora = load_file(str(files.phys)), load_file(str(files.lora))
    except OSError as e:  # a partial download: config files present, shards missing
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WisaWeightsMissing(f"wisa: cannot read {base} weights under {files.model_dir} or "
                                 f"{files.phys.parent} ({reason}); fetch them again") from e
    wrap = WisaCogVideoXTransformer if base == "cogvideox" else WisaWanTransformer
    transformer = wrap(core)
    load_phys_weights(transformer, phys)
    apply_lora(transformer, lora)
    for m in (transformer, text_encoder, vae):
        m.eval().requires_grad_(False)
    transformer.to(device)  # no dtype: diffusers keeps some of Wan's modules in float32 on purpose
    return WisaPipeline(base=base, transformer=transformer, vae=vae.to(device),
                        scheduler=scheduler, text_encoder=text_encoder.to(device),
                        tokenizer=tokenizer, native_frames=native["frames"],
                        native_fps=native["fps"], native_width=native["width"],
                        native_height=native["height"], max_text_tokens=TEXT_TOKENS[base])
