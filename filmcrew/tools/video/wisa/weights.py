"""Where WISA's weights are, without downloading anything (METHODS.md §1.1, §1.6).

A WISA pipeline needs two things on disk: the base model in diffusers layout (CogVideoX-5B or
Wan2.1-T2V-14B) and the two files of `qihoo360/WISA` for that base — `phys_weights.safetensors`
(physics token, quantity embedder, MoPA block, classifier) and `pytorch_lora_weights.safetensors`
(diffusers-format LoRA on the attention projections). Each comes from a local folder or from the
Hugging Face cache. This module only looks (offline, no torch import), so `filmcrew doctor` and the
crew can say exactly what to fetch before anything heavy starts.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from filmcrew.models.hub import cached_snapshots, hf_cache_dir, is_repo_id

Base = Literal["cogvideox", "wan"]
BASES: tuple[str, ...] = ("cogvideox", "wan")
LORA_ALPHA = 16.0  # the released LoRA: rank 128, alpha 16 → scale 0.125

WISA_REPO = "qihoo360/WISA"
DEFAULT_BASE = "wan"  # the crew's default base model (FILMCREW_WISA_BASE)
DEFAULT_STEPS = 50  # denoising steps (FILMCREW_WISA_STEPS)
PHYS_FILE = "phys_weights.safetensors"
LORA_FILE = "pytorch_lora_weights.safetensors"
#: The base checkpoints in diffusers layout that the released WISA weights were trained on.
DEFAULT_MODELS: dict[str, str] = {
    "cogvideox": "THUDM/CogVideoX-5b",
    "wan": "Wan-AI/Wan2.1-T2V-14B-Diffusers",
}
#: Sub-folder of qihoo360/WISA per base; Wan's is the one the reference script names. The CogVideoX
#: folder is not named anywhere we could read, so for it any folder whose name says "cog" is taken.
WISA_SUBFOLDER_HINT: dict[str, str] = {"cogvideox": "cog", "wan": "wan"}
WAN_SUBFOLDER = "wan2.1-t2v-14b-480p-wisa"
#: Files whose presence says a base model folder is complete enough to load.
BASE_FILES = ("model_index.json", "transformer/config.json", "vae/config.json",
              "text_encoder/config.json")


class WisaWeightsMissing(FileNotFoundError):
    """Weights for the WISA backend are not on this machine; the message says what to fetch."""


@dataclass(frozen=True)
class WisaFiles:
    """Resolved local paths of everything `load_wisa` reads."""

    base: str
    model_dir: Path
    phys: Path
    lora: Path


def check_base(base: str) -> str:
    """`base` if it is a known WISA base, else a short ValueError."""
    if base not in BASES:
        raise ValueError(f"unknown WISA base {base!r}; choose one of: {', '.join(BASES)}")
    return base


def find_base_model(base: str, model: str | None) -> Path:
    """The local folder of the base model (a path, or a hub id found in the HF cache)."""
    check_base(base)
    spec = model or DEFAULT_MODELS[base]
    path = Path(spec).expanduser()
    if path.is_dir():
        missing = [f for f in BASE_FILES if not (path / f).exists()]
        if missing:
            raise WisaWeightsMissing(
                f"base model folder {path} lacks {', '.join(missing)}; it must be a diffusers "
                f"layout (e.g. huggingface-cli download {DEFAULT_MODELS[base]} --local-dir {path})")
        return path
    if is_repo_id(spec):
        from huggingface_hub import try_to_load_from_cache

        for snap in cached_snapshots(spec):
            if all((snap / f).exists() for f in BASE_FILES):
                return snap
        hit = try_to_load_from_cache(spec, "transformer/config.json", cache_dir=hf_cache_dir())
        if isinstance(hit, str):  # a cache laid out differently from scan_cache_dir's view
            return Path(hit).parents[1]
    fetch = spec if is_repo_id(spec) else DEFAULT_MODELS[base]
    raise WisaWeightsMissing(
        f"base model {spec} not found (`huggingface-cli download {fetch}`, or set "
        "FILMCREW_WISA_MODEL to its folder)")


def _pick_folder(roots: list[Path], base: str) -> tuple[Path, Path] | None:
    """(phys, lora) in the folder under `roots` that holds both files and names this base."""
    hint = WISA_SUBFOLDER_HINT[base]
    for root in roots:
        if (root / PHYS_FILE).exists() and (root / LORA_FILE).exists():
            return root / PHYS_FILE, root / LORA_FILE
        folders = sorted({p.parent for p in root.glob(f"**/{PHYS_FILE}")
                          if (p.parent / LORA_FILE).exists()})
        named = [f for f in folders if hint in f.name.lower()]
        if named:
            return named[0] / PHYS_FILE, named[0] / LORA_FILE
    return None


def find_wisa_files(base: str, wisa_dir: str | None) -> tuple[Path, Path]:
    """(phys_weights, lora) for `base` from a local folder or the cached `qihoo360/WISA`."""
    check_base(base)
    spec = wisa_dir or WISA_REPO
    path = Path(spec).expanduser()
    roots = [path] if path.is_dir() else (cached_snapshots(spec) if is_repo_id(spec) else [])
    found = _pick_folder(roots, base)
    if found:
        return found
    include = f" --include '{WAN_SUBFOLDER}/*'" if base == "wan" else ""
    where = str(path) if path.is_dir() or not is_repo_id(spec) else f"the HF cache ({spec})"
    raise WisaWeightsMissing(
        f"WISA {base} weights ({PHYS_FILE}, {LORA_FILE}) not found in {where} "
        f"(`huggingface-cli download {WISA_REPO}{include}`, or set FILMCREW_WISA_DIR to their folder)")


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # a missing parent package ("google" of google.protobuf)
        return False


def missing_packages(model_dir: Path | None) -> list[str]:
    """Python packages the real loaders need and this environment lacks.

    accelerate: diffusers loads big checkpoints (and Wan's fp32-kept modules) only through it. A
    tokenizer shipped as `spiece.model` without `tokenizer.json` (CogVideoX's T5) is converted by
    transformers with sentencepiece and protobuf.
    """
    need = {"accelerate": "accelerate"}
    if model_dir is None or not (model_dir / "tokenizer" / "tokenizer.json").exists():
        need |= {"sentencepiece": "sentencepiece", "google.protobuf": "protobuf"}
    return [pkg for module, pkg in need.items() if not _importable(module)]


def locate_wisa(base: str, *, model: str | None = None, wisa_dir: str | None = None) -> WisaFiles:
    """Every file the real pipeline needs, or one WisaWeightsMissing naming all that is missing."""
    errors, model_dir, phys_lora = [], None, None
    try:
        model_dir = find_base_model(base, model)
    except WisaWeightsMissing as e:
        errors.append(str(e))
    if model_dir is not None and (pkgs := missing_packages(model_dir)):
        errors.append(f"pip install {' '.join(pkgs)} (the gpu extra) to load it")
    try:
        phys_lora = find_wisa_files(base, wisa_dir)
    except WisaWeightsMissing as e:
        errors.append(str(e))
    if errors:
        raise WisaWeightsMissing("wisa: " + "; ".join(errors) + "; or run with --debug-models")
    assert model_dir is not None and phys_lora is not None
    return WisaFiles(base=base, model_dir=model_dir, phys=phys_lora[0], lora=phys_lora[1])


_LORA_SUFFIXES = ((".lora_A.weight", "A"), (".lora_B.weight", "B"), (".lora.down.weight", "A"),
                  (".lora.up.weight", "B"), (".alpha", "alpha"))


def map_lora_key(key: str) -> tuple[str, str]:
    """A diffusers LoRA key → (our module name, "A" | "B" | "alpha").

    `transformer.transformer_blocks.0.attn1.to_q.lora_A.weight` →
    (`base.transformer_blocks.0.attn1.to_q`, "A"): the WISA transformer owns the diffusers model as
    `base`, and its own physics parts (`phys_*`) sit beside it.
    """
    k = key.removeprefix("transformer.").removeprefix("diffusion_model.")
    for suffix, part in _LORA_SUFFIXES:
        if k.endswith(suffix):
            name = k[: -len(suffix)]
            return (name if name.startswith("phys_") else f"base.{name}"), part
    raise ValueError(f"unrecognised LoRA key {key!r} (expected diffusers lora_A/lora_B names)")


def apply_lora(model: Any, state_dict: dict[str, Any], *,
               alpha: float | None = None, merge: bool = True) -> list[str]:
    """Load a diffusers-format LoRA file into `model` with our LoRALinear; returns the targets.

    The rank is read from each lora_A; the scale is alpha/rank with alpha from the file when it
    has one, else `alpha` (the released WISA LoRA: 16 over rank 128). `merge` folds it into the base
    weights, so inference costs nothing extra.
    """
    import torch

    from filmcrew.models.lora import add_lora, merge_lora

    groups: dict[str, dict[str, Any]] = {}
    for key, value in state_dict.items():
        name, part = map_lora_key(key)
        groups.setdefault(name, {})[part] = value
    modules = dict(model.named_modules())
    absent = sorted(n for n in groups if n not in modules)
    if absent:
        raise ValueError(f"LoRA targets not in the model: {', '.join(absent[:3])}"
                         + (f" and {len(absent) - 3} more" if len(absent) > 3 else ""))
    half = sorted(n for n, g in groups.items() if "A" not in g or "B" not in g)
    if half:
        raise ValueError(f"LoRA file lacks lora_A or lora_B for {half[0]}")
    by_setting: dict[tuple[int, float], set[str]] = {}
    for name, g in groups.items():
        a = float(g["alpha"]) if "alpha" in g else (LORA_ALPHA if alpha is None else alpha)
        by_setting.setdefault((g["A"].shape[0], a), set()).add(name)
    for (rank, a), names in by_setting.items():
        add_lora(model, lambda n, names=names: n in names, rank=rank, alpha=a)
    with torch.no_grad():
        for name, g in groups.items():
            mod = model.get_submodule(name)
            for part, layer in (("A", mod.lora_A), ("B", mod.lora_B)):
                if layer.weight.shape != g[part].shape:
                    raise ValueError(f"LoRA {name}.lora_{part}: shape {tuple(g[part].shape)}, "
                                     f"model wants {tuple(layer.weight.shape)}")
                layer.weight.copy_(g[part].to(layer.weight.dtype))
    if merge:
        merge_lora(model)
    return sorted(groups)
