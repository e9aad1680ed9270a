"""Score a planner's scene language against the labelled requests (tests/data/scene_requests.jsonl).

Each record names the expected subjects (name, count, arrangement), scenery kinds, starting relations,
actions (subject, verb, path, target) and number of story beats. Names match by their head noun
('wrecking ball' ~ 'ball' is not enough: the last word must agree, 'wrecking ball' ~ 'ball' does).
Fields scored, precision and recall over all records pooled:

- subjects: expected subject heads found among the plan's subjects (scenery words excluded);
- counts / arrangement: of the matched subjects, the share with the exact count / arrangement;
- scenery: expected scenery kinds among the plan's scenery (or catalog fixtures kept as subjects);
- relations: (subject head, relation, object head) triples of the shots' starting relations;
- actions: (verb, path) pairs of the action shots, as multisets;
- main actor: the first expected action's subject is a subject of the plan (share of records);
- beats: the plan has as many beats as expected, each in exactly one action shot of its own.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from filmcrew.schemas import StoryPlan

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "scene_requests.jsonl"
_SCENERY_NAMES = {"table": "table", "mirror": "mirror", "prism": "prism", "pot": "pan",
                  "pan": "pan", "wall": "wall", "floor": "floor", "shelf": "shelf"}
_SAME = {"child": {"boy", "girl", "child"}, "person": {"man", "woman", "person"},
         "ball": {"ball", "football", "basketball"}, "cup": {"cup", "teacup"}, "light": {"light", "lamp"},
         "lantern": {"lantern", "lamp"}}


def head(name: str | None) -> str:
    return (name or "").split()[-1] if name else ""


def same(expected: str | None, got: str | None) -> bool:
    """Names agree on the head noun (and a few catalog synonyms: a boy is the catalog's child)."""
    if expected is None or got is None:
        return expected is got
    e, g = head(expected), head(got)
    return e == g or g in _SAME.get(e, ()) or e in _SAME.get(g, ()) or expected == got


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, tp: int, fp: int, fn: int) -> None:
        self.tp, self.fp, self.fn = self.tp + tp, self.fp + fp, self.fn + fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass
class Score:
    n: int = 0
    subjects: Tally = field(default_factory=Tally)
    scenery: Tally = field(default_factory=Tally)
    relations: Tally = field(default_factory=Tally)
    actions: Tally = field(default_factory=Tally)
    counts_ok: int = 0
    counts_n: int = 0
    arrangement_ok: int = 0
    main_actor: int = 0
    beats_ok: int = 0
    place_ok: int = 0
    place_n: int = 0
    misses: list[str] = field(default_factory=list)

    def table(self) -> dict[str, float]:
        return {
            "main_actor": self.main_actor / self.n,
            "subject_precision": self.subjects.precision, "subject_recall": self.subjects.recall,
            "counts_exact": self.counts_ok / max(1, self.counts_n),
            "arrangement_exact": self.arrangement_ok / max(1, self.counts_n),
            "scenery_precision": self.scenery.precision, "scenery_recall": self.scenery.recall,
            "relation_precision": self.relations.precision, "relation_recall": self.relations.recall,
            "action_precision": self.actions.precision, "action_recall": self.actions.recall,
            "beats_one_per_shot": self.beats_ok / self.n,
            "place": self.place_ok / max(1, self.place_n),
        }


def _match(expected: list, got: list, eq: Callable) -> tuple[int, int, int, list[tuple]]:
    """Greedy one-to-one matching: (tp, fp, fn, matched pairs)."""
    free = list(got)
    pairs = []
    for e in expected:
        g = next((x for x in free if eq(e, x)), None)
        if g is not None:
            free.remove(g)
            pairs.append((e, g))
    return len(pairs), len(free), len(expected) - len(pairs), pairs


def score_plan(record: dict, plan: StoryPlan, score: Score) -> None:
    score.n += 1
    subjects: dict[str, object] = {}
    scenery_kinds: list[str] = []
    for s in plan.shots:
        for x in s.subjects:
            if x.name in _SCENERY_NAMES or x.kind in ("table", "mirror", "prism"):
                k = _SCENERY_NAMES.get(x.name, x.kind)
                if k not in scenery_kinds:
                    scenery_kinds.append(k)
                continue
            subjects.setdefault(x.name, x)
        for sc in s.scenery:
            if sc.kind not in scenery_kinds:
                scenery_kinds.append(sc.kind)
    got = list(subjects.values())
    tp, fp, fn, pairs = _match(record["subjects"], got, lambda e, g: same(e["name"], g.name))  # type: ignore[attr-defined]
    score.subjects.add(tp, fp, fn)
    for e, g in pairs:
        score.counts_n += 1
        score.counts_ok += int(e["count"] == g.count)  # type: ignore[attr-defined]
        score.arrangement_ok += int(e["arrangement"] == g.arrangement)  # type: ignore[attr-defined]
    tp, fp, fn, _ = _match(record["scenery"], scenery_kinds, lambda e, g: e == g)
    score.scenery.add(tp, fp, fn)
    rels = list(dict.fromkeys((r.subject, r.relation, r.object) for s in plan.shots
                              if s.kind == "action" for r in s.relations))
    tp, fp, fn, _ = _match(record["relations"], rels, lambda e, g: same(e[0], g[0]) and e[1] == g[1]
                           and (same(e[2], g[2]) or _SCENERY_NAMES.get(g[2]) == e[2]))
    score.relations.add(tp, fp, fn)
    acts = [(a.verb, a.path) for s in plan.shots if s.kind == "action" for a in s.actions]
    tp, fp, fn, _ = _match([(a[1], a[2]) for a in record["actions"]], acts, lambda e, g: tuple(e) == g)
    score.actions.add(tp, fp, fn)
    if record["actions"]:
        main = record["actions"][0][0]
        present = [x.name for x in got] + [sc.name for s in plan.shots for sc in s.scenery]
        score.main_actor += int(any(same(main, n) for n in present))  # the actor may be scenery (a jug)
    else:
        score.main_actor += 1
    action_shots = [s for s in plan.shots if s.kind == "action"]
    per_shot = [sorted({a.beat for a in s.actions if a.beat is not None}) for s in action_shots]
    one_each = len(plan.beats) == record["beats"] and all(len(b) == 1 for b in per_shot if b) and \
        sorted(b[0] for b in per_shot if b) == list(range(1, record["beats"] + 1))
    score.beats_ok += int(one_each)
    if record.get("place"):
        score.place_n += 1
        score.place_ok += int(any(s.place == record["place"] for s in plan.shots))
    if fn or not one_each:
        score.misses.append(record["request"])


def load(path: Path = DATA) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def score_planner(plan: Callable[[str], StoryPlan], records: list[dict] | None = None) -> Score:
    """Plan every labelled request with `plan` and score the scene fields."""
    score = Score()
    for rec in records if records is not None else load():
        score_plan(rec, plan(rec["request"]), score)
    return score
