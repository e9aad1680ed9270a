"""The offline physics annotator: WISA-format annotations whose vectors say what the shot shows, and a
zero-shot phenomenon classifier that loads its packaged model with no network."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from filmcrew.catalog import MATERIALS
from filmcrew.llm.offline_phenomena import THRESHOLD, load_embedder
from filmcrew.llm.offline_physics import annotate_shot, classify_phenomena
from filmcrew.llm.offline_planner import plan_request
from filmcrew.schemas import QUALITATIVE_LABELS, PhysicsAnnotation, sci

GLASS = "a glass of water is knocked off a table and shatters; slow-motion replay; tense strings"


@pytest.fixture(scope="module", autouse=True)
def embedder():
    """Load the sentence model once for the module (a few seconds on CPU)."""
    return load_embedder()


def _on(ann: PhysicsAnnotation) -> set[str]:
    """Labels whose qualitative bit is set; 'yes'/'no' are the camera-motion pair."""
    return {QUALITATIVE_LABELS[i] for i, v in enumerate(ann.qualitative) if v == 1.0}


def _expected_on(ann: PhysicsAnnotation) -> set[str]:
    want = set(ann.dynamics) | set(ann.thermodynamics) | set(ann.optics) | set(ann.state_changes)
    want.add("yes" if ann.camera_motion else "no")
    if not ann.dynamics:
        want.add("no obvious dynamic phenomenon")
    if not ann.thermodynamics:
        want.add("no obvious thermodynamic phenomenon")
    if not ann.optics:
        want.add("no obvious optical phenomenon")
    return want


def test_glass_shot_annotation_in_wisa_format():
    plan = plan_request(GLASS, None)
    action = next(s for s in plan.shots if "knocked off" in s.local_prompt and s.camera.time_scale == 1)
    ann = annotate_shot(action, plan)
    assert ann.shot_id == action.id
    assert {"collision", "rigid body motion", "liquid motion"} <= set(ann.dynamics)
    assert ann.thermodynamics == [] and ann.optics == []
    assert "object decomposition and splitting" in ann.state_changes
    assert _on(ann) == _expected_on(ann)
    assert {"no obvious thermodynamic phenomenon", "no obvious optical phenomenon", "no"} <= _on(ann)
    assert "no obvious dynamic phenomenon" not in _on(ann) and "no change" not in _on(ann)
    assert "brittle" in ann.physics_text and "9.8 m/s" in ann.physics_text
    assert "glass" in ann.caption

    q = ann.quantitative
    assert len(q) == 18
    densities = {m.name: (m.density_min, m.density_max) for m in ann.materials}
    assert densities["glass"] == (MATERIALS["glass"].density,) * 2 == (2.5, 2.5)
    assert densities["water"] == (0.998, 0.998)
    assert q[0:2] == [2.5, 2.5]  # the moving glass is listed first
    t_lo, t_hi = ann.time_range_s
    assert (t_lo, t_hi) == (0.0, pytest.approx(action.duration_s))  # falling: the shot's world time
    assert q[10:14] == [0.0, 0.0, *sci(t_hi)]
    assert 1 <= q[12] < 10
    assert ann.temperature_c == (20.0, 25.0)
    assert q[14:18] == [2.0, 1.0, 2.5, 1.0]  # 20 = 2.0e1, 25 = 2.5e1


def test_slow_motion_replay_covers_a_quarter_of_the_screen_time():
    plan = plan_request(GLASS, None)
    replay = next(s for s in plan.shots if s.camera.time_scale == 0.25)
    ann = annotate_shot(replay, plan)
    assert ann.time_range_s[1] == pytest.approx(replay.duration_s * 0.25, abs=0.01)
    assert "slow motion" in ann.physics_text


def test_establishing_shot_has_no_phenomena():
    plan = plan_request(GLASS, None)
    still = plan.shots[0]
    assert not still.events
    ann = annotate_shot(still, plan)
    assert ann.phenomena == []
    assert {"no obvious dynamic phenomenon", "no obvious thermodynamic phenomenon",
            "no obvious optical phenomenon", "no change", "no"} == _on(ann)


def test_melting_time_and_temperature_come_from_the_material():
    plan = plan_request("an ice cube melts on a plate in a warm kitchen", None)
    melt = next(s for s in plan.shots if s.events)
    ann = annotate_shot(melt, plan)
    assert ann.thermodynamics == ["melting"]
    assert "liquids objects appearance" in ann.state_changes
    assert ann.temperature_c[0] == MATERIALS["ice"].melting_c == 0
    assert 60 <= ann.time_range_s[1] <= 3600  # minutes, not seconds
    assert ann.quantitative[14:16] == [0.0, 0.0]  # sci(0) = (0, 0)
    assert [m.name for m in ann.materials][:1] == ["ice"] and "water" in [m.name for m in ann.materials]
    # a bigger block of snow melts more slowly than a small cube
    snow = plan_request("a snowman melts on a warm day", None)
    snow_ann = annotate_shot(next(s for s in snow.shots if s.events), snow)
    assert snow_ann.time_range_s[1] > ann.time_range_s[1]


def test_explosion_and_combustion_ranges():
    plan = plan_request("a barrel of gunpowder explodes in a field", None)
    ann = annotate_shot(next(s for s in plan.shots if s.events), plan)
    assert "explosion" in ann.thermodynamics
    assert ann.time_range_s == (0.0, 5.0)
    assert ann.temperature_c[0] >= 600
    assert {"gas objects appearance", "object decomposition and splitting"} <= set(ann.state_changes)
    fire = plan_request("a campfire burns through the night", None)
    burn = annotate_shot(next(s for s in fire.shots if s.events), fire)
    assert "combustion" in burn.thermodynamics
    assert burn.temperature_c == (600.0, 1000.0)


def test_optics_camera_motion_and_limits():
    plan = plan_request("a beam of light passes through a prism and splits into a rainbow, "
                        "the camera pans left", None)
    shot = next(s for s in plan.shots if s.events)
    ann = annotate_shot(shot, plan)
    assert "refraction" in ann.optics
    assert ann.camera_motion and ann.qualitative[QUALITATIVE_LABELS.index("yes")] == 1.0
    assert "object decomposition and splitting" not in ann.state_changes  # light splits, not the prism

    fall = plan_request("a brick falls off a roof onto a car", None)
    fall_ann = annotate_shot(next(s for s in fall.shots if s.events), fall)
    assert "rigid body motion" in fall_ann.dynamics

    for text in (GLASS, "fireworks explode and smoke drifts over a lake at night while a candle burns",
                 "a kettle boils on the stove and steam rises"):
        p = plan_request(text, None)
        for s in p.shots:
            a = annotate_shot(s, p)
            assert len(a.phenomena) <= 4 and len(a.materials) <= 5
            assert _on(a) == _expected_on(a)
            assert a == annotate_shot(s, p)  # deterministic
            assert PhysicsAnnotation.model_validate_json(a.model_dump_json()) == a


# Written before tuning the phenomenon descriptions and kept out of their calibration; they avoid the
# keyword rules' trigger words (the brief's own prism example aside), so only the embedding decides.
ZERO_SHOT = [
    ("the snowman slowly turns into a puddle in the sun", {"melting"}),
    ("sparks and a fireball as the barrel bursts", {"explosion"}),
    ("the beam of light splits into a rainbow through the crystal", {"refraction"}),
    ("steam rises from the hot kettle", {"vaporization", "gas motion"}),
    ("a bowling ball rushes down the lane and sends the pins flying", {"collision"}),
    ("a dog jumps into the lake sending water everywhere", {"liquid motion"}),
    ("the pond surface turns hard and white overnight in the cold", {"solidification"}),
    ("a tennis ball leaps back up each time it lands on the court", {"elastic motion"}),
    ("the car's hood folds up like paper against the pole", {"deformation"}),
    ("the still lake shows a perfect upside-down copy of the mountains", {"reflection"}),
    ("logs crackle in the hearth, turning orange and then to grey ash", {"combustion"}),
    ("droplets bead on the outside of an icy can of soda", {"liquefaction"}),
]


def test_zero_shot_puts_the_right_phenomenon_in_the_top_two():
    """Criterion: a correct phenomenon among the two best scores, for at least 10 of 12 shots."""
    top1 = top2 = 0
    misses = []
    for text, gold in ZERO_SHOT:
        ranked = classify_phenomena(text)
        assert len(ranked) == 17 and ranked == sorted(ranked, key=lambda r: -r[1])
        best = [p for p, _ in ranked[:2]]
        top1 += best[0] in gold
        top2 += bool(gold & set(best))
        if not gold & set(best):
            misses.append((text, ranked[:3]))
    assert top2 >= 10, f"top-2 {top2}/12 (top-1 {top1}/12); misses: {misses}"


# The development set THRESHOLD and MARGIN were calibrated on (see offline_phenomena): one shot each,
# labelled with every phenomenon a WISA annotator would list.
DEV_SET = [
    ('a glass of water is knocked off a table and shatters', {"collision", "liquid motion", "rigid body motion"}),
    ('an ice cube melts on a warm plate', {"melting"}),
    ('a red rubber ball bounces across the floor', {"collision", "elastic motion", "rigid body motion"}),
    ('fireworks explode over the city at night', {"explosion", "unnatural light source"}),
    ('a log fire crackles in the fireplace', {"combustion"}),
    ('a prism splits sunlight into a rainbow', {"refraction"}),
    ('a woman looks at herself in the mirror', {"reflection"}),
    ('two cars collide at an intersection', {"collision", "deformation"}),
    ('the kettle boils and steam pours out', {"gas motion", "vaporization"}),
    ('water freezes into ice on the lake', {"solidification"}),
    ('dew drops form on a cold bottle', {"liquefaction"}),
    ('smoke curls up from a chimney', {"gas motion"}),
    ('a car door is crushed by a falling tree', {"collision", "deformation", "rigid body motion"}),
    ('waves crash against the rocks', {"collision", "liquid motion"}),
    ('a candle burns in a dark room', {"combustion", "unnatural light source"}),
    ('soap bubbles float and shimmer in the sun', {"gas motion", "interference and diffraction"}),
    ('sunbeams stream through the forest mist', {"scattering"}),
    ('a neon sign flickers in the rainy street', {"reflection", "unnatural light source"}),
    ('a steel ball rolls down a ramp and hits a wooden block', {"collision", "rigid body motion"}),
    ('chocolate melts in a hot pan', {"melting"}),
    ('lava cools and hardens into black rock', {"solidification"}),
    ('a puddle evaporates in the desert heat', {"vaporization"}),
    ('a barrel of gunpowder explodes', {"explosion"}),
    ('a piece of paper catches fire and curls into ash', {"combustion", "deformation"}),
    ('milk is poured into a cup of coffee', {"liquid motion"}),
    ('a rock is dropped into a pond and ripples spread', {"liquid motion", "rigid body motion"}),
    ('a trampoline launches a child into the air', {"elastic motion"}),
    ('a plastic bottle is squeezed flat', {"deformation"}),
    ('the lake reflects the mountains like a mirror', {"reflection"}),
    ('a pencil in a glass of water looks broken', {"refraction"}),
    ('fog rolls over the hills at dawn', {"gas motion", "scattering"}),
    ('a laser beam cuts through the dark', {"scattering", "unnatural light source"}),
    ('steam condenses on the bathroom mirror', {"liquefaction", "reflection"}),
    ('a snowball hits a tree and breaks apart', {"collision", "rigid body motion"}),
    ('jelly wobbles on a plate', {"elastic motion"}),
    ('a rocket launches and rises into the sky', {"combustion", "gas motion", "rigid body motion"}),
    ('a vase tips over and breaks on the tiled floor', {"collision", "rigid body motion"}),
    ('butter softens and slides across a hot pan', {"liquid motion", "melting"}),
    ('a water balloon bursts on the pavement', {"collision", "elastic motion", "liquid motion"}),
    ('the oil spill shows swirling rainbow colours on the road', {"interference and diffraction", "liquid motion"}),
    ('morning sunlight shafts through the dusty barn', {"scattering"}),
    ('a glowing jellyfish lights up the deep ocean', {"liquid motion", "unnatural light source"}),
    ('icicles form as dripping water freezes on the roof', {"liquid motion", "solidification"}),
    ('a pot of soup boils over on the stove', {"liquid motion", "vaporization"}),
    ('a building is demolished with dynamite', {"collision", "explosion", "rigid body motion"}),
    ('a match is struck and the flame lights a candle', {"combustion"}),
    ('the wind blows leaves and dust across the street', {"gas motion", "rigid body motion"}),
    ('a spring is compressed and then launches a ball', {"elastic motion", "rigid body motion"}),
    ('a truck drives into a wall and its front crumples', {"collision", "deformation"}),
    ("a diamond sparkles under the jeweller's lamp", {"reflection", "refraction", "unnatural light source"}),
    ('cold breath fogs up the window', {"liquefaction"}),
    ('the calm pond mirrors the trees', {"reflection"}),
    ('a person walks across the room', {"rigid body motion"}),
    ('a forest fire spreads across the hills', {"combustion", "gas motion"}),
]


def test_threshold_is_calibrated_on_the_dev_set(monkeypatch):
    """F1 of the whole selection at THRESHOLD is the best of a coarse grid around it, and ≥ 0.75."""
    from functools import lru_cache

    from filmcrew.llm import offline_physics

    monkeypatch.setattr(offline_physics, "classify_phenomena", lru_cache(maxsize=None)(classify_phenomena))
    plans = [(plan_request(text, 4.0, min_shots=1), gold) for text, gold in DEV_SET]

    def f1(threshold: float) -> float:
        monkeypatch.setattr(offline_physics, "THRESHOLD", threshold)
        tp = fp = fn = 0
        for plan, gold in plans:
            pred = set().union(*(annotate_shot(s, plan).phenomena for s in plan.shots))
            tp, fp, fn = tp + len(pred & gold), fp + len(pred - gold), fn + len(gold - pred)
        return 2 * tp / (2 * tp + fp + fn)

    chosen = f1(THRESHOLD)
    others = {t: f1(t) for t in (THRESHOLD - 0.15, THRESHOLD - 0.075, THRESHOLD + 0.1)}
    assert chosen >= 0.75, chosen
    assert all(chosen >= f - 1e-9 for f in others.values()), (chosen, others)


def test_classify_rejects_empty_text():
    with pytest.raises(ValueError, match="empty"):
        classify_phenomena("  ")


def test_model_loads_offline_with_no_network():
    """A fresh process with HF_HUB_OFFLINE=1 and every socket connect refused still loads and embeds."""
    code = textwrap.dedent(
        """
        import json, socket, time
        def refuse(*a, **k):
            raise OSError("network disabled in this test")
        socket.socket.connect = refuse
        socket.create_connection = refuse
        t = time.perf_counter()
        from filmcrew.llm.offline_phenomena import THRESHOLD, load_embedder, classify_phenomena
        model = load_embedder()
        load_s = time.perf_counter() - t
        top = classify_phenomena("an ice cube melts into a puddle of water")[0][0]
        dim = model.get_sentence_embedding_dimension()
        print(json.dumps({"load_s": load_s, "top": top, "dim": dim}))
        """
    )
    env = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "NO_PROXY": "*"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["dim"] == 384 and result["top"] == "melting"
    print(f"all-MiniLM-L6-v2 load in a fresh process: {result['load_s']:.1f} s")
