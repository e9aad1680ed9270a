"""Loading the released FLAV-B/1 checkpoints: where they are, the key map, the licence.

`MaverickAlex/R-FLAV-B-1-LS` (Landscape) and `MaverickAlex/R-FLAV-B-1-AIST` (AIST++) each hold
`config.json` + `model.safetensors` (the FLAV model) and `vocoder/{config.json, vocoder.pt}`. They come
from a local folder or the HF cache, never from the network.

The official names (`models.FLAV` of ErgastiAlex/R-FLAV @789e16d) and the `save_pretrained` layout
(`model.safetensors` + a `config.json` of the constructor's arguments) were checked against fixtures
made by running the official code: all 408 names and shapes of FLAV-B/1, and a tiny official model
that loads strictly and reproduces the official outputs (tests/models/test_rflav_parity.py).
Whether a checkpoint is class-conditional is read from its own `config.json` (`num_classes`); the
Landscape checkpoint is most likely unconditional (its README samples without a class).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import torch

from filmcrew.models.hub import cached_snapshots, is_repo_id
from filmcrew.models.rflav.flav import FLAV, TINY_FLAV_CONFIG, FLAVConfig

LS_REPO = "MaverickAlex/R-FLAV-B-1-LS"
AIST_REPO = "MaverickAlex/R-FLAV-B-1-AIST"
DEFAULT_REPO = LS_REPO
MODEL_FILES = ("config.json", "model.safetensors")
RFLAV_LICENSE = "CC-BY-NC-4.0"
#: One line for `filmcrew doctor` and the run report.
RFLAV_LICENSE_NOTE = ("RFLAV weights (MaverickAlex/R-FLAV-B-1-*) are CC-BY-NC-4.0: non-commercial "
                      "use only, attribution required; clips made with them inherit the restriction")

#: (our name pattern, official name pattern), applied to the start of each key. Block-level entries
#: use {i} for the block index. The official names are those of `models.FLAV` in ErgastiAlex/R-FLAV
#: @789e16d, checked against all 408 names of FLAV-B/1 (tests/data/reference/rflav_keys_flav_b1.json).
_RENAMES: tuple[tuple[str, str], ...] = (
    ("video_patch.", "v_embedder.proj."),
    ("video_pos_spatial", "video_spatial_pos_embed"),
    ("video_pos_temporal", "video_temporal_pos_embed"),
    ("audio_proj.", "a_embedder."),
    ("audio_pos_spatial", "audio_spatial_pos_embed"),
    ("audio_pos_temporal", "audio_temporal_pos_embed"),
    ("video_time.", "video_t_embedder."),
    ("audio_time.", "audio_t_embedder."),
    ("video_class.", "video_y_embedder.embedding_table."),
    ("audio_class.", "audio_y_embedder.embedding_table."),
    ("blocks.{i}.video_spatial_attn.", "blocks.{i}.video_spatial_attn."),
    ("blocks.{i}.video_temporal_attn.", "blocks.{i}.video_temporal_attn."),
    ("blocks.{i}.audio_attn.", "blocks.{i}.audio_spatial_attn."),
    ("blocks.{i}.video_mod.", "blocks.{i}.video_adaLN_modulation."),
    ("blocks.{i}.audio_mod.", "blocks.{i}.audio_adaLN_modulation."),
    ("blocks.{i}.audio_to_video.", "blocks.{i}.a_avg_proj.0."),
    ("blocks.{i}.video_to_audio.", "blocks.{i}.v_avg_proj.0."),
    ("blocks.{i}.video_mlp_mod.", "blocks.{i}.video_scale."),
    ("blocks.{i}.audio_mlp_mod.", "blocks.{i}.audio_scale."),
    ("blocks.{i}.video_mlp.", "blocks.{i}.video_mlp."),
    ("blocks.{i}.audio_mlp.", "blocks.{i}.audio_mlp."),
    ("video_final.mod.", "video_final_layer.adaLN_modulation."),
    ("video_final.linear.", "video_final_layer.linear."),
    ("audio_final.mod.", "audio_final_layer.adaLN_modulation."),
    ("audio_final.linear.", "audio_final_layer.linear."),
)

#: config.json names (the official FLAV constructor's; ours accepted too) → FLAVConfig fields.
_CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "depth": ("depth",),
    "hidden_size": ("hidden_size",),
    "num_heads": ("num_heads",),
    "mlp_ratio": ("mlp_ratio",),
    "patch_size": ("patch_size",),
    "latent_channels": ("in_channels", "latent_channels"),
    "latent_size": ("latent_size",),
    "n_mels": ("n_mels",),
    "mel_frames": ("mel_frames",),
    "window": ("predict_frames", "window"),
    "num_classes": ("num_classes",),
    "causal_attn": ("causal_attn",),
}


class FlavWeightsMissing(FileNotFoundError):
    """RFLAV weights are not on this machine; the message says what to fetch."""


class FlavWeightsError(ValueError):
    """The checkpoint does not fit the model (missing, unexpected or mis-shaped keys)."""


def _compile(pattern: str) -> tuple[re.Pattern, str]:
    rx = "^" + re.escape(pattern).replace(r"\{i\}", r"(?P<i>\d+)")
    return re.compile(rx), pattern


def _rename(key: str, pairs: list[tuple[re.Pattern, str]]) -> str | None:
    for rx, target in pairs:
        m = rx.match(key)
        if m:
            head = target.replace("{i}", m.group("i")) if "{i}" in target else target
            return head + key[m.end():]
    return None


_TO_PUB = [(_compile(o)[0], p) for o, p in _RENAMES]
_FROM_PUB = [(_compile(p)[0], o) for o, p in _RENAMES]


def to_published(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our FLAV state dict renamed into the (reconstructed) published layout."""
    out = {}
    for key, value in state_dict.items():
        new = _rename(key, _TO_PUB)
        if new is None:
            raise FlavWeightsError(f"no published name for our parameter {key!r}")
        out[new] = value
    return out


