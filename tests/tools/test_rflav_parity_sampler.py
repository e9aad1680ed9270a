"""The rolling sampler against the official `RectifiedFlow` (ErgastiAlex/R-FLAV @789e16d), and on a device.

tests/data/reference/rflav_tiny_io.safetensors holds four official sampler runs of the tiny official
FLAV with their recorded noise: the initial window, then every appended frame (video, then audio).
Replaying that noise through `stream` must give the official emitted frames and hand the model the
official timesteps at every call. A second set of tests runs every mode with the model on `meta`
(a device that is not the CPU where the test makes its inputs), so a table, mask or timestep left on
the CPU fails here as it would fail on a GPU.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from filmcrew.models.rflav.flav import FLAV, TINY_FLAV_CONFIG
from filmcrew.models.rflav.keys import config_from_json, load_state
from filmcrew.tools.video.rflav.sampler import DEFAULT_GUIDANCE, reconstruction_error, stream

REF = Path(__file__).parents[1] / "data" / "reference"


@pytest.fixture(scope="module")
def ref() -> tuple[dict, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    tiny = json.loads((REF / "rflav_tiny.json").read_text(encoding="utf-8"))
    return (tiny, load_file(str(REF / "rflav_tiny_io.safetensors")),
            load_file(str(REF / "rflav_tiny.safetensors")))


RUNS = {  # run: (conditional, cfg scale, n)
    "uncond_n2": (False, 1.0, 2), "uncond_n1": (False, 1.0, 1), "cond_n2": (True, 1.0, 2),
    "cond_cfg2.5_n2": (True, 2.5, 2),
}


@pytest.mark.parametrize("run", list(RUNS))
def test_rolling_sampler_replays_the_official_runs(run, ref):
    tiny, io, weights = ref
    conditional, cfg_scale, n = RUNS[run]
    hub = dict(tiny["hub_config_json"])
    if not conditional:
        hub["num_classes"] = 0
        weights = {k: v for k, v in weights.items() if "_y_embedder." not in k}
    model = FLAV(config_from_json(hub))
    load_state(model, weights)
    model.eval()
    pre = f"sample.{run}."
    queue = [io[pre + "init.v"], io[pre + "init.a"]]
    for k in range(io[pre + "draw.v"].shape[0]):
        queue += [io[pre + "draw.v"][k][:, None], io[pre + "draw.a"][k][:, None]]
    served = iter(queue)

    def draw(shape: tuple[int, ...]) -> torch.Tensor:
        x = next(served)
        assert tuple(x.shape) == shape
        return x

    calls: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda m, args: calls.append(args[2]))
    y = io[pre + "y"] if conditional else None
    frames = list(stream(model, n=n, frames=4, y=y, cfg_scale=cfg_scale, batch=2, draw=draw))
    out_v = torch.stack([f[0] for f in frames], 1)
    out_a = torch.stack([f[1] for f in frames], 1)
    t_rf = torch.stack([c[:2] for c in calls])  # a CFG call batches [cond ; null]
    torch.testing.assert_close(t_rf, io[pre + "t_rf"], rtol=0, atol=1e-3)
    torch.testing.assert_close(out_v, io[pre + "out.v"], rtol=0, atol=1e-4)
    torch.testing.assert_close(out_a, io[pre + "out.a"], rtol=0, atol=1e-4)


def test_reconstruction_guidance_is_the_official_mean_at_the_scripts_scale():
    g = torch.Generator().manual_seed(0)
    v, target = torch.randn(2, 5, 4, 8, 8, generator=g), torch.randn(2, 5, 4, 8, 8, generator=g)
    known = torch.ones(1, 5, 1, 1, 1)
    torch.testing.assert_close(reconstruction_error(v, target, known), ((v - target) ** 2).mean())
    part = known.clone()
    part[:, 3:] = 0  # unknown slots add nothing; the mean still runs over the whole window
    torch.testing.assert_close(reconstruction_error(v, target, part),
                               ((v - target)[:, :3] ** 2).sum() / v.numel())
    assert DEFAULT_GUIDANCE == {"a2v": 100.0, "v2a": 100.0}  # sample-metrics-a2v/-v2a --scale


# -- every path on the model's device ----------------------------------------------------------


def meta_model() -> FLAV:
    with torch.device("meta"):
        model = FLAV(TINY_FLAV_CONFIG)
    return model.eval()


@pytest.mark.parametrize("mode,cfg_scale", [("joint", 1.0), ("joint", 2.0), ("a2v", 1.0),
                                            ("v2a", 1.0)])
def test_every_sampler_mode_runs_with_the_model_on_another_device(mode, cfg_scale):
    """Inputs are made on the CPU, the model lives on `meta`: anything left behind mixes devices."""
    model = meta_model()
    c = TINY_FLAV_CONFIG
    known = None
    if mode == "a2v":
        known = torch.zeros(c.window + 1, 1, c.n_mels, c.mel_frames)
    elif mode == "v2a":
        known = torch.zeros(c.window + 1, c.latent_channels, c.latent_size, c.latent_size)
    out = list(stream(model, n=1, frames=3, y=1, cfg_scale=cfg_scale, mode=mode, known=known))
    assert len(out) == 3
    # generated frames stay on the model's device (the known modality is passed through)
    gen = [v for v, _ in out] if mode != "v2a" else [a for _, a in out]
    assert all(x.device.type == "meta" for x in gen)
