"""Bad input gets one line on stderr and a non-zero exit, never a traceback, and nothing is lost."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def filmcrew(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILMCREW_")}
    return subprocess.run([sys.executable, "-m", "filmcrew", *args], capture_output=True,
                          text=True, timeout=60, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args,needle", [
    (["run", "   ", "--yes"], "empty"),
    (["run", "x" * 100_000, "--yes"], "100000 characters"),
    (["run", "a ball falls", "--duration", "0", "--yes"], "must be > 0"),
    (["run", "a ball falls", "--duration", "-3", "--yes"], "must be > 0"),
    (["run", "a ball falls", "--duration", "99999", "--yes"], "≤ 600"),
    (["run", "a ball falls", "--video-backend", "sora", "--yes"], "unknown video backend 'sora'"),
    (["run", "a ball falls", "--music-backend", "nope", "--yes"], "unknown music backend"),
    (["run", "a ball falls", "--scorer", "nope", "--yes"], "unknown scorer"),
    (["run", "a ball falls", "--width", "641", "--yes"], "odd"),
    (["run", "a ball falls", "--run-dir", "/proc/filmcrew-test", "--yes"], "cannot write to run dir"),
    (["resume", "/nonexistent/run"], "no run to resume"),
    (["run", "a ball falls", "--interpolate-fps", "48", "--yes"], "FILMCREW_REGEN_CHECKPOINT"),
    (["run", "a ball falls", "--music-backend", "musicgen", "--yes"], "facebook/musicgen-melody"),
    (["eval", "/nonexistent/run"], "no report.json"),
    (["replay", "/nonexistent/run"], "does not exist"),
    (["train-regen", "clips", "--out", "x.pt"], "must end in .safetensors"),
])
def test_bad_input_is_one_line_and_nonzero(args, needle, tmp_path):
    res = filmcrew(*args, cwd=tmp_path)
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert needle in lines[0]
    assert not (tmp_path / "runs").exists()  # a refused run creates nothing


def test_plan_approval_without_a_terminal_asks_for_yes(tmp_path):
    res = filmcrew("run", "a red ball bounces", "--run-dir", str(tmp_path / "r"), "--duration", "3",
                   "--width", "128", "--height", "72", "--candidates", "1")
    assert res.returncode == 2
    assert "--yes" in res.stderr and "Traceback" not in res.stderr


def test_doctor_reports_backends():
    res = filmcrew("doctor")
    assert res.returncode == 0, res.stderr
    for needle in ("llm", "previz", "PyAV", "MiniLM", "torch"):
        assert needle in res.stderr


def test_a_bad_option_value_is_a_usage_error_not_a_traceback(tmp_path):
    res = filmcrew("run", "a ball falls", "--fps", "abc", cwd=tmp_path)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "Invalid value for '--fps'" in res.stderr