def from_published(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A published-layout state dict renamed to ours; unknown keys are an error naming them."""
    out, unknown = {}, []
    for key, value in state_dict.items():
        k = key.removeprefix("module.").removeprefix("ema.")
        new = _rename(k, _FROM_PUB)
        if new is None:
            unknown.append(key)
        else:
            out[new] = value
    if unknown:
        raise FlavWeightsError(f"unexpected checkpoint keys: {', '.join(unknown[:4])}"
                               + (f" and {len(unknown) - 4} more" if len(unknown) > 4 else ""))
    return out


def config_from_json(data: dict[str, Any]) -> FLAVConfig:
    """FLAVConfig from a checkpoint's config.json (reference names or ours; absent → B/1 default)."""
    kwargs = {}
    for field, names in _CONFIG_ALIASES.items():
        for name in names:
            if name in data:
                kwargs[field] = data[name]
                break
    if data.get("learn_sigma"):
        raise FlavWeightsError("config.json asks for learn_sigma; FLAV predicts a velocity only")
    return FLAVConfig(**kwargs)


def load_state(model: FLAV, published: dict[str, torch.Tensor]) -> None:
    """Load a published-layout state dict into `model`, strictly; errors name what does not fit."""
    ours = from_published(published)
    own = model.state_dict()
    missing = sorted(set(own) - set(ours))
    if missing:
        raise FlavWeightsError(f"checkpoint lacks {', '.join(missing[:4])}"
                               + (f" and {len(missing) - 4} more" if len(missing) > 4 else ""))
    for k, v in ours.items():
        if k not in own:
            raise FlavWeightsError(f"checkpoint key {k!r} has no place in the model")
        if v.shape != own[k].shape:
            raise FlavWeightsError(f"{k}: checkpoint shape {tuple(v.shape)}, model wants "
                                   f"{tuple(own[k].shape)}")
    model.load_state_dict(ours, strict=True)


def locate_flav(spec: str | None) -> Path:
    """The folder holding config.json + model.safetensors: a path, or a hub id in the HF cache."""
    spec = spec or DEFAULT_REPO
    path = Path(spec).expanduser()
    candidates = [path] if path.is_dir() else cached_snapshots(spec)
    for folder in candidates:
        if all((folder / f).exists() for f in MODEL_FILES):
            return folder
    where = f"folder {path}" if path.is_dir() else f"the HF cache ({spec})"
    fetch = spec if not path.is_dir() and is_repo_id(spec) else DEFAULT_REPO
    raise FlavWeightsMissing(
        f"RFLAV weights ({', '.join(MODEL_FILES)}) not found in {where} "
        f"(`huggingface-cli download {fetch}`, or set FILMCREW_RFLAV_MODEL to its folder; "
        f"{AIST_REPO} is the dance model); or run with --debug-models")


def conditioning_note(spec: str | None) -> str | None:
    """One line on whether a found checkpoint is class-conditional (from its config.json), or None.

    An unconditional checkpoint (num_classes 0; most likely the released Landscape one, whose README
    samples without a class) is not steered by the shot's ambience class.
    """
    try:
        folder = locate_flav(spec)
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (FlavWeightsMissing, OSError, ValueError):
        return None
    n = int(data.get("num_classes", 0) or 0)
    if n > 0:
        return f"RFLAV checkpoint is class-conditional ({n} classes): the shot's ambience class steers it"
    return ("RFLAV checkpoint is unconditional (config.json num_classes 0): the shot's ambience class "
            "only routes the shot to RFLAV and does not steer what it makes")


def dataset_of(spec: str, config_json: dict[str, Any] | None = None) -> str:
    """'aist++' or 'landscape': which training set (and so which audio_scale) a checkpoint has."""
    name = str((config_json or {}).get("dataset", "")) + " " + spec
    return "aist++" if "aist" in name.lower() else "landscape"


def load_flav(spec: str | None, *, debug: bool, device: str | torch.device = "cpu",
              dtype: torch.dtype = torch.float32) -> tuple[FLAV, FLAVConfig, dict[str, Any]]:
    """(model in eval mode, its config, meta) for a checkpoint folder / cached hub id, or tiny.

    debug: TINY_FLAV_CONFIG with seeded random weights everywhere (adaLN-Zero layers too, so the
    tiny model predicts non-zero velocities and every path of the sampler is exercised). meta
    carries the model id, the training set, the licence and the vocoder folder (None if absent).
    """
    if debug:
        model = FLAV(TINY_FLAV_CONFIG)
        randomize(model, seed=0)
        meta = {"model": "debug-tiny", "dataset": "landscape", "license": RFLAV_LICENSE,
                "num_classes": TINY_FLAV_CONFIG.num_classes, "conditional": True,
                "vocoder_dir": None}
        return model.to(device=device, dtype=dtype).eval(), TINY_FLAV_CONFIG, meta
    from safetensors.torch import load_file

    folder = locate_flav(spec)
    data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    cfg = config_from_json(data)
    with torch.device("meta"):
        model = FLAV(cfg)
    model = model.to_empty(device="cpu")
    load_state(model, load_file(str(folder / "model.safetensors")))
    vocoder = folder / "vocoder"
    meta = {"model": spec or DEFAULT_REPO, "folder": str(folder),
            "dataset": dataset_of(spec or DEFAULT_REPO, data), "license": RFLAV_LICENSE,
            "num_classes": cfg.num_classes, "conditional": cfg.num_classes > 0,
            "vocoder_dir": str(vocoder) if (vocoder / "vocoder.pt").exists() else None}
    return model.to(device=device, dtype=dtype).eval(), cfg, meta


def randomize(model: torch.nn.Module, *, seed: int, std: float = 0.05) -> None:
    """Seeded small random values for every parameter (a 'random weights' model that is not zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(model.named_parameters()):
            p.copy_(torch.randn(p.shape, generator=g) * std)

