"""The crew with the learned shot-editor scorer (`--scorer lca --debug-models`, a tiny random LCA).

What a user notices: the film renders end to end, the edit says it was chosen by the LCA scorer
within the beam-search budget, and the LCA choice is the best of every possible cut under the same
scorer when the beam is wide enough; without a checkpoint or --debug-models the run refuses.
"""

from __future__ import annotations

import json

import pytest

from filmcrew import runner
from filmcrew.agents.shot_editor import make_scorer
from filmcrew.config import RunOptions, Settings
from filmcrew.tools.edit.lca.scorer import LCAScorer
from filmcrew.tools.edit.skald import brute_force, clip_features
from filmcrew.tools.media import read_video

REQUEST = "A red rubber ball is dropped and bounces on the floor; a glass falls and shatters."
FPS = 8


def test_crew_edits_with_the_lca_scorer(tmp_path):
    from filmcrew.tools.media import probe

    opts = RunOptions(duration_s=3.0, candidates=2, beam=8, seed=1, width=64, height=64, fps=FPS,
                      scorer="lca", debug_models=True, max_critic_rounds=0)
    result = runner.start(REQUEST, opts, tmp_path / "run")
    assert result.status == "done"
    plan = json.loads((result.run_dir / "plan.json").read_text())
    edit = result.state["edit"]
    n, k = len(plan["shots"]), 2
    assert edit["scorer"] == "lca"
    assert 0 < edit["scorer_calls"] <= n * opts.beam * k
    assert probe(result.final).video_frames == sum(round(s["duration_s"] * FPS) for s in plan["shots"])
    # the same tiny LCA, scoring every possible cut: the editor's choice is the best one
    cands = result.state["candidates"].values()
    feats = [[clip_features(read_video(result.run_dir / c["clip"]["uri"]), FPS)
              for c in sorted((c for c in cands if c["shot_id"] == s["id"]), key=lambda c: c["index"])]
             for s in plan["shots"]]
    best = brute_force(feats, LCAScorer.debug(seed=opts.seed).score_batch)
    assert [e["candidate"] for e in edit["order"]] == best.indices


def test_lca_scorer_needs_a_checkpoint_or_debug_models(tmp_path):
    with pytest.raises(ValueError, match="FILMCREW_LCA_CHECKPOINT"):
        make_scorer("lca", debug_models=False, settings=Settings(lca_checkpoint=None))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make_scorer("lca", debug_models=True, settings=Settings(lca_checkpoint=tmp_path / "no.safetensors"))
    with pytest.raises(ValueError, match="unknown scorer"):
        RunOptions(scorer="vibes")
