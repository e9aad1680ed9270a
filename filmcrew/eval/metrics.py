"""Measure a finished run the way a viewer and a producer would: from `final.mp4`, not from what the
agents said they did.

`evaluate_run(run_dir)` reads the run's outputs (final.mp4, report.json, plan.json, run.json,
trace.jsonl, the artifact store) and returns one JSON-ready dict: film-level measurements (frame
exactness, A/V offset, loudness, true peak, dynamics, cut–beat alignment, cost) and per-shot ones
(temporal consistency, CLIP fidelity when a CLIP model is given, physics when the previz can
measure it). Every metric that does not apply says so with a reason instead of a number.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from filmcrew.eval.fidelity import ClipScorerLike

HOP_S = 0.05  # dB envelope resolution for dynamics and plots
LOUDNESS_TOL_LU = 0.5
TRUE_PEAK_CEILING_DB = -1.0
TRUE_PEAK_TOL_DB = 0.5  # AAC re-encoding may overshoot the mixer's ceiling a little


class EvalError(ValueError):
    """A run directory that cannot be evaluated; the message says what is missing."""


def _load_json(path: Path) -> Any:
    if not path.is_file():
        raise EvalError(f"{path.parent}: no {path.name}; is this a finished run directory?")
    return json.loads(path.read_text(encoding="utf-8"))


def shot_segments(shots: list[dict[str, Any]], cuts_s: list[float], fps: float) -> list[dict[str, int]]:
    """Where each shot lies in the film: start frame, length, cross-faded head/tail frames and the
    clip frame of its first film frame. Crossfades are recovered from the cut times, which put a
    crossfade at its midpoint (`EditDecision.cut_times_s`)."""
    spans = [(round(s["in_s"] * fps), round(s["out_s"] * fps)) for s in shots]
    overlaps: list[int] = []
    t, half_sum = 0.0, 0.0
    for k in range(len(shots) - 1):
        t += shots[k]["out_s"] - shots[k]["in_s"]
        half = max(0.0, t - half_sum - cuts_s[k]) if k < len(cuts_s) else 0.0
        overlaps.append(round(2 * half * fps))
        half_sum += half
    out, start = [], 0
    for k, (a, b) in enumerate(spans):
        head = overlaps[k - 1] if k > 0 else 0
        tail = overlaps[k] if k < len(overlaps) else 0
        out.append({"start": start, "frames": b - a, "head": head, "tail": tail, "clip_start": a})
        start += (b - a) - tail
    return out


def _thumb_features(frames: np.ndarray) -> np.ndarray:
    """Mean-centred 16×16 colour thumbnails, one row per frame: the layout, not the noise."""
    import cv2

    rows = [cv2.resize(f, (16, 16), interpolation=cv2.INTER_AREA).astype(np.float32).ravel()
            for f in frames]
    x = np.stack(rows)
    x -= x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-6)


def temporal_consistency(frames: np.ndarray) -> dict[str, float]:
    """Frame-to-frame similarity of thumbnail features: mean and worst consecutive pair (a jump)."""
    if len(frames) < 2:
        return {"mean": 1.0, "min": 1.0}
    f = _thumb_features(frames)
    sims = np.sum(f[1:] * f[:-1], axis=1)
    return {"mean": round(float(sims.mean()), 4), "min": round(float(sims.min()), 4)}


def motion_energy(frames: np.ndarray) -> float:
    """Mean absolute change between consecutive frames, 0..1."""
    if len(frames) < 2:
        return 0.0
    g = frames.astype(np.float32).mean(axis=-1) / 255.0
    return float(np.abs(np.diff(g, axis=0)).mean())


def trace_cost(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Wall time, per-node seconds and calls, cache hits and LLM tokens of one run's trace."""
    nodes: dict[str, dict[str, float]] = {}
    tokens: dict[str, float] = {}
    for r in records:
        n = nodes.setdefault(r["node"].split(":")[0].split("#")[0],
                             {"calls": 0, "cached": 0, "seconds": 0.0})
        n["calls"] += 1
        n["cached"] += int(bool(r.get("cached")))
        n["seconds"] = round(n["seconds"] + float(r.get("seconds", 0.0)), 4)
        for k, v in (r.get("tokens") or {}).items():
            if isinstance(v, int | float) and not isinstance(v, bool):
                tokens[k] = tokens.get(k, 0) + v
    times = [(float(r["time"]) - float(r.get("seconds", 0.0)), float(r["time"]))
             for r in records if isinstance(r.get("time"), int | float)]
    wall = max(e for _, e in times) - min(s for s, _ in times) if times else 0.0
    return {
        "wall_s": round(wall, 3),
        "tool_s": round(sum(float(r.get("seconds", 0.0)) for r in records if r["kind"] == "tool"), 3),
        "llm_s": round(sum(float(r.get("seconds", 0.0)) for r in records if r["kind"] == "llm"), 3),
        "calls": {"llm": sum(r["kind"] == "llm" for r in records),
                  "tool": sum(r["kind"] == "tool" for r in records),
                  "cached": sum(bool(r.get("cached")) for r in records)},
        "tokens": tokens, "tokens_total": sum(tokens.get(k, 0) for k in ("input", "output",
                                                                          "input_tokens", "output_tokens")
                                              ) or tokens.get("total_tokens", 0),
        "nodes": nodes,
    }


