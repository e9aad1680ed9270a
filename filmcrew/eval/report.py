"""Write an evaluation as `eval.json` and a self-contained `eval.html`.

The HTML needs nothing but the file: CSS inline, plots drawn with matplotlib (Agg) and thumbnails
from each run's final.mp4 embedded as base64 PNG, no scripts, no external URLs. A baseline run is
shown beside each run with the delta of every headline number.
"""

from __future__ import annotations

import base64
import io
import json
import math
import time
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

TEMPLATE = "report.html.jinja"
#: Headline numbers compared with the baseline: key -> (label, unit, higher is better or None).
SUMMARY_KEYS: dict[str, tuple[str, str, bool | None]] = {
    "frames": ("frames decoded", "", None),
    "av_offset_ms": ("A/V offset", "ms", None),
    "lufs": ("integrated loudness", "LUFS", None),
    "lufs_error": ("loudness error", "LU", False),
    "true_peak_dbtp": ("true peak", "dBTP", None),
    "range_db": ("loudness range", "dB", None),
    "rhythm_score": ("cut–beat alignment (Rhythm)", "", True),
    "dynamic_distance": ("dynamics vs picture energy", "", False),
    "temporal_consistency": ("temporal consistency (mean over shots)", "", True),
    "clip_score": ("CLIP score (mean over shots)", "", True),
    "physics_rel_error": ("physics: |g − 9.81| / 9.81 (mean)", "", False),
    "scene_fidelity": ("scene fidelity (checks passed, mean over shots)", "", True),
    "wall_s": ("wall time", "s", False),
    "tool_s": ("tool seconds", "s", False),
    "tokens": ("LLM tokens", "", False),
    "calls": ("calls (LLM + tool)", "", None),
    "cached": ("cache hits", "", None),
}


def _mean(xs: list[float]) -> float | None:
    return float(np.mean(xs)) if xs else None


def summary(result: dict[str, Any]) -> dict[str, float | None]:
    """The headline numbers of one evaluated run (None where a metric did not apply)."""
    film, cost, shots = result["film"], result["cost"], result["shots"]
    lufs = film.get("loudness", {}).get("lufs")
    return {
        "frames": film["frames"]["decoded"],
        "av_offset_ms": film["av_offset"]["ms"],
        "lufs": lufs,
        "lufs_error": abs(lufs - film["loudness"]["target"]) if lufs is not None else None,
        "true_peak_dbtp": film.get("true_peak", {}).get("dbtp"),
        "range_db": film.get("dynamics", {}).get("range_db"),
        "rhythm_score": film.get("rhythm", {}).get("score"),
        "dynamic_distance": film.get("dynamics", {}).get("picture_distance"),
        "temporal_consistency": _mean([s["temporal_consistency"]["mean"] for s in shots]),
        "clip_score": _mean([s["clip"]["score"] for s in shots if "score" in s["clip"]]),
        "physics_rel_error": _mean([s["physics"]["rel_error"] for s in shots
                                    if s["physics"].get("measurable")]),
        "scene_fidelity": result.get("scene_fidelity", {}).get("mean"),
        "wall_s": cost["wall_s"],
        "tool_s": cost["tool_s"],
        "tokens": cost["tokens_total"],
        "calls": cost["calls"]["llm"] + cost["calls"]["tool"],
        "cached": cost["calls"]["cached"],
    }


