"""Replay a recorded run: serve its LLM answers, tool outputs and human decisions from the recording.

A recording is a run directory: `run.json` (request, options), `trace.jsonl` (every call) and the
artifact files. Replay rebuilds the graph with a recorded LLM and a recorded artifact store that serve
each call by (node, call index), never by a prompt-keyed lookup: repeated identical calls (critic
rounds, re-asks) stay distinct, and a call is served only if its request (prompt, model, schema, tool
parameters, input hashes) is exactly the recorded one.

Where a request differs, that is a divergence. A strict replay stops at the first one and says which
node, which call and what changed. Nodes named live (`--live critic,composer`) call the real provider or
tool; once a live call returns something other than what was recorded, everything downstream of it is
expected to differ and recomputes, while unchanged calls are still served from the recording.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from filmcrew.artifacts import ArtifactStore, Meta, sha256_file
from filmcrew.llm.chat import CrewLLM
from filmcrew.llm.prompts import RenderedPrompt
from filmcrew.schemas import ArtifactRef
from filmcrew.tracing import TraceError, Tracer, read_trace


class ReplayError(RuntimeError):
    """The recording cannot be replayed; the message is one line for the user."""


@dataclass(frozen=True)
class Divergence:
    kind: str  # "llm" | "tool" | "human"
    node: str
    call_index: int
    name: str  # prompt name, tool name or decision
    reason: str

    def describe(self) -> str:
        what = {"llm": "LLM call", "tool": "tool call", "human": "decision"}[self.kind]
        return f"{self.node}: {what} {self.call_index} ({self.name}): {self.reason}"


class ReplayDivergence(RuntimeError):
    """A strict replay met a call that differs from the recording."""

    def __init__(self, divergence: Divergence):
        self.divergence = divergence
        node = graph_node(divergence.node)
        super().__init__(f"replay diverged at {divergence.describe()}; replay with --live {node} "
                         f"to call the provider/tool there and recompute what follows")


def graph_node(node: str) -> str:
    """The graph node a trace node belongs to: "physics:shot-1" → "physics"."""
    return node.split(":")[0].split("#")[0]


class Recording:
    """The calls of one recorded run, by (kind, node, call index)."""

    def __init__(self, run_dir: Path, run_id: str | None = None):
        self.run_dir = Path(run_dir)
        meta_path, trace_path = self.run_dir / "run.json", self.run_dir / "trace.jsonl"
        if not meta_path.is_file() or not trace_path.is_file():
            raise ReplayError(f"{self.run_dir} is not a recorded run (needs run.json and trace.jsonl)")
        try:
            self.meta = json.loads(meta_path.read_text(encoding="utf-8"))
            records = read_trace(trace_path)
        except TraceError as e:
            raise ReplayError(f"cannot replay: {e}") from None
        except (ValueError, OSError) as e:
            raise ReplayError(f"cannot read {meta_path}: {e}") from None
        if not isinstance(self.meta, dict) or not {"request", "options", "thread_id"} <= self.meta.keys():
            raise ReplayError(f"{meta_path} is not a filmcrew run.json")
        self.run_id = run_id or str(self.meta["thread_id"])
        self.calls: dict[tuple[str, str, int], dict[str, Any]] = {}
        for rec in records:
            if rec.get("run") == self.run_id:  # a resumed run repeats calls: the last one counts
                self.calls[(rec["kind"], rec["node"], int(rec.get("call_index", 0)))] = rec
        if not self.calls:
            raise ReplayError(f"{trace_path} holds no calls of run {self.run_id!r}")

    @classmethod
    def open(cls, path: Path, run_id: str | None = None) -> Recording:
        """A recording from a run directory or its `trace.jsonl`."""
        path = Path(path)
        if not path.exists():
            raise ReplayError(f"{path} does not exist")
        return cls(path.parent if path.is_file() else path, run_id)

    def get(self, kind: str, node: str, index: int) -> dict[str, Any] | None:
        return self.calls.get((kind, node, index))

    def final_sha256(self) -> str | None:
        final = self.run_dir / "final.mp4"
        return sha256_file(final) if final.is_file() else None


class ReplaySession:
    """What a replay shares across threads: the recording, the live nodes, what diverged."""

    def __init__(self, recording: Recording, live: set[str] | frozenset[str] = frozenset()):
        self.recording = recording
        self.live = set(live)
        self.changed = False  # a live call returned something other than the recording
        self.divergences: list[Divergence] = []
        self._lock = threading.Lock()

    def is_live(self, node: str) -> bool:
        return graph_node(node) in self.live

    def diverge(self, divergence: Divergence) -> None:
        """Note a divergence; stop the replay unless the node is live or something upstream changed."""
        with self._lock:
            self.divergences.append(divergence)
            allowed = self.changed or self.is_live(divergence.node)
        if not allowed:
            raise ReplayDivergence(divergence)

    def computed(self, same_as_recorded: bool) -> None:
        if not same_as_recorded:
            with self._lock:
                self.changed = True


class RecordedStore(ArtifactStore):
    """An artifact store that serves tool calls from a recording by (node, call index)."""

    def __init__(self, run_dir: Path, tracer: Tracer, session: ReplaySession):
        super().__init__(run_dir, tracer)
        self.session = session

    def _serve(self, node: str, index: int, tool: str, key: str) -> tuple[ArtifactRef | None, Meta]:
        rec = self.session.recording.get("tool", node, index)
        same = rec is not None and rec["name"] == tool and rec["params_hash"] == key
        if same and not self.session.is_live(node):
            ref = self._import(rec)  # type: ignore[arg-type]
            if ref is not None:
                return ref, {"replayed": True}
            reason = "the recorded output file is missing or altered"
        elif same:
            return self.lookup(key), {"replayed": False, "live": True}
        elif rec is None:
            reason = "no such call in the recording"
        elif rec["name"] != tool:
            reason = f"tool changed ({rec['name']} → {tool})"
        else:
            reason = "request changed (parameters or inputs)"
        self.session.diverge(Divergence("tool", node, index, tool, reason))
        return self.lookup(key), {"replayed": False, "diverged": reason}

    def _made(self, node: str, index: int, ref: ArtifactRef) -> None:
        rec = self.session.recording.get("tool", node, index)
        self.session.computed(rec is not None and rec.get("sha256") == ref.sha256)

    def _import(self, rec: dict[str, Any]) -> ArtifactRef | None:
        """Copy the recorded artifact (checked against its sha256) into this run's store."""
        src = self.session.recording.run_dir / rec["output"]
        side = src.with_name(src.name.split(".")[0] + ".ref.json")
        try:
            ref = ArtifactRef.model_validate_json(side.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if ref.uri != rec["output"] or not src.is_file() or sha256_file(src) != ref.sha256 \
                or rec.get("sha256", ref.sha256) != ref.sha256:
            return None
        dst = self.run_dir / ref.uri
        if not dst.exists():
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.tmp")
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
            shutil.copyfile(side, self._sidecar(ref.params_hash))
        return ref


class RecordedLLM(CrewLLM):
    """A crew LLM that serves answers from a recording by (node, call index)."""

    def __init__(self, *args: Any, session: ReplaySession, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.session = session

    def _serve(self, node: str, index: int, key: str, schema: type[Any],
               prompt: RenderedPrompt) -> tuple[Any, dict[str, Any]]:
        rec = self.session.recording.get("llm", node, index)
        same = rec is not None and rec["params_hash"] == key
        if same and not self.session.is_live(node):
            if "output" in rec:  # type: ignore[operator]
                return schema.model_validate(rec["output"]), {"replayed": True}  # type: ignore[index]
            reason = "the recording holds no answer for this call"
        elif same:
            return None, {"replayed": False, "live": True}
        else:
            reason = self._why(rec, prompt, schema)
        self.session.diverge(Divergence("llm", node, index, prompt.name, reason))
        return None, {"replayed": False, "diverged": reason}

    def _made(self, node: str, index: int, result: BaseModel) -> dict[str, Any]:
        rec = self.session.recording.get("llm", node, index) or {}
        self.session.computed(rec.get("output") == result.model_dump(mode="json"))
        return {}

    def _why(self, rec: dict[str, Any] | None, prompt: RenderedPrompt, schema: type[Any]) -> str:
        if rec is None:
            return "no such call in the recording"
        if rec["name"] != self.model_id():
            return f"model changed ({rec['name']} → {self.model_id()})"
        if rec.get("prompt_sha256") not in (None, prompt.template_sha256):
            return (f"prompt template {prompt.name} changed (sha {rec['prompt_sha256'][:10]} → "
                    f"{prompt.template_sha256[:10]})")
        if rec.get("schema") not in (None, schema.__name__):
            return f"answer schema changed ({rec['schema']} → {schema.__name__})"
        if rec.get("prompt_text_sha256") not in (None, prompt.text_sha256):
            return "prompt text changed (its inputs changed upstream)"
        return "request changed"


def recorded_approver(session: ReplaySession, tracer: Tracer, auto_approve: bool) -> Any:
    """Answers plan approvals with the recorded decisions, in order."""
    counter = {"n": 0}

    def approve(request: dict[str, Any]) -> Any:
        index = counter["n"]
        counter["n"] += 1
        rec = session.recording.get("human", "review_plan", index)
        if rec is not None and "answer" in rec:
            return rec["answer"]
        if auto_approve:
            return {"decisions": [{"type": "approve"}]}
        session.diverge(Divergence("human", "review_plan", index, "decision",
                                   "no recorded answer to this plan approval"))
        return {"decisions": [{"type": "approve"}]}

    return approve


def summary(session: ReplaySession, tracer: Tracer) -> dict[str, Any]:
    """What was served from the recording and what was recomputed, by graph node."""
    nodes: dict[str, dict[str, int]] = {}
    for r in tracer.records:
        if r["kind"] == "human":
            continue
        n = nodes.setdefault(graph_node(r["node"]), {"served": 0, "computed": 0})
        n["served" if r.get("replayed") else "computed"] += 1
    return {
        "first_divergence": asdict(session.divergences[0]) if session.divergences else None,
        "divergences": [asdict(d) for d in session.divergences[:100]],
        "live": sorted(session.live),
        "served": sum(n["served"] for n in nodes.values()),
        "computed": sum(n["computed"] for n in nodes.values()),
        "nodes": nodes,
    }
