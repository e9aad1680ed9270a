"""Configuration as described data.

`Settings` is the environment (FILMCREW_* variables and `.env`): provider, secrets, paths. `RunOptions` is
one run's knobs, what the CLI flags set. Secrets live only in `Settings` and never enter graph state,
traces or logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from filmcrew.tools.video.wisa.weights import DEFAULT_BASE as WISA_BASE
from filmcrew.tools.video.wisa.weights import DEFAULT_STEPS as WISA_STEPS

VIDEO_BACKENDS = ("previz", "wisa", "syncos", "rflav")
MUSIC_BACKENDS = ("procedural", "musicgen", "audiocraft")
SCORERS = ("continuity", "lca")

MAX_REQUEST_CHARS = 4000
MAX_DURATION_S = 600.0


class Settings(BaseSettings):
    """Environment settings (FILMCREW_* variables, optionally from a `.env` file)."""

    model_config = SettingsConfigDict(env_prefix="FILMCREW_", env_file=".env", extra="ignore",
                                      env_ignore_empty=True)

    llm: str = Field(
        default="offline",
        description='chat model as "provider:model" for init_chat_model, or "offline" for the rules',
    )
    llm_base_url: str | None = Field(
        default=None, description="base URL of an OpenAI-compatible server (vLLM, Ollama, …)"
    )
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for the provider (else the provider's own variable)"
    )
    llm_temperature: float = Field(default=0.2, description="sampling temperature of agent calls")
    llm_max_repairs: int = Field(default=2, ge=0, description="re-asks after an invalid answer")
    runs_dir: Path = Field(default=Path("runs"), description="where `run` puts run dirs by default")
    prompts_dir: Path | None = Field(
        default=None, description="folder of <name>.jinja prompt templates that override the packaged ones"
    )
    wisa_base: Literal["cogvideox", "wan"] = Field(
        default=WISA_BASE, description="base model of the wisa video backend: Wan2.1-T2V-14B or CogVideoX-5B"
    )
    wisa_model: str | None = Field(
        default=None, description="wisa base model: a local diffusers folder or a hub id found in "
                                  "the HF cache (default Wan-AI/Wan2.1-T2V-14B-Diffusers / THUDM/CogVideoX-5b)"
    )
    wisa_dir: str | None = Field(
        default=None, description="folder holding phys_weights.safetensors and "
                                  "pytorch_lora_weights.safetensors, or a hub id (default qihoo360/WISA "
                                  "from the HF cache)"
    )
    wisa_steps: int = Field(default=WISA_STEPS, ge=1, le=500, description="denoising steps of the wisa backend")
    lca_checkpoint: Path | None = Field(
        default=None, description="LCA scorer checkpoint (safetensors from `filmcrew train-lca`) used by "
                                  "--scorer lca; without it --scorer lca needs --debug-models"
    )
    musicgen_model: str | None = Field(
        default=None, description="MusicGen-Melody for --music-backend musicgen: a local transformers "
                                  "folder or a hub id in the HF cache (default facebook/musicgen-melody)"
    )
    musicgen_rhythm: Path | None = Field(
        default=None, description="fine-tuned rhythm conditioning (safetensors from the musicgen "
                                  "fine-tuning entry point) loaded on top of the MusicGen model"
    )
    rflav_model: str | None = Field(
        default=None, description="RFLAV checkpoint folder or hub id in the HF cache (default "
                                  "MaverickAlex/R-FLAV-B-1-LS); weights are non-commercial"
    )
    rflav_vae: str | None = Field(
        default=None, description="SD-VAE for RFLAV frames (AutoencoderKL folder or cached hub id)"
    )
    rflav_vocoder: str | None = Field(
        default=None, description="vocoder weights for RFLAV's mel spectrograms (folder or file)"
    )
    executor: Literal["local", "ray"] = Field(
        default="local", description="where GPU tool calls run: this process, or Ray actors (one per "
                                     "GPU) on a cluster; `--executor` overrides it"
    )
    ray_address: str | None = Field(
        default=None, description='Ray cluster for --executor ray: "auto" (the one this machine '
                                  'belongs to), "ray://host:10001", or empty to start a local one'
    )
    ray_resource: str = Field(
        default="GPU", description="Ray resource one worker takes (one worker per unit in the cluster)"
    )
    ray_workers: int | None = Field(
        default=None, ge=1, description="how many Ray workers to start (default: one per GPU)"
    )
    ray_model_budget_gb: float | None = Field(
        default=None, gt=0, description="GiB of models a Ray worker keeps loaded, least recently used "
                                        "out first (default: 85% of its GPU's memory)"
    )
    regen_checkpoint: Path | None = Field(
        default=None, description="REGEN checkpoint (safetensors from `filmcrew train-regen`) used by "
                                  "--store-latents and --interpolate-fps"
    )
    clip_model: str | None = Field(
        default=None, description="CLIP model for `filmcrew eval` text-video fidelity (local folder or "
                                  "cached hub id, e.g. openai/clip-vit-base-patch32); none = skipped"
    )


class RunOptions(BaseModel):
    """Per-run knobs; each is a CLI flag of `filmcrew run`."""

    model_config = ConfigDict(extra="forbid")

    duration_s: float | None = Field(
        default=None, description="target length in seconds; None = from the request, else 12 s"
    )
    fps: int = Field(default=24, ge=1, le=120, description="frames per second of the film")
    width: int = Field(default=640, ge=64, le=3840, description="frame width (even)")
    height: int = Field(default=360, ge=64, le=2160, description="frame height (even)")
    candidates: int = Field(default=2, ge=1, le=16, description="candidate clips per shot")
    beam: int = Field(default=4, ge=1, le=64, description="beam width of the shot editor")
    seed: int = Field(default=0, ge=0, description="run seed; every tool seed is derived from it")
    video_backend: str = Field(default="previz", description="video generator for every shot")
    music_backend: str = Field(default="procedural", description="music generator")
    scorer: str = Field(default="continuity", description="shot editor's sequence scorer")
    lca_text_weight: float | None = Field(
        default=None, ge=0, description="SKALD-text weight λ of --scorer lca; None = the checkpoint's"
    )
    llm: str | None = Field(default=None, description='"provider:model" override of FILMCREW_LLM')
    debug_models: bool = Field(
        default=False, description="tiny random-init models for every GPU backend (noise pictures)"
    )
    max_critic_rounds: int = Field(default=2, ge=0, le=10, description="composer ⟲ critic rounds")
    target_lufs: float = Field(default=-14.0, ge=-40, le=-5, description="loudness of the mix")
    sample_rate: int = Field(default=48000, ge=8000, le=192000,
                             description="audio sample rate of the mix")
    overlay: bool = Field(default=True, description="draw shot number, caption and tags on previz")
    store_latents: bool = Field(
        default=False, description="keep candidate clips as REGEN latents (needs a REGEN checkpoint)"
    )
    interpolate_fps: int | None = Field(
        default=None, ge=1, le=240,
        description="raise the film's frame rate to this by REGEN interpolation (None = off)",
    )
    regen_steps: int = Field(
        default=1, ge=1, le=100,
        description="REGEN decoder sampling steps (1 = deterministic regression; more = generative)",
    )

    @field_validator("duration_s")
    @classmethod
    def _duration(cls, v: float | None) -> float | None:
        if v is not None and not (0 < v <= MAX_DURATION_S):
            raise ValueError(f"duration {v:g} s; must be > 0 and ≤ {MAX_DURATION_S:g}")
        return v

    @field_validator("width", "height")
    @classmethod
    def _even(cls, v: int) -> int:
        if v % 2:
            raise ValueError(f"{v} is odd; H.264 needs even frame sizes")
        return v

    @field_validator("video_backend")
    @classmethod
    def _video(cls, v: str) -> str:
        return _known(v, VIDEO_BACKENDS, "video backend")

    @field_validator("music_backend")
    @classmethod
    def _music(cls, v: str) -> str:
        return _known(v, MUSIC_BACKENDS, "music backend")

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, v: str) -> str:
        return _known(v, SCORERS, "scorer")


def _known(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(allowed)}")
    return value