def deltas(result: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """run − baseline for every headline number both have."""
    a, b = summary(result), summary(baseline)
    return {k: (round(float(a[k]) - float(b[k]), 4) if a[k] is not None and b[k] is not None else None)
            for k in SUMMARY_KEYS}


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def loudness_plot(result: dict[str, Any], baseline: dict[str, Any] | None = None) -> str | None:
    """The mix's dB envelope with cuts (red), rhythm spots (ticks) and detected onsets (dots)."""
    series = result["film"].get("series")
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 2.6))
    t = (np.arange(len(series["db"])) + 0.5) * series["hop_s"]
    ax.plot(t, series["db"], lw=1.2, color="#1f5f99", label="run")
    if baseline and baseline["film"].get("series"):
        b = baseline["film"]["series"]
        ax.plot((np.arange(len(b["db"])) + 0.5) * b["hop_s"], b["db"], lw=1, color="#999",
                ls="--", label="baseline")
    for c in series["cuts_s"]:
        ax.axvline(c, color="#c0392b", lw=1)
    top = max(series["db"]) if series["db"] else 0.0
    ax.plot(series["spots_s"], [top + 3] * len(series["spots_s"]), "|", color="#333", ms=10,
            label="rhythm spots")
    ax.plot(series["onsets_s"], [top + 6] * len(series["onsets_s"]), ".", color="#e67e22",
            label="music onsets")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("dB")
    ax.set_ylim(max(-80.0, min(series["db"] or [-80.0]) - 3), top + 9)
    ax.legend(loc="lower right", fontsize=7, ncol=4)
    return _png(fig)


def cost_plot(result: dict[str, Any]) -> str | None:
    """Seconds spent per graph node."""
    nodes = result["cost"]["nodes"]
    if not nodes:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 0.3 * len(nodes) + 0.8))
    names = list(nodes)
    ax.barh(names, [nodes[n]["seconds"] for n in names], color="#5b8c5a")
    ax.invert_yaxis()
    ax.set_xlabel("seconds")
    return _png(fig)


def thumbnails(result: dict[str, Any], width: int = 240) -> list[str | None]:
    """One PNG (base64) per shot: the middle frame of the shot in final.mp4."""
    from PIL import Image

    from filmcrew.tools.media import iter_frames

    wanted = {s["thumbnail_frame"]: i for i, s in enumerate(result["shots"])}
    out: list[str | None] = [None] * len(result["shots"])
    final = Path(result["run_dir"]) / "final.mp4"
    if not final.is_file():
        return out
    for k, frame in enumerate(iter_frames(final, max_frames=max(wanted) + 1 if wanted else 0)):
        if k in wanted:
            img = Image.fromarray(frame)
            img = img.resize((width, max(1, round(img.height * width / img.width))))
            buf = io.BytesIO()
            img.save(buf, format="PNG")
            out[wanted[k]] = base64.b64encode(buf.getvalue()).decode("ascii")
    return out


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isinf(v) or math.isnan(v):
            return str(v)
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.0f}"
    return str(v)


def _render_html(context: dict[str, Any]) -> str:
    import jinja2

    source = resources.files("filmcrew.eval").joinpath(TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=True)
    env.filters["fmt"] = _fmt
    return env.from_string(source).render(**context)


def write_report(results: list[dict[str, Any]], out_dir: Path, *,
                 baseline: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """Write `eval.json` and `eval.html` for evaluated runs (from `evaluate_run`) into `out_dir`,
    each run beside the baseline with deltas when one is given. Returns (json path, html path)."""
    if not results:
        raise ValueError("write_report: no evaluated runs")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    created = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    doc = {"created": created, "runs": results, "baseline": baseline,
           "summaries": [summary(r) for r in results],
           "baseline_summary": summary(baseline) if baseline else None,
           "deltas": [deltas(r, baseline) for r in results] if baseline else None}
    json_path = out_dir / "eval.json"
    json_path.write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")

    runs = []
    for r, s in zip(results, doc["summaries"], strict=True):
        runs.append({
            "result": r, "summary": s,
            "delta": deltas(r, baseline) if baseline else None,
            "loudness_png": loudness_plot(r, baseline), "cost_png": cost_plot(r),
            "thumbs": thumbnails(r),
        })
    context = {
        "created": created, "keys": SUMMARY_KEYS, "runs": runs,
        "baseline": baseline, "baseline_summary": doc["baseline_summary"],
        "baseline_thumbs": thumbnails(baseline) if baseline else None,
    }
    html_path = out_dir / "eval.html"
    html_path.write_text(_render_html(context), encoding="utf-8")
    return json_path, html_path
