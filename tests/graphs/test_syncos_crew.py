"""The crew with SynCoS long shots on tiny random models (`--debug-models`).

What a user notices: a film whose multi-event shots are longer than the model's native clip renders
end to end; those shots come out of SynCoS as one long generated video (several coupled chunks, at
least as long as the shot, so nothing is slowed down), progress counts every chunk evaluation, and the
`wisa` backend sends the same long multi-event shots to SynCoS on its own.
"""

from __future__ import annotations

import json

import pytest

from filmcrew import runner
from filmcrew.config import RunOptions
from filmcrew.tools.protocols import VideoGenerator
from filmcrew.tools.video import SyncosGenerator, video_backend

REQUEST = "A red rubber ball is dropped and bounces on the floor; a glass falls and shatters."
FPS = 12


def _run(tmp_path, backend: str):
    opts = RunOptions(duration_s=3.0, candidates=1, beam=1, seed=2, width=64, height=64, fps=FPS,
                      video_backend=backend, debug_models=True, max_critic_rounds=0)
    events: list[dict] = []
    result = runner.start(REQUEST, opts, tmp_path / backend,
                          on_event=lambda mode, data: events.append(data) if mode == "custom" else None)
    assert result.status == "done"
    plan = json.loads((result.run_dir / "plan.json").read_text())
    return result, plan, events


@pytest.mark.parametrize("backend", ["syncos", "wisa"])
def test_crew_renders_multi_event_long_shots_with_syncos(tmp_path, backend):
    from filmcrew.tools.media import probe

    gen = video_backend(backend, debug_models=True)
    assert isinstance(gen, VideoGenerator)
    result, plan, events = _run(tmp_path, backend)
    info = probe(result.final)
    assert info.video_frames == sum(round(s["duration_s"] * FPS) for s in plan["shots"]) == 36
    assert (info.width, info.height) == (64, 64)

    syncos = SyncosGenerator(debug_models=True)
    assert not syncos.physics  # --debug-models: SynCoS over a tiny *plain* transformer
    pipe = syncos.pipeline()
    native_s = pipe.native_frames / pipe.native_fps
    shots = {s["id"]: s for s in plan["shots"]}
    long_multi = {i for i, s in shots.items() if len(s["events"]) >= 2 and s["duration_s"] > native_s}
    assert long_multi  # the request plans long shots with two events each
    progress: dict[str, list[tuple[int, int]]] = {}
    for e in events:
        if e.get("node") == "generate":
            progress.setdefault(e["shot_id"].split("#")[0], []).append((e["step"], e["total"]))
    for c in result.state["candidates"].values():
        shot, meta = shots[c["shot_id"]], c["clip"]["meta"]
        assert c["backend"] == backend
        assert probe(result.run_dir / c["clip"]["uri"]).video_frames == round(shot["duration_s"] * FPS)
        if c["shot_id"] in long_multi:
            assert meta["sampler"] == "syncos"
            assert meta["physics"] == (backend == "wisa")  # the wisa backend keeps its WISA model
            assert meta["latent_frames"] > meta["chunk_len"]  # several coupled chunks
            # one long generated video covering the shot in real time
            assert meta["generated_frames"] / pipe.native_fps >= shot["duration_s"] - 1 / pipe.native_fps
            total = meta["model_calls"]
            assert progress[c["shot_id"]] == [(i, total) for i in range(1, total + 1)]
        elif backend == "syncos":  # no WISA weights: a short shot is one uncoupled chunk
            assert meta["sampler"] == "syncos" and meta["latent_frames"] == meta["chunk_len"]
            assert meta["generated_frames"] == pipe.native_frames
        else:
            assert "sampler" not in meta and meta["generated_frames"] == pipe.native_frames
