"""Configuration is described data: every variable the code reads is documented."""

from __future__ import annotations

import re
from pathlib import Path

from filmcrew.config import RunOptions, Settings

ROOT = Path(__file__).resolve().parents[1]


def test_env_example_lists_every_setting_with_a_comment():
    text = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^([A-Z_]+)=", text, re.M))
    expected = {f"FILMCREW_{name.upper()}" for name in Settings.model_fields} | {"FILMCREW_DEBUG"}
    assert expected <= documented
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[i - 1].startswith("#"), f"{line} has no comment above it"


def test_empty_env_values_mean_unset(monkeypatch):
    monkeypatch.setenv("FILMCREW_LLM_API_KEY", "")
    monkeypatch.setenv("FILMCREW_LLM_BASE_URL", "")
    s = Settings(_env_file=None)
    assert s.llm_api_key is None and s.llm_base_url is None


def test_every_run_option_has_a_description():
    for name, field in RunOptions.model_fields.items():
        assert field.description, name


def test_every_run_option_is_a_cli_flag():
    import typer.main

    from filmcrew.cli import app

    cmd = typer.main.get_command(app).commands["run"]
    flags = {opt for p in cmd.params for opt in p.opts}
    for name in RunOptions.model_fields:
        flag = "--" + name.removesuffix("_s").replace("_", "-")
        assert flag in flags, f"RunOptions.{name} has no {flag} flag"


def test_importing_filmcrew_loads_no_heavy_library():
    import subprocess
    import sys

    code = ("import sys, filmcrew, filmcrew.cli, filmcrew.graphs.film, filmcrew.tools.video; "
            "print([m for m in ('torch', 'diffusers', 'transformers', 'cv2', 'av') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
