"""A small, cheap, in-repo evaluation set: requests with run options and the properties their films
must have, run end to end and checked from the measured outputs.

Each case is a JSON file:

    {"name": "ball-drop", "request": "...",
     "options": {"duration_s": 4, "width": 160, "height": 96, "candidates": 1, "beam": 1, "seed": 1},
     "expect": {"shots": [2, 4], "duration_s": 4.0, "phenomena": ["rigid body motion"],
                "lufs_target": -14.0, "physics_g": true, "checks": true}}

Every `expect` key is optional: `shots` a [min, max] shot count, `duration_s` the film length
(within one frame), `phenomena` names each expected in some shot, `lufs_target` the measured
loudness within 0.5 LU, `physics_g` at least one shot whose g is measured and right, `checks` every
film-level check of `evaluate_run` passing, `rhythm_min` a minimum Rhythm score.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from filmcrew.eval.metrics import LOUDNESS_TOL_LU, evaluate_run

EXPECT_KEYS = ("shots", "duration_s", "phenomena", "lufs_target", "physics_g", "checks", "rhythm_min")
DEFAULT_SET = Path(__file__).resolve().parents[2] / "tests" / "evals"


class EvalSetError(ValueError):
    """A case file that is not a valid evaluation case; the message names the file."""


def load_case(path: Path) -> dict[str, Any]:
    """Read and check one case file."""
    try:
        case = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise EvalSetError(f"{Path(path).name}: not JSON ({e.msg})") from None
    if not isinstance(case, dict) or not isinstance(case.get("request"), str):
        raise EvalSetError(f"{Path(path).name}: needs a string 'request'")
    unknown = set(case.get("expect", {})) - set(EXPECT_KEYS)
    if unknown:
        raise EvalSetError(f"{Path(path).name}: unknown expect key(s) {', '.join(sorted(unknown))}; "
                           f"known: {', '.join(EXPECT_KEYS)}")
    case.setdefault("name", Path(path).stem)
    case.setdefault("options", {})
    case.setdefault("expect", {})
    return case


def check_expected(result: dict[str, Any], expect: dict[str, Any]) -> list[dict[str, Any]]:
    """Each expected property of a case, measured on its evaluated run: property, want, got, passed."""
    out = []

    def add(prop: str, want: Any, got: Any, passed: bool) -> None:
        out.append({"property": prop, "want": want, "got": got, "passed": bool(passed)})

    shots = result["shots"]
    if "shots" in expect:
        lo, hi = expect["shots"]
        add("shot count", f"{lo}..{hi}", len(shots), lo <= len(shots) <= hi)
    if "duration_s" in expect:
        want = float(expect["duration_s"])
        add("duration (s)", want, result["duration_s"], abs(result["duration_s"] - want) <= 1 / result["fps"])
    for name in expect.get("phenomena", []):
        where = [s["id"] for s in shots if name in s["phenomena"]]
        add(f"phenomenon '{name}' in some shot", "≥ 1 shot", ", ".join(where) or "none", bool(where))
    if "lufs_target" in expect:
        got = result["film"].get("loudness", {}).get("lufs")
        want = float(expect["lufs_target"])
        add("loudness (LUFS)", f"{want} ± {LOUDNESS_TOL_LU}", got,
            got is not None and abs(got - want) <= LOUDNESS_TOL_LU)
    if expect.get("physics_g"):
        measured = [s for s in shots if s["physics"].get("measurable")]
        got = ", ".join(f"{s['id']}: {s['physics']['g_measured']}" for s in measured) or "none measurable"
        add("g measured in some shot", "9.81 ± 10 %", got, any(s["physics"]["passed"] for s in measured))
    if expect.get("checks"):
        failed = [k for k, v in result["checks"].items() if not v]
        add("film checks", "all pass", ", ".join(failed) or "all pass", not failed)
    if "rhythm_min" in expect:
        got = result["film"].get("rhythm", {}).get("score")
        add("Rhythm score", f"≥ {expect['rhythm_min']}", got,
            got is not None and got >= float(expect["rhythm_min"]))
    return out


def _default_start(*args: Any, **kwargs: Any) -> Any:
    from filmcrew.runner import start

    return start(*args, **kwargs)


def run_eval_set(set_dir: Path, out_dir: Path, *, overrides: dict[str, Any] | None = None,
                 runner_start: Callable[..., Any] = _default_start, clip_model: str | None = None,
                 debug_models: bool = False) -> Path:
    """Run every case in `set_dir` (auto-approved, offline LLM unless overridden) into
    `out_dir/runs/<name>`, evaluate each run, check its expected properties and write eval.json and
    eval.html into `out_dir`. Returns the path of eval.html. `overrides` replace run options of every
    case (e.g. {"seed": 7} or {"llm": "openai:gpt-4o-mini"})."""
    from filmcrew.config import RunOptions
    from filmcrew.eval.fidelity import load_clip
    from filmcrew.eval.report import write_report

    set_dir, out_dir = Path(set_dir), Path(out_dir)
    files = sorted(set_dir.glob("*.json"))
    if not files:
        raise EvalSetError(f"{set_dir}: no *.json cases")
    cases = [load_case(f) for f in files]
    clip = load_clip(clip_model, debug=debug_models)
    results = []
    for case in cases:
        options = RunOptions.model_validate({"llm": "offline", **case["options"], **(overrides or {})})
        run_dir = out_dir / "runs" / case["name"]
        run = runner_start(case["request"], options, run_dir)
        if getattr(run, "status", None) != "done":
            raise EvalSetError(f"case {case['name']}: the run ended {getattr(run, 'status', '?')!r}")
        result = evaluate_run(run_dir, clip=clip)
        result["case"] = case["name"]
        result["expected"] = check_expected(result, case["expect"])
        result["passed"] = result["passed"] and all(p["passed"] for p in result["expected"])
        results.append(result)
    _, html = write_report(results, out_dir)
    return html
