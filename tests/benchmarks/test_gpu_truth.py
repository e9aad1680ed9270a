"""benchmarks/gpu_truth.py --tiny: the full-size GPU script's code path, on the CPU with tiny configs.

It runs as its own process, as a user runs it, so a crash in one backend's native code fails this
test instead of the whole suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_backend_runs_its_tiny_path_and_reports_its_figure(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_truth.py"), "--tiny",
                           "--out", str(tmp_path)], capture_output=True, text=True, env=env,
                          timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads((tmp_path / "gpu_truth.json").read_text())
    rows = result["backends"]
    failed = {name: row.get("error") for name, row in rows.items() if not row["ok"]}
    assert failed == {}
    figures = {"wisa_cogvideox_5b": "wisa_over_plain", "wisa_wan_14b": "s_per_step",
               "syncos_cogvideox_5b": "coupled_over_gen_l_video", "rflav_b1": "real_time_factor",
               "musicgen_melody": "real_time_factor", "regen": "s_per_frame", "vae_cogvideox": "s_tiled"}
    assert rows["placement"]["rflav_device"] == "cpu" and rows["placement"]["wisa_wan_frames"] > 0
    for name, key in figures.items():
        assert rows[name][key] > 0, (name, rows[name])
    assert result["machine"] == {"device": "cpu", "torch": result["machine"]["torch"], "dtype": "float32",
                                 "tiny": True}
    # the targets table reads the measured figures (no GPU here: no peak, so that one is absent)
    assert result["targets"]["wisa_over_plain <= 1.03"]["value"] == rows["wisa_cogvideox_5b"]["wisa_over_plain"]
    assert result["targets"]["transformer >= 60 % of bf16 peak"] is None


def test_a_failing_backend_is_recorded_and_the_run_goes_on(tmp_path, monkeypatch):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import gpu_truth
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))

    def broken(b):
        raise RuntimeError("planted failure")

    monkeypatch.setitem(gpu_truth.BACKENDS, "broken", broken)
    monkeypatch.setitem(gpu_truth.BACKENDS, "fine", lambda b: {"figure": 1.0})
    result = gpu_truth.run_all(gpu_truth.Bench(True, "cpu"), ["broken", "fine"])
    assert result["backends"]["broken"]["ok"] is False
    assert "planted failure" in result["backends"]["broken"]["error"]
    assert result["backends"]["fine"] == {"figure": 1.0, "ok": True,
                                          "seconds_total": result["backends"]["fine"]["seconds_total"]}
