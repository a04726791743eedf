#!/usr/bin/python3
"""Decides whether a picture's detected objects satisfy a prompt, GenEval style.

A prompt (a scenes.SceneSpec; only what its caption asks is used, never the spec's geometry)
is checked with these rules, all coordinates fractions of the image side:
  count     the picture holds exactly as many objects as the prompt describes (1 for single and
            position, N for "N red circles", 2 for two_objects and relation). The world has no
            distractors, so an extra object is an error, as is a missing one.
  colour    every described object is matched to a detection of its colour,
  shape     ... and of its shape,
  size      ... and of its size, only when the caption names sizes (small / large),
  position  (position prompts) the object's centre lies in the region:
            left x < 0.4, right x > 0.6, top y < 0.4, bottom y > 0.6,
            centre |x - 0.5| < 0.15 and |y - 0.5| < 0.15,
  relation  (relation prompts) "A above B": y_B - y_A > 0.1; below, left of (x), right of alike.
Described objects are matched to detections by the one-to-one assignment that satisfies the
most checks (objects the prompt lists are at most three, detections considered at most eight).
A prompt passes when every check it asks holds. Accuracy is reported per prompt kind, per
check, and overall (the fraction of prompts that pass; the benchmark's kinds are balanced).
"""
import itertools
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shapes"))
import scenes  # noqa: E402

REGION_LIMIT = 0.4  # left: x < 0.4; right: x > 1 - 0.4
CENTRE_TOLERANCE = 0.15
RELATION_MARGIN = 0.1
MAX_MATCHED_DETECTIONS = 8
CHECKS = ("count", "colour", "shape", "size", "position", "relation")


def in_region(obj, region):
    x, y = obj["cx"], obj["cy"]
    if region == "left":
        return x < REGION_LIMIT
    if region == "right":
        return x > 1.0 - REGION_LIMIT
    if region == "top":
        return y < REGION_LIMIT
    if region == "bottom":
        return y > 1.0 - REGION_LIMIT
    if region == "centre":
        return abs(x - 0.5) < CENTRE_TOLERANCE and abs(y - 0.5) < CENTRE_TOLERANCE
    raise ValueError(f"unknown region {region!r}")


def holds_relation(first, second, relation):
    """True when detection `first` is <relation> detection `second`, by a clear margin."""
    if relation == "above":
        return second["cy"] - first["cy"] > RELATION_MARGIN
    if relation == "below":
        return first["cy"] - second["cy"] > RELATION_MARGIN
    if relation == "left_of":
        return second["cx"] - first["cx"] > RELATION_MARGIN
    if relation == "right_of":
        return first["cx"] - second["cx"] > RELATION_MARGIN
    raise ValueError(f"unknown relation {relation!r}")


def asked_checks(spec):
    checks = ["count", "colour", "shape"]
    if spec.mention_size:
        checks.append("size")
    if spec.kind == "position":
        checks.append("position")
    if spec.kind == "relation":
        checks.append("relation")
    return checks


def _checks_for(spec, matched):
    """Per-check verdicts for one assignment; matched[i] is the detection of object i or None."""
    pairs = list(zip(spec.objects, matched))
    result = {
        "colour": all(d is not None and d["colour"] == o.colour for o, d in pairs),
        "shape": all(d is not None and d["shape"] == o.shape for o, d in pairs),
    }
    if spec.mention_size:
        result["size"] = all(d is not None and d["size"] == o.size for o, d in pairs)
    if spec.kind == "position":
        result["position"] = matched[0] is not None and in_region(matched[0], spec.region)
    if spec.kind == "relation":
        result["relation"] = (None not in matched[:2]
                              and holds_relation(matched[0], matched[1], spec.relation))
    return result


def _object_points(spec, obj, det):
    """How many per-object attributes a detection satisfies (guides the matching)."""
    if det is None:
        return 0
    points = (det["colour"] == obj.colour) + (det["shape"] == obj.shape)
    if spec.mention_size:
        points += det["size"] == obj.size
    if spec.kind == "position":
        points += in_region(det, spec.region)
    return points


def score_prompt(spec, detections):
    """{"checks": {name: bool}, "passed": bool, "detected": n} for one prompt and one picture."""
    spec = scenes.SceneSpec.from_dict(spec)
    wanted = len(spec.objects)
    candidates = sorted(detections, key=lambda d: -d["area"])[:MAX_MATCHED_DETECTIONS]
    candidates = candidates + [None] * max(0, wanted - len(candidates))
    best, best_points = None, -1
    for chosen in itertools.permutations(candidates, wanted):
        points = sum(_object_points(spec, o, d) for o, d in zip(spec.objects, chosen))
        if spec.kind == "relation" and None not in chosen[:2]:
            points += holds_relation(chosen[0], chosen[1], spec.relation)
        if points > best_points:
            best, best_points = chosen, points
    checks = {"count": len(detections) == wanted, **_checks_for(spec, list(best))}
    return {"checks": checks, "passed": all(checks.values()), "detected": len(detections)}


def summarize(results):
    """Results (each with "kind" added to score_prompt's dict) -> accuracy per kind, check, overall."""
    by_kind, by_check = {}, {}
    for result in results:
        by_kind.setdefault(result["kind"], []).append(result["passed"])
        for name, verdict in result["checks"].items():
            by_check.setdefault(name, []).append(verdict)

    def rate(values):
        return {"n": len(values), "accuracy": sum(values) / len(values) if values else None}

    return {
        "overall": rate([r["passed"] for r in results]),
        "kinds": {k: rate(by_kind[k]) for k in scenes.KINDS if k in by_kind},
        "checks": {c: rate(by_check[c]) for c in CHECKS if c in by_check},
    }


def format_summary(summary, title=None):
    """A small text table: overall, each kind, each check."""
    lines = [title] if title else []

    def row(name, entry):
        return f"  {name:15s} {100 * entry['accuracy']:6.1f}%  (n={entry['n']})"

    lines.append(row("overall", summary["overall"]))
    lines += [row(k, v) for k, v in summary["kinds"].items()]
    lines += [row("check:" + k, v) for k, v in summary["checks"].items()]
    return "\n".join(lines)
