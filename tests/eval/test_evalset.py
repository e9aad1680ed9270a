"""The in-repo evaluation set: its cases are valid and cheap, and running a set checks each expected
property against the measured film, reporting a property the film misses as failed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from filmcrew.config import RunOptions
from filmcrew.eval.evalset import EvalSetError, load_case, run_eval_set

SET_DIR = Path(__file__).resolve().parents[1] / "evals"


def test_the_set_has_small_valid_cases():
    files = sorted(SET_DIR.glob("*.json"))
    assert 4 <= len(files) <= 6
    names = set()
    for f in files:
        case = load_case(f)
        opts = RunOptions.model_validate(case["options"])  # every option is a real run option
        assert opts.width * opts.height <= 320 * 180 and opts.candidates == 1
        assert opts.duration_s is not None and opts.duration_s <= 6
        assert case["expect"], f.name
        names.add(case["name"])
    assert len(names) == len(files)


def test_a_bad_case_is_rejected_with_its_file_name(tmp_path):
    bad = tmp_path / "oops.json"
    bad.write_text(json.dumps({"request": "a ball", "expect": {"lufs": -14}}))
    with pytest.raises(EvalSetError, match=r"oops\.json: unknown expect key"):
        load_case(bad)
    with pytest.raises(EvalSetError, match=r"no \*\.json cases"):
        run_eval_set(tmp_path / "empty", tmp_path / "out")


def test_running_a_set_checks_each_property(tmp_path):
    import torch

    torch.set_num_threads(1)
    case = json.loads((SET_DIR / "ball_drop.json").read_text())
    wrong = dict(case["expect"], lufs_target=-20.0, shots=[7, 9])  # what this film is not
    set_dir = tmp_path / "set"
    set_dir.mkdir()
    (set_dir / "ball.json").write_text(json.dumps({**case, "name": "ball", "expect": wrong}))
    html = run_eval_set(set_dir, tmp_path / "out", overrides={"duration_s": 3.0})
    assert html.name == "eval.html" and html.is_file()
    doc = json.loads((html.parent / "eval.json").read_text())
    (run,) = doc["runs"]
    assert run["options"]["duration_s"] == 3.0 and run["options"]["llm"] == "offline"
    props = {p["property"]: p for p in run["expected"]}
    assert not props["loudness (LUFS)"]["passed"] and props["loudness (LUFS)"]["got"] > -15
    assert not props["shot count"]["passed"]
    assert props["phenomenon 'rigid body motion' in some shot"]["passed"]
    assert props["g measured in some shot"]["passed"]
    assert not run["passed"]
    assert "expected: loudness (LUFS)" in html.read_text()
