"""Checks of what a user types or points at, before any expensive work.

Every check raises `ValueError` (or `RunError` for run directories) whose message is one line: what is
wrong and what to do. The CLI prints it with exit code 2; the terminal chat and the web page show it
as a message. The table of cases and what each gets lives in tests/test_bad_input.py.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
import unicodedata
from pathlib import Path
from typing import Any

from filmcrew.config import MAX_DURATION_S, MAX_REQUEST_CHARS

#: The LangGraph checkpoint database in a run directory.
CHECKPOINT_DB = "checkpoints.sqlite"


class RunError(RuntimeError):
    """A run cannot start or continue; the message is one line for the user."""

#: Files a run directory may hold; anything else in a non-empty directory means it is not ours.
RUN_MARKERS = ("run.json", "chat.json", "checkpoints.sqlite", "trace.jsonl", "artifacts", "run.tmp",
               ".write-test", "plan.proposed.json", "final.mp4", "cuts")
#: Shell syntax that has no place in a description of a film (nothing is ever run, but it is
#: almost surely a paste into the wrong window).
_SHELL = re.compile(r"\$\(|\$\{|`|\$[A-Za-z_][A-Za-z0-9_]*|(?:^|\s)(?:&&|\|\|)(?:\s|$)")
_PATHLIKE = re.compile(r"^(?:~|\.{1,2})?/|^[A-Za-z]:\\|^\\\\|[/\\][^/\\]*\.[A-Za-z0-9]{2,6}$|"
                       r"^\w[\w.-]*/[\w.-]+/")


def check_request(request: Any) -> str:
    """Strip and check a natural-language request; ValueError with a one-line reason."""
    if not isinstance(request, str):
        raise ValueError("the request must be text; describe the film you want")
    text = request.strip()
    if not text:
        raise ValueError("the request is empty; describe the film you want")
    if len(text) > MAX_REQUEST_CHARS:
        raise ValueError(f"the request is {len(text)} characters; keep it under {MAX_REQUEST_CHARS}")
    for i, ch in enumerate(text):
        if unicodedata.category(ch) == "Cc" and ch not in "\n\t\r":
            name = "NUL" if ch == "\0" else f"U+{ord(ch):04X}"
            raise ValueError(f"the request holds a control character ({name}) at character {i + 1}; "
                             "type the film in plain words")
    if not any(c.isspace() for c in text) and (_PATHLIKE.search(text) or _exists(text)):
        raise ValueError(f"the request looks like a file path ({_short(text)}); describe the film in "
                         "words (to continue a run: filmcrew resume RUN_DIR)")
    m = _SHELL.search(text)
    if m:
        raise ValueError(f"the request holds shell syntax ({m.group().strip()!r}); nothing is run — "
                         "describe the film in plain words")
    check_stated_duration(text)
    return text


def check_stated_duration(text: str) -> None:
    """A length stated in the request ("a 0-second film", "1e9 seconds") must be usable."""
    from filmcrew.llm.offline_planner import stated_duration

    try:
        value = stated_duration(text)[0]
    except (ValueError, OverflowError):
        return  # not a number the planner reads; it will use the default length
    if value is not None:
        check_duration(value, "the request asks for")


def check_duration(value: float, what: str = "duration") -> float:
    """A film length in seconds: finite, > 0, ≤ MAX_DURATION_S."""
    if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value <= MAX_DURATION_S):
        raise ValueError(f"{what} {value:g} s; a film must last more than 0 and at most "
                         f"{MAX_DURATION_S:g} s")
    return float(value)


def check_edited_plan(text: str, proposed: Any) -> dict[str, Any]:
    """The plan JSON a user edited: valid JSON, a valid plan, shots lasting as long as the film."""
    from pydantic import ValidationError

    from filmcrew.schemas import StoryPlan

    def no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not a number a plan can hold")

    try:
        data = json.loads(text, parse_constant=no_constant)
    except json.JSONDecodeError as e:
        raise ValueError(f"not valid JSON: {e.msg} (line {e.lineno}, column {e.colno})") from None
    try:
        plan = StoryPlan.model_validate(data)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise ValueError(f"{where}: {str(err['msg']).removeprefix('Value error, ')}") from None
    ids = [s.id for s in plan.shots]
    if len(set(ids)) != len(ids):
        raise ValueError(f"shot ids must be unique; got {', '.join(ids)}")
    for s in plan.shots:
        check_duration(s.duration_s, f"{s.id} lasts")
    want = float(proposed.duration_s)
    if abs(plan.duration_s - want) > 0.05:
        raise ValueError(f"the shots add up to {plan.duration_s:.2f} s but the film is {want:.2f} s; "
                         "make the shot durations add up")
    return plan.model_dump(mode="json")


# -- run directories ------------------------------------------------------------------------------


def check_run_dir(run_dir: Path, purpose: str, request: str | None = None) -> None:
    """Refuse a run directory that cannot be used for `purpose` ("run", "chat", "resume"), before
    anything is written: a file, a folder of other things, a run of another kind or request, a
    damaged checkpoint database. A refused directory is left exactly as it was."""

    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        what = "the run's directory" if purpose == "resume" else "a directory (a new one is made)"
        raise RunError(f"{run_dir} is a file, not a run directory; give {what}")
    if not run_dir.exists():
        if purpose == "resume":
            raise RunError(f"{run_dir} holds no run to resume (no run.json)")
        return
    names = {p.name for p in run_dir.iterdir()}
    is_run, is_chat = "run.json" in names, "chat.json" in names
    if names and not names & set(RUN_MARKERS):
        raise RunError(f"{run_dir} is not empty and holds no filmcrew run; give a new or empty "
                       "directory")
    if purpose in ("run", "resume") and is_chat and not is_run:
        raise RunError(f"{run_dir} holds a chat, not a run; continue it with "
                       f"filmcrew chat --run-dir {run_dir}")
    if purpose == "chat" and is_run and not is_chat:
        raise RunError(f"{run_dir} holds a run, not a chat; give the chat a new --run-dir "
                       f"(or filmcrew resume {run_dir})")
    if purpose == "resume" and not is_run:
        raise RunError(f"{run_dir} holds no run to resume (no run.json)")
    if is_run and purpose in ("run", "resume"):
        meta = _read_meta(run_dir / "run.json")
        if purpose == "run" and request is not None and meta.get("request") != request:
            raise RunError(f"{run_dir} holds another run ({_short(str(meta.get('request')))!r}); "
                           "give --run-dir a new directory, or filmcrew resume it")
    if is_chat:
        _read_meta(run_dir / "chat.json")
    check_checkpoints(run_dir)


def _read_meta(path: Path) -> dict[str, Any]:

    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        meta = None
    if not isinstance(meta, dict) or "options" not in meta:
        raise RunError(f"{path} is damaged (not a filmcrew {path.stem} file); the directory "
                       "cannot be continued — start again in a new directory")
    return meta


def check_checkpoints(run_dir: Path) -> None:
    """Check the checkpoint database by reading it: a damaged one is named, never rewritten."""

    db = Path(run_dir) / CHECKPOINT_DB
    if not db.exists():
        return
    try:
        # read only in effect (nothing is written), but not mode=ro: a run killed mid-write leaves a
        # journal that SQLite must roll back on open, which a read-only connection cannot do
        conn = sqlite3.connect(db)
        try:
            ok = conn.execute("PRAGMA quick_check").fetchone()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as e:
        ok = (str(e),)
    if not ok or ok[0] != "ok":
        raise RunError(f"{db} is damaged ({ok[0] if ok else 'unreadable'}); this run cannot "
                       "continue — start it again in a new --run-dir")


def _exists(text: str) -> bool:
    try:
        return (len(text) < 1024 and any(c in text for c in "/\\.")
                and Path(text).expanduser().exists())
    except (OSError, ValueError):
        return False


def _short(text: str, n: int = 48) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