def _artifact_json(run_dir: Path, records: list[dict[str, Any]], name: str) -> Any | None:
    """The JSON output of the last `name` tool call in the trace, or None."""
    for r in reversed(records):
        if r["kind"] == "tool" and r["name"] == name and r.get("output"):
            path = run_dir / r["output"]
            if path.is_file():
                return json.loads(path.read_text(encoding="utf-8"))
    return None


def _annotation(records: list[dict[str, Any]], shot_id: str) -> Any | None:
    """The shot's physics annotation as the generator got it (vectors dropped, as the graph does)."""
    from filmcrew.schemas import PhysicsAnnotation

    for r in reversed(records):
        if r["kind"] == "llm" and r["node"] == f"physics:{shot_id}" and isinstance(r.get("output"), dict):
            ann = PhysicsAnnotation.model_validate(r["output"])
            return PhysicsAnnotation.model_validate(
                ann.model_dump(mode="json", exclude={"qualitative", "quantitative"}))
    return None


def _recorded_hash(records: list[dict[str, Any]], shot_id: str, candidate: int) -> str | None:
    for r in records:
        if r["kind"] == "tool" and r["node"] == f"generate:{shot_id}#{candidate}":
            return r["params_hash"]
    return None


def _film_checks(info: Any, report: dict[str, Any], expected_frames: int, fps: float) -> dict[str, Any]:
    frames = info.video_frames
    planned = round(float(report.get("duration_s") or 0.0) * fps)
    offset_ms = ((info.audio_duration_s or 0.0) - info.video_frames / fps) * 1000.0
    return {
        "frames": {"decoded": frames, "expected": expected_frames, "reported": report.get("frames"),
                   "duration_frames": planned,
                   "passed": frames == expected_frames == report.get("frames") == planned},
        "av_offset": {"ms": round(offset_ms, 2), "frame_ms": round(1000.0 / fps, 2),
                      "audio_s": round(info.audio_duration_s or 0.0, 4),
                      "video_s": round(info.video_frames / fps, 4),
                      "passed": info.audio_duration_s is not None and abs(offset_ms) <= 1000.0 / fps},
    }


def _audio_metrics(audio: np.ndarray, sr: int, target: float, spots: list[float], cuts: list[float],
                   sections: list[tuple[float, float, float]], duration_s: float) -> dict[str, Any]:
    from filmcrew.tools.media import loudness_lufs, true_peak_db
    from filmcrew.tools.music.metrics import (
        beat_times,
        db_curve,
        dynamic_distance,
        energy_db_curve,
        rhythm_score,
    )

    lufs = loudness_lufs(audio, sr)
    tp = true_peak_db(audio, sr)
    env = db_curve(audio, sr, HOP_S)
    voiced = env[env > -70.0]
    lra = float(np.percentile(voiced, 95) - np.percentile(voiced, 10)) if voiced.size else 0.0
    out: dict[str, Any] = {
        "loudness": {"lufs": round(lufs, 2), "target": target, "tolerance": LOUDNESS_TOL_LU,
                     "passed": bool(abs(lufs - target) <= LOUDNESS_TOL_LU)},
        "true_peak": {"dbtp": round(tp, 2), "ceiling": TRUE_PEAK_CEILING_DB,
                      "passed": bool(tp <= TRUE_PEAK_CEILING_DB + TRUE_PEAK_TOL_DB)},
        "dynamics": {"range_db": round(lra, 2), "peak_to_loudness_db": round(tp - lufs, 2)},
        "series": {"hop_s": HOP_S, "db": [round(float(v), 2) for v in env],
                   "onsets_s": [round(float(t), 3) for t in beat_times(audio, sr)],
                   "spots_s": [round(float(t), 3) for t in spots], "cuts_s": list(cuts)},
    }
    if sections and duration_s > 0:
        ref = energy_db_curve(sections, duration_s, hop_s=HOP_S)
        out["dynamics"]["picture_distance"] = round(dynamic_distance(audio, sr, ref, hop_s=HOP_S), 4)
    out["rhythm"] = {
        "spots": len(spots),
        "score": round(rhythm_score(audio, sr, spots), 4) if spots else None,
        "cuts_score": round(rhythm_score(audio, sr, cuts), 4) if cuts else None,
    }
    return out


