"""The run trace: one JSON object per LLM call and per tool call, appended to `trace.jsonl`.

Lines are plain JSON (never pickled, never executed). Each carries at least `kind` ("llm" | "tool"),
`node`, `name`, `params_hash`, `cached` and `seconds`, plus the `run` (thread id) it belongs to, so
several runs in one directory can be told apart. Appends are serialised with a lock because parallel
`Send` branches run in threads, and flushed at once so a killed run keeps what it did.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Tracer:
    """Appends trace records to a JSON-lines file."""

    def __init__(self, path: Path | None, run_id: str = ""):
        self.path = path
        self.run_id = run_id
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []  # this process's records, for reports and tests

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


def read_trace(path: Path) -> list[dict[str, Any]]:
    """Parse a trace file; every line must be a JSON object with the required keys."""
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path.name}:{i}: not JSON ({e.msg})") from None
        if not isinstance(rec, dict) or not {"kind", "node", "name", "params_hash"} <= rec.keys():
            raise ValueError(f"{path.name}:{i}: not a trace record")
        out.append(rec)
    return out
