"""The run trace: one JSON object per LLM call, tool call and human decision, appended to `trace.jsonl`.

Lines are plain JSON: reading a trace never executes or unpickles anything, and every line is checked
against the record shape before it is used (a malformed or hostile line is rejected with its line
number). Each record carries `kind` ("llm" | "tool" | "human"), the `run` (thread id) it belongs to,
`node`, `name`, `call_index` (the n-th call of that kind in that node, which is what replay serves
calls by), `params_hash`, `cached` and `seconds`; LLM records add the prompt hashes and the parsed
answer, tool records the output file and its sha256. Appends are serialised with a lock because
parallel `Send` branches run in threads, and flushed at once so a killed run keeps what it did.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

KINDS = ("llm", "tool", "human")
MAX_LINE_CHARS = 2_000_000  # a plan with its prompt is a few KB; a megabyte line is not ours
_HEX64 = re.compile(r"[0-9a-f]{64}")
#: What a tool record's output may name: a file of the run's own artifact store, nothing else.
_ARTIFACT_URI = re.compile(r"artifacts/[0-9a-f]{2}/[0-9a-f]{64}\.[a-z0-9]{1,16}")


class TraceError(ValueError):
    """A trace line that is not a valid record; the message names the file and line."""


class Tracer:
    """Appends trace records to a JSON-lines file."""

    def __init__(self, path: Path | None, run_id: str = ""):
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self.records: list[dict[str, Any]] = []  # this process's records, for reports and tests

    def next_index(self, kind: str, node: str) -> int:
        """The index of the next `kind` call in `node` (0, 1, …), counted per tracer."""
        with self._lock:
            i = self._counts.get((kind, node), 0)
            self._counts[(kind, node)] = i + 1
        return i

    def record(self, kind: str, node: str, name: str, params_hash: str, cached: bool,
               seconds: float, **extra: Any) -> dict[str, Any]:
        rec = {
            "kind": kind,
            "run": self.run_id,
            "node": node,
            "name": name,
            "params_hash": params_hash,
            "cached": cached,
            "seconds": round(seconds, 4),
            "time": round(time.time(), 3),
            **extra,
        }
        line = json.dumps(rec, ensure_ascii=False, sort_keys=True, default=str)
        with self._lock:
            self.records.append(rec)
            if self.path is not None:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
        return rec

    @contextmanager
    def timed(self) -> Iterator[dict[str, float]]:
        """`with tracer.timed() as t: ...` then t["seconds"]."""
        box = {"start": time.perf_counter(), "seconds": 0.0}
        try:
            yield box
        finally:
            box["seconds"] = time.perf_counter() - box["start"]


def check_record(rec: Any) -> str | None:
    """Why `rec` is not a trace record we accept, or None if it is."""
    if not isinstance(rec, dict):
        return "not a JSON object"
    missing = {"kind", "node", "name", "params_hash"} - rec.keys()
    if missing:
        return f"missing {', '.join(sorted(missing))}"
    if rec["kind"] not in KINDS:
        return f"unknown kind {str(rec['kind'])[:40]!r}"
    for key in ("node", "name", "run"):
        if key in rec and not (isinstance(rec[key], str) and len(rec[key]) <= 200):
            return f"{key} is not a short string"
    if not (isinstance(rec["params_hash"], str) and _HEX64.fullmatch(rec["params_hash"])):
        return "params_hash is not a sha256 hex digest"
    index = rec.get("call_index", 0)
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        return "call_index is not a non-negative integer"
    if not isinstance(rec.get("cached", False), bool):
        return "cached is not a boolean"
    if not isinstance(rec.get("seconds", 0.0), int | float):
        return "seconds is not a number"
    if rec["kind"] == "tool" and "output" in rec:
        if not (isinstance(rec["output"], str) and _ARTIFACT_URI.fullmatch(rec["output"])):
            return "output is not a file of the run's artifact store"
        if "sha256" in rec and not (isinstance(rec["sha256"], str) and _HEX64.fullmatch(rec["sha256"])):
            return "sha256 is not a sha256 hex digest"
    for key in ("prompt_sha256", "prompt_text_sha256"):
        if key in rec and not (isinstance(rec[key], str) and _HEX64.fullmatch(rec[key])):
            return f"{key} is not a sha256 hex digest"
    return None


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Parse a trace file; every line must be a valid record, else `TraceError` names the line."""
    out = []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TraceError(f"{Path(path).name}: not UTF-8 text") from None
    for i, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{Path(path).name}:{i}"
        if len(line) > MAX_LINE_CHARS:
            raise TraceError(f"{where}: line of {len(line)} characters is too long for a record")
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise TraceError(f"{where}: not JSON ({e.msg})") from None
        except RecursionError:
            raise TraceError(f"{where}: JSON nested too deeply") from None
        reason = check_record(rec)
        if reason:
            raise TraceError(f"{where}: not a trace record: {reason}")
        out.append(rec)
    return out