def _scene_fidelity(s: dict[str, Any], plan_shots: dict[str, Any], records: list[dict[str, Any]],
                    options: dict[str, Any], fps: float, number: int, physics: bool) -> dict[str, Any]:
    """Scene fidelity of a previz shot, re-simulated from its plan shot and annotation."""
    from filmcrew.eval.scene_fidelity import not_applicable, scene_fidelity
    from filmcrew.schemas import Shot

    if not physics:
        return not_applicable("simulation checks were not asked for")
    if s.get("backend") != "previz":
        return not_applicable(f"backend {s.get('backend')!r} is not a simulation")
    if s["id"] not in plan_shots:
        return not_applicable("shot missing from plan.json")
    width, height = options.get("width") or 640, options.get("height") or 360
    return scene_fidelity(Shot.model_validate(plan_shots[s["id"]]), _annotation(records, s["id"]),
                          fps=int(options.get("fps") or round(fps)), seed=int(s["seed"]),
                          width=int(width), height=int(height))


def evaluate_run(run_dir: Path, *, clip: ClipScorerLike | None = None,
                 physics: bool = True) -> dict[str, Any]:
    """All §8 metrics of one finished run, per film and per shot, as a JSON-ready dict.

    `clip` adds CLIP fidelity and CLIP temporal consistency per shot (else they are reported as
    skipped); `physics=False` skips the previz re-simulations.
    """
    from filmcrew.eval.physics import measure_gravity, not_measurable
    from filmcrew.tools.media import probe, read_audio, read_video
    from filmcrew.tracing import read_trace

    t0 = time.perf_counter()
    run_dir = Path(run_dir)
    report = _load_json(run_dir / "report.json")
    meta = _load_json(run_dir / "run.json")
    options = meta.get("options", {})
    final = run_dir / "final.mp4"
    if not final.is_file():
        raise EvalError(f"{run_dir}: no final.mp4; the run did not finish")
    run_id = report.get("run_id", meta.get("thread_id", ""))
    trace_path = run_dir / "trace.jsonl"
    records = [r for r in read_trace(trace_path) if r.get("run") == run_id] if trace_path.exists() else []
    fps = float(report.get("fps") or options.get("fps", 24))
    shots = report["shots"]
    cuts = list(report.get("edit", {}).get("cuts_s", []))
    segments = shot_segments(shots, cuts, fps)
    expected = sum(s["frames"] for s in segments) - sum(s["tail"] for s in segments)

    info = probe(final)
    frames = read_video(final)
    film = _film_checks(info, report, expected, fps)

    energies = []
    per_shot = []
    plan = _load_json(run_dir / "plan.json")
    plan_shots = {s["id"]: s for s in plan["shots"]}
    for number, (s, seg) in enumerate(zip(shots, segments, strict=True), 1):
        a = seg["start"] + seg["head"]
        b = seg["start"] + seg["frames"] - seg["tail"]
        shot_frames = frames[a:b]
        energies.append(motion_energy(frames[seg["start"]:seg["start"] + seg["frames"]]))
        entry: dict[str, Any] = {
            "id": s["id"], "prompt": s["prompt"], "backend": s.get("backend"),
            "phenomena": s.get("phenomena", []), "film_frames": [a, b],
            "thumbnail_frame": (a + b) // 2,
            "temporal_consistency": temporal_consistency(shot_frames),
            "motion_energy": round(energies[-1], 5),
        }
        if clip is None:
            entry["clip"] = {"skipped": "no CLIP model (set FILMCREW_CLIP_MODEL or pass --clip-model)"}
        else:
            from filmcrew.eval.fidelity import clip_score, clip_temporal_consistency

            entry["clip"] = {"model": clip.name, "score": round(clip_score(clip, shot_frames, s["prompt"]), 3),
                             "temporal_consistency": round(clip_temporal_consistency(clip, shot_frames), 4)}
        if not physics:
            entry["physics"] = not_measurable("physics checks were not asked for")
        elif s.get("backend") != "previz":
            entry["physics"] = not_measurable(f"backend {s.get('backend')!r} is not a simulation")
        elif s["id"] not in plan_shots:
            entry["physics"] = not_measurable("shot missing from plan.json")
        elif (round(fps), info.width, info.height) != (options.get("fps"), options.get("width"),
                                                       options.get("height")):
            entry["physics"] = not_measurable("the film's frame rate or size is not the shot clips' "
                                              "(interpolated or rescaled)")
        else:
            from filmcrew.schemas import Shot

            entry["physics"] = measure_gravity(
                shot_frames, np.arange(b - a) + seg["clip_start"] + seg["head"],
                shot=Shot.model_validate(plan_shots[s["id"]]), annotation=_annotation(records, s["id"]),
                width=info.width, height=info.height, fps=round(fps), seed=int(s["seed"]),
                shot_number=number, style=plan.get("style", ""), overlay=bool(options.get("overlay", True)),
                recorded_hash=_recorded_hash(records, s["id"], int(s.get("candidate", 0))))
        entry["scene_fidelity"] = _scene_fidelity(s, plan_shots, records, options, fps, number, physics)
        per_shot.append(entry)

    top = max(energies) if energies and max(energies) > 0 else 1.0
    sections, t = [], 0.0
    for seg, e in zip(segments, energies, strict=True):
        length = (seg["frames"] - seg["tail"]) / fps
        sections.append((t, t + length, 0.3 + 0.7 * e / top))
        t += length
    spots_doc = _artifact_json(run_dir, records, "rhythm_spots")
    # Rhythm's target: the cuts and impacts, not the beat grid the composer fitted itself
    spots = [t for t, k in zip(spots_doc["times_s"], spots_doc.get("kinds") or [], strict=False)
             if k in ("cut", "impact")] if spots_doc and spots_doc.get("kinds") else cuts
    target = float(options.get("target_lufs", -14.0))
    audio_metrics: dict[str, Any]
    if info.audio_duration_s:
        audio, sr = read_audio(final)
        audio_metrics = _audio_metrics(audio, sr, target, spots, cuts, sections, info.video_frames / fps)
    else:
        audio_metrics = {"skipped": "final.mp4 has no audio stream"}

    physics_checks = [p["physics"]["passed"] for p in per_shot if p["physics"].get("measurable")]
    checks = {"frames_exact": film["frames"]["passed"], "av_offset": film["av_offset"]["passed"]}
    if "loudness" in audio_metrics:
        checks["loudness"] = audio_metrics["loudness"]["passed"]
        checks["true_peak"] = audio_metrics["true_peak"]["passed"]
    if physics_checks:
        checks["physics"] = all(physics_checks)
    from filmcrew.eval.scene_fidelity import run_mean

    scene_mean = run_mean([p["scene_fidelity"] for p in per_shot])
    return {
        "run_dir": str(run_dir), "run_id": run_id, "request": report.get("request", ""),
        "options": options, "fps": fps, "size": [info.width, info.height],
        "duration_s": round(info.video_frames / fps, 4), "codecs": info.codecs,
        "film": {**film, **audio_metrics}, "shots": per_shot, "cost": trace_cost(records),
        "scene_fidelity": {"mean": scene_mean,
                           "shots": sum(bool(p["scene_fidelity"].get("applicable")) for p in per_shot)},
        "checks": checks, "passed": all(checks.values()),
        "eval_seconds": round(time.perf_counter() - t0, 3),
    }


def evaluate_runs(run_dirs: list[Path], out_dir: Path, *, baseline: Path | None = None,
                  clip_model: str | None = None, debug_models: bool = False) -> tuple[Path, Path]:
    """Evaluate runs (and a baseline run to compare with) and write eval.json + eval.html in
    `out_dir`; the one call behind `filmcrew eval`. Returns (json path, html path)."""
    from filmcrew.eval.fidelity import load_clip
    from filmcrew.eval.report import write_report

    if not run_dirs:
        raise EvalError("no run directories to evaluate")
    clip = load_clip(clip_model, debug=debug_models)
    results = [evaluate_run(Path(d), clip=clip) for d in run_dirs]
    base = evaluate_run(Path(baseline), clip=clip) if baseline is not None else None
    return write_report(results, Path(out_dir), baseline=base)
