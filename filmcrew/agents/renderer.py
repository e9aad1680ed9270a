"""The renderer: the chosen clips with their trims and transitions, muxed with the mix into the film.

With `--interpolate-fps F` the assembled film is raised to F frames per second by REGEN interpolation.

Writes `final.mp4` (H.264 + AAC, exact frame count, audio within a frame of the picture),
`timeline.otio` (the edit as an OpenTimelineIO timeline), the same edit for editors as `final.fcpxml`
(Final Cut Pro X XML) and `final.edl` (CMX 3600), `plan.json` and `report.json`.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

from filmcrew.context import crew_context, options_of, progress_callback
from filmcrew.schemas import ArtifactRef, Candidate, EditDecision, StoryPlan
from filmcrew.timing import EditGrid
from filmcrew.tracing import read_trace

RENDER_VERSION = "1"


def render_node(state: dict[str, Any], runtime: Any) -> dict[str, Any]:
    from filmcrew.timing import frames_within
    from filmcrew.tools.edit import (
        assemble_frames,
        expected_frame_count,
        write_editor_exports,
        write_otio,
    )
    from filmcrew.tools.media import mux, read_audio

    ctx = crew_context(runtime)
    opts = options_of(state)
    edit = EditDecision.model_validate(state["edit"])
    chosen = [Candidate.model_validate(state["candidates"][f"{e.shot_id}#{e.candidate}"])
              for e in edit.order]
    mix = ArtifactRef.model_validate(state["music"]["mix"])
    clips = [(ctx.store.path(c.clip), e.in_s, e.out_s) for c, e in zip(chosen, edit.order, strict=True)]
    total = expected_frame_count(clips, edit.transitions, opts.fps)
    progress = progress_callback("renderer", None, "mux")

    def make(path: Path) -> dict:
        audio, sr = read_audio(ctx.store.path(mix))
        frames = assemble_frames(clips, edit.transitions, opts.fps, (opts.width, opts.height))

        def counted():
            for i, f in enumerate(frames, 1):
                progress(i, total)
                yield f

        info = mux(path, counted(), opts.fps, audio, sr)
        return {"duration_s": info.video_frames / opts.fps, "fps": opts.fps, "width": opts.width,
                "height": opts.height, "frames": info.video_frames,
                "audio_duration_s": round(info.audio_duration_s or 0.0, 4)}

    final = ctx.store.get_or_create("renderer", "render", RENDER_VERSION,
                                    {"edit": edit.model_dump(mode="json"), "fps": opts.fps,
                                     "size": [opts.width, opts.height]},
                                    ext="mp4", media_type="video/mp4", make=make,
                                    inputs=[*(c.clip for c in chosen), mix])
    if opts.interpolate_fps and opts.interpolate_fps != opts.fps:  # REGEN in-between frames
        from filmcrew.tools.video import interpolate_film, regen_spec

        regen = regen_spec(ctx.settings.regen_checkpoint, debug_models=opts.debug_models)
        final = interpolate_film(ctx.store, "renderer", final, mix, opts.interpolate_fps, regen,
                                 steps=opts.regen_steps)
    _publish(ctx.store.path(final), ctx.run_dir / "final.mp4")
    entries = [{"name": e.shot_id, "path": os.path.relpath(p, ctx.run_dir), "in_s": e.in_s,
                "out_s": e.out_s, "frames": frames_within(c.clip.duration_s or e.out_s, opts.fps)}
               for (p, _, _), e, c in zip(clips, edit.order, chosen, strict=True)]
    timeline = write_otio(ctx.run_dir / "timeline.otio", entries, edit.transitions, opts.fps,
               {"name": "score", "path": os.path.relpath(ctx.store.path(mix), ctx.run_dir),
                "duration_s": mix.duration_s})
    plan = StoryPlan.model_validate(state["plan"])
    (ctx.run_dir / "plan.json").write_text(plan.model_dump_json(indent=2), encoding="utf-8")
    exports = write_editor_exports(timeline, ctx.run_dir)  # final.fcpxml, final.edl
    report = build_report(state, ctx.run_dir, final, chosen)
    report["exports"] = {"otio": "timeline.otio", **{k: p.name for k, p in exports.items()}}
    # where the GPU calls ran (the film is the same either way)
    report["executor"] = ctx.store.executor.describe()
    (ctx.run_dir / "report.json").write_text(json.dumps(report, indent=2), encoding="utf-8")
    return {"render": final.model_dump(mode="json")}


def _publish(src: Path, dst: Path) -> None:
    """Copy the finished film next to the run's other outputs, atomically."""
    tmp = dst.with_suffix(".mp4.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def build_report(state: dict[str, Any], run_dir: Path, final: ArtifactRef,
                 chosen: list[Candidate]) -> dict[str, Any]:
    """Shots, choices, durations, loudness, per-node timings and cache hits of this run."""
    plan = StoryPlan.model_validate(state["plan"])
    edit = EditDecision.model_validate(state["edit"])
    music = state["music"]
    run_id = state.get("run_id", "")
    trace_path = run_dir / "trace.jsonl"
    records = [r for r in read_trace(trace_path) if r.get("run") == run_id] if trace_path.exists() else []
    nodes: dict[str, dict[str, float]] = defaultdict(lambda: {"calls": 0, "cached": 0, "seconds": 0.0})
    for r in records:
        n = nodes[r["node"].split(":")[0].split("#")[0]]
        n["calls"] += 1
        n["cached"] += int(bool(r["cached"]))
        n["seconds"] = round(n["seconds"] + float(r["seconds"]), 3)
    mix = ArtifactRef.model_validate(music["mix"])
    return {
        "run_id": run_id,
        "request": state["request"],
        "duration_s": final.duration_s,
        "frames": final.meta.get("frames"),
        "fps": final.fps,
        "size": [final.width, final.height],
        "final": "final.mp4",
        "final_sha256": final.sha256,
        "shots": [
            {"id": s.id, "prompt": s.local_prompt, "planned_s": s.duration_s,
             "candidate": e.candidate, "seed": c.seed, "backend": c.backend,
             "in_s": e.in_s, "out_s": e.out_s,
             "phenomena": _phenomena(state, s.id),
             **({"rflav_conditioning": c.clip.meta["rflav_conditioning"]}
                if "rflav_conditioning" in c.clip.meta else {})}
            for s, e, c in zip(plan.shots, edit.order, chosen, strict=True)
        ],
        "edit": {"scorer": edit.scorer, "score": edit.score, "scorer_calls": edit.scorer_calls,
                 "cuts_s": EditGrid.of_edit(edit, options_of(state).fps).cut_times_s},
        "music": {
            "key": plan.music_brief.key, "mode": plan.music_brief.mode,
            "rounds": music.get("round", 0),
            "critiques": music.get("critiques", []),
            "lufs": mix.meta.get("lufs"), "true_peak_db": mix.meta.get("true_peak_db"),
            "stems": mix.meta.get("stems", []),
            # spots hit before/after conforming generated music to the picture (issue 20)
            "conform": {k.removeprefix("conform_"): v for k, v in ArtifactRef.model_validate(
                music["stems"]).meta.items() if k.startswith("conform_")} or None,
        },
        # weights with terms the user must know about (RFLAV's are non-commercial)
        "licenses": sorted({str(c.clip.meta["license"]) for c in chosen if "license" in c.clip.meta}),
        "calls": {
            "llm": sum(r["kind"] == "llm" for r in records),
            "tool": sum(r["kind"] == "tool" for r in records),
            "cached": sum(bool(r["cached"]) for r in records),
        },
        "nodes": dict(nodes),
    }


def _phenomena(state: dict[str, Any], shot_id: str) -> list[str]:
    from filmcrew.schemas import PhysicsAnnotation

    ann = (state.get("annotations") or {}).get(shot_id)
    return PhysicsAnnotation.model_validate(ann).phenomena if ann else []
