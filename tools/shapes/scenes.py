#!/usr/bin/python3
"""Procedural scenes of coloured shapes, with captions, for training and evaluating a tiny Infinity.

The world
---------
* Images are square RGB, 128x128 by default (`image_size` everywhere; all geometry is stored as
  fractions of the image side, so a spec renders at any size).
* One to three objects. Shapes: circle, square, triangle (apex up), diamond (square turned 45°),
  all axis-aligned and drawn inside a square box of half-side `radius` centred on (cx, cy).
* Colours: six saturated hues, red, orange, yellow, green, blue, purple, with a small jitter of
  hue, saturation and value. Backgrounds are neutral (chroma <= ~10 before noise): light grey,
  off-white, dark grey or near-black, plain or with a gentle linear gradient, optionally with mild
  Gaussian noise. An object is never neutral and a background never saturated, which is what lets
  the detector segment by chroma.
* Sizes: small (radius 0.055-0.08 of the side, 7-10 px at 128) or large (0.12-0.165, 15-21 px).
* Objects never overlap: their boxes are at least 0.04 apart and 0.03 from the image edge.

Prompt kinds (SceneSpec.kind)
-----------------------------
  single       one object                        "a photo of a red circle"
  position     one object in a region            "a photo of a red circle on the left"
  count        two or three identical objects    "a photo of three blue squares"
  two_objects  two different objects             "a photo of a red circle and a blue square"
  relation     object A relative to object B     "a photo of a red circle above a blue square"
When `mention_size` is set the caption names the size of every object ("a large red circle").
Regions as drawn: left = centre x in [r+0.03, 0.30], y in [0.35, 0.65]; right, top, bottom
mirror it; centre = x and y in [0.43, 0.57]. Relations as drawn: the centres are at least 0.25
apart along the relation's axis and at most 0.08 apart across it.

The fixed train / held-out split
--------------------------------
A scene is held out when it contains ANY of these combinations, and a training scene contains
none of them (`heldout_reasons` lists what a scene holds):
  colour+shape pairs, in every kind:  red triangle, green circle, blue diamond, yellow square
  shape at a region (position kind):  circle at the top, square on the left,
                                      triangle in the centre, diamond at the bottom
  count of a shape (count kind):      three circles, two diamonds
  shape relation shape (relation):    circle above square, triangle left of diamond,
                                      square below triangle
                                      (and their converses, which describe the same image:
                                      square below circle, diamond right of triangle,
                                      triangle above square)
Every colour, shape, region, count and relation on its own still appears in training, with other
partners (`check_split` asserts this), so the held-out prompts measure composition, not memory.

API for the training code
-------------------------
  rng = np.random.default_rng(seed)
  spec = sample_scene(rng, split="train")          # SceneSpec (JSON: spec.to_dict())
  image = render(spec)                             # uint8 HxWx3, deterministic for a spec
  text = caption(spec, rng)                        # one of several phrasings
  text = canonical_caption(spec)                   # the benchmark's phrasing
  prompts = make_eval_prompts(200)                 # fixed held-out benchmark prompts
  vocabulary()                                     # every word a caption can use

CLI: see `scenes.py -h` (sample, eval-prompts, captions, grid, split, speed).
"""
import argparse
import colorsys
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field

import numpy as np

DEFAULT_IMAGE_SIZE = 128

SHAPES = ("circle", "square", "triangle", "diamond")
# name -> (hue in degrees, saturation, value) of the palette colour before jitter.
COLOURS = {
    "red": (0.0, 0.85, 0.88),
    "orange": (28.0, 0.90, 0.96),
    "yellow": (52.0, 0.85, 0.93),
    "green": (125.0, 0.75, 0.72),
    "blue": (220.0, 0.80, 0.88),
    "purple": (280.0, 0.65, 0.80),
}
HUE_JITTER_DEG = 5.0
SIZES = {"small": (0.055, 0.08), "large": (0.12, 0.165)}  # radius range, fraction of the side
SIZE_BOUNDARY = 0.10  # a detected radius below this is "small"
REGIONS = ("left", "right", "top", "bottom", "centre")
RELATIONS = ("above", "below", "left_of", "right_of")
KINDS = ("single", "position", "count", "two_objects", "relation")
COUNT_WORDS = {2: "two", 3: "three"}

EDGE_MARGIN = 0.03  # object box to image edge
GAP_MARGIN = 0.04  # between object boxes
RELATION_MIN_OFFSET = 0.25  # along the relation's axis
RELATION_MAX_DRIFT = 0.08  # across it
REGION_NEAR = 0.30  # left/top regions end here (right/bottom start at 1 - this)
REGION_ACROSS = (0.35, 0.65)  # the other coordinate of a left/right/top/bottom object
CENTRE_RANGE = (0.43, 0.57)

HELDOUT_PAIRS = {("red", "triangle"), ("green", "circle"), ("blue", "diamond"), ("yellow", "square")}
HELDOUT_POSITIONS = {("circle", "top"), ("square", "left"), ("triangle", "centre"), ("diamond", "bottom")}
HELDOUT_COUNTS = {(3, "circle"), (2, "diamond")}
INVERSE_RELATION = {"above": "below", "below": "above", "left_of": "right_of", "right_of": "left_of"}
_HELDOUT_RELATION_BASE = {("circle", "above", "square"), ("triangle", "left_of", "diamond"),
                          ("square", "below", "triangle")}
HELDOUT_RELATIONS = _HELDOUT_RELATION_BASE | {(b, INVERSE_RELATION[r], a) for a, r, b in _HELDOUT_RELATION_BASE}


# --------------------------------------------------------------------------------------------
# Scene specification

@dataclass
class SceneObject:
    shape: str
    colour: str
    size: str  # "small" | "large"
    cx: float  # box centre, fraction of the image side (x to the right, y down)
    cy: float
    radius: float  # half the box side, fraction of the image side
    rgb: tuple  # the jittered colour actually drawn


@dataclass
class Background:
    colour_a: tuple  # RGB at one end of the gradient
    colour_b: tuple  # RGB at the other end (equal to colour_a for a plain background)
    angle: float  # gradient direction, radians
    noise_sigma: float  # per-channel Gaussian noise, in 0..255 units (0 = none)
    noise_seed: int


@dataclass
class SceneSpec:
    kind: str
    objects: list
    background: Background
    region: str = None  # position kind
    relation: str = None  # relation kind: objects[0] <relation> objects[1]
    mention_size: bool = False
    image_size: int = DEFAULT_IMAGE_SIZE
    split: str = "train"
    tags: list = field(default_factory=list)  # held-out combinations present (see heldout_reasons)

    def to_dict(self):
        return asdict(self)

    def to_json(self):
        return json.dumps(self.to_dict())

    @staticmethod
    def from_dict(data):
        if isinstance(data, SceneSpec):
            return data
        data = dict(data)
        data["objects"] = [SceneObject(**{**o, "rgb": tuple(o["rgb"])}) for o in data["objects"]]
        bg = dict(data["background"])
        bg["colour_a"], bg["colour_b"] = tuple(bg["colour_a"]), tuple(bg["colour_b"])
        data["background"] = Background(**bg)
        return SceneSpec(**data)


# --------------------------------------------------------------------------------------------
# The split

def heldout_reasons(kind, objects, region=None, relation=None):
    """The held-out combinations a scene contains, as short strings; empty for a training scene."""
    reasons = [f"pair:{o.colour}+{o.shape}" for o in objects if (o.colour, o.shape) in HELDOUT_PAIRS]
    if kind == "position" and (objects[0].shape, region) in HELDOUT_POSITIONS:
        reasons.append(f"position:{objects[0].shape}@{region}")
    if kind == "count" and (len(objects), objects[0].shape) in HELDOUT_COUNTS:
        reasons.append(f"count:{len(objects)}x{objects[0].shape}")
    if kind == "relation" and (objects[0].shape, relation, objects[1].shape) in HELDOUT_RELATIONS:
        reasons.append(f"relation:{objects[0].shape} {relation} {objects[1].shape}")
    return sorted(set(reasons))


def check_split():
    """Asserts that every attribute of every held-out combination also occurs in training."""
    for colour, shape in HELDOUT_PAIRS:
        assert any((colour, s) not in HELDOUT_PAIRS for s in SHAPES if s != shape), colour
        assert any((c, shape) not in HELDOUT_PAIRS for c in COLOURS if c != colour), shape
    for shape, region in HELDOUT_POSITIONS:
        assert any((shape, r) not in HELDOUT_POSITIONS for r in REGIONS if r != region)
        assert any((s, region) not in HELDOUT_POSITIONS for s in SHAPES if s != shape)
    for count, shape in HELDOUT_COUNTS:
        assert any((count, s) not in HELDOUT_COUNTS for s in SHAPES if s != shape)
        assert any((n, shape) not in HELDOUT_COUNTS for n in COUNT_WORDS if n != count)
    for a, rel, b in HELDOUT_RELATIONS:
        assert any((a, rel, s) not in HELDOUT_RELATIONS for s in SHAPES if s != b)
        assert any((s, rel, b) not in HELDOUT_RELATIONS for s in SHAPES if s != a)
        assert any((a, r, b) not in HELDOUT_RELATIONS for r in RELATIONS if r != rel)
    return True


# --------------------------------------------------------------------------------------------
# Sampling

def _pick(rng, options):
    options = list(options)
    return options[int(rng.integers(len(options)))]


def _jittered_rgb(rng, colour):
    hue, saturation, value = COLOURS[colour]
    hue = (hue + rng.uniform(-HUE_JITTER_DEG, HUE_JITTER_DEG)) % 360.0
    saturation = min(1.0, saturation * rng.uniform(0.9, 1.06))
    value = min(1.0, value * rng.uniform(0.88, 1.05))
    r, g, b = colorsys.hsv_to_rgb(hue / 360.0, saturation, value)
    return (int(round(r * 255)), int(round(g * 255)), int(round(b * 255)))


def _sample_background(rng):
    tone = _pick(rng, ("light", "offwhite", "dark", "black"))
    level = {"light": (165, 215), "offwhite": (225, 248), "dark": (45, 95), "black": (8, 35)}[tone]
    base = rng.uniform(*level)
    tint = rng.uniform(-5, 5, 3)  # keeps the background's chroma at most ~10
    colour_a = np.clip(base + tint, 0, 255)
    if rng.random() < 0.5:
        colour_b = np.clip(colour_a + rng.uniform(-35, 35), 0, 255)
    else:
        colour_b = colour_a
    sigma = 0.0 if rng.random() < 0.5 else float(rng.uniform(1.0, 4.0))
    return Background(tuple(int(round(v)) for v in colour_a), tuple(int(round(v)) for v in colour_b),
                      float(rng.uniform(0, 2 * math.pi)), sigma, int(rng.integers(2 ** 31)))


def _sample_radius(rng, size):
    return float(rng.uniform(*SIZES[size]))


def _boxes_apart(a, b):
    """True when two objects' boxes are separated by GAP_MARGIN along x or y."""
    need = a.radius + b.radius + GAP_MARGIN
    return abs(a.cx - b.cx) >= need or abs(a.cy - b.cy) >= need


def _free_range(radius):
    return radius + EDGE_MARGIN, 1.0 - radius - EDGE_MARGIN


def _place_anywhere(rng, objects, tries=200):
    """Places every object at a uniform random spot, rejecting overlaps; False if it can't."""
    placed = []
    for obj in objects:
        low, high = _free_range(obj.radius)
        for _ in range(tries):
            obj.cx, obj.cy = float(rng.uniform(low, high)), float(rng.uniform(low, high))
            if all(_boxes_apart(obj, other) for other in placed):
                placed.append(obj)
                break
        else:
            return False
    return True


def _place_in_region(rng, obj, region):
    low, high = _free_range(obj.radius)
    near = (low, REGION_NEAR)
    far = (1.0 - REGION_NEAR, high)
    if region == "centre":
        obj.cx, obj.cy = float(rng.uniform(*CENTRE_RANGE)), float(rng.uniform(*CENTRE_RANGE))
        return True
    along = {"left": near, "right": far, "top": near, "bottom": far}[region]
    across = float(rng.uniform(*REGION_ACROSS))
    along = float(rng.uniform(*along))
    obj.cx, obj.cy = (along, across) if region in ("left", "right") else (across, along)
    return True


def _place_relation(rng, first, second, relation):
    """Places `first` <relation> `second`: clearly offset along one axis, roughly aligned across it."""
    low = max(RELATION_MIN_OFFSET, first.radius + second.radius + GAP_MARGIN)
    high = 1.0 - first.radius - second.radius - 2 * EDGE_MARGIN
    if low > high:
        return False
    offset = float(rng.uniform(low, high))
    # Coordinates along the axis: `lead` is the object with the smaller coordinate.
    lead, trail = (first, second) if relation in ("above", "left_of") else (second, first)
    lead_low = lead.radius + EDGE_MARGIN
    lead_high = 1.0 - EDGE_MARGIN - trail.radius - offset
    lead_pos = float(rng.uniform(lead_low, lead_high))
    drift = float(rng.uniform(-RELATION_MAX_DRIFT, RELATION_MAX_DRIFT))
    big = max(first.radius, second.radius)
    across = float(rng.uniform(big + EDGE_MARGIN + RELATION_MAX_DRIFT, 1 - big - EDGE_MARGIN - RELATION_MAX_DRIFT))
    if relation in ("above", "below"):
        lead.cy, trail.cy = lead_pos, lead_pos + offset
        lead.cx, trail.cx = across, across + drift
    else:
        lead.cx, trail.cx = lead_pos, lead_pos + offset
        lead.cy, trail.cy = across, across + drift
    return True


def _new_object(rng, shape, colour, size):
    return SceneObject(shape, colour, size, 0.5, 0.5, _sample_radius(rng, size), _jittered_rgb(rng, colour))


def _sample_content(rng, kind):
    """Chooses what a scene shows (no geometry yet): objects, region, relation."""
    region = relation = None
    size = _pick(rng, SIZES)
    if kind in ("single", "position"):
        objects = [_new_object(rng, _pick(rng, SHAPES), _pick(rng, COLOURS), size)]
        if kind == "position":
            region = _pick(rng, REGIONS)
    elif kind == "count":
        count, shape, colour = _pick(rng, COUNT_WORDS), _pick(rng, SHAPES), _pick(rng, COLOURS)
        objects = [_new_object(rng, shape, colour, size) for _ in range(count)]
    else:  # two_objects / relation: two objects that differ in colour or shape, so each is identifiable
        first = (_pick(rng, SHAPES), _pick(rng, COLOURS))
        second = first
        while second == first:
            second = (_pick(rng, SHAPES), _pick(rng, COLOURS))
        objects = [_new_object(rng, s, c, _pick(rng, SIZES)) for s, c in (first, second)]
        if kind == "relation":
            relation = _pick(rng, RELATIONS)
    return objects, region, relation


def _place(rng, kind, objects, region, relation):
    if kind == "position":
        return _place_in_region(rng, objects[0], region)
    if kind == "relation":
        return _place_relation(rng, objects[0], objects[1], relation)
    return _place_anywhere(rng, objects)


def sample_scene(rng, split="train", kind=None, image_size=DEFAULT_IMAGE_SIZE, mention_size_prob=0.3,
                 require_tag=None):
    """A random scene of the given split ("train" or "heldout"); `kind` None picks one uniformly.

    Content is drawn first and rejected until it belongs to the split, then placed; held-out
    scenes always contain at least one held-out combination (their `tags`), one whose tag
    starts with `require_tag` ("pair", "position", "count", "relation") when that is given."""
    if split not in ("train", "heldout"):
        raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
    scene_kind = kind or _pick(rng, KINDS)  # drawn once, so rejection keeps the kinds balanced
    for _ in range(10000):
        objects, region, relation = _sample_content(rng, scene_kind)
        reasons = heldout_reasons(scene_kind, objects, region, relation)
        if bool(reasons) != (split == "heldout"):
            continue
        if require_tag and not any(reason.startswith(require_tag + ":") for reason in reasons):
            continue
        if not _place(rng, scene_kind, objects, region, relation):
            continue
        return SceneSpec(scene_kind, objects, _sample_background(rng), region, relation,
                         bool(rng.random() < mention_size_prob), int(image_size), split, reasons)
    raise RuntimeError(f"could not sample a {split} scene of kind {kind}")


# --------------------------------------------------------------------------------------------
# Rendering

def _inside(shape, dx, dy, radius):
    """Boolean mask of sample points (offsets from the centre, y down) inside the shape."""
    if shape == "circle":
        return dx * dx + dy * dy <= radius * radius
    if shape == "square":
        return (np.abs(dx) <= radius) & (np.abs(dy) <= radius)
    if shape == "diamond":
        return np.abs(dx) + np.abs(dy) <= radius
    if shape == "triangle":  # apex at (0, -radius), base from (-radius, radius) to (radius, radius)
        return (dy <= radius) & (np.abs(dx) <= (dy + radius) * 0.5)
    raise ValueError(f"unknown shape {shape!r}")


def _background(bg, size):
    coords = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    # Position along the gradient direction, scaled so the image spans at most [0, 1].
    t = (coords[None, :] * math.cos(bg.angle) + coords[:, None] * math.sin(bg.angle)) / math.sqrt(2) + 0.5
    a = np.asarray(bg.colour_a, np.float32)
    b = np.asarray(bg.colour_b, np.float32)
    return a + (b - a) * t[:, :, None]


def _coverage(obj, size, supersample):
    """Anti-aliased coverage (0..1) of one object over its pixel box; returns (y0, x0, coverage)."""
    lo_x = max(0, int(math.floor((obj.cx - obj.radius) * size)) - 1)
    hi_x = min(size, int(math.ceil((obj.cx + obj.radius) * size)) + 1)
    lo_y = max(0, int(math.floor((obj.cy - obj.radius) * size)) - 1)
    hi_y = min(size, int(math.ceil((obj.cy + obj.radius) * size)) + 1)
    step = 1.0 / (size * supersample)
    xs = (np.arange(lo_x * supersample, hi_x * supersample, dtype=np.float32) + 0.5) * step - obj.cx
    ys = (np.arange(lo_y * supersample, hi_y * supersample, dtype=np.float32) + 0.5) * step - obj.cy
    inside = _inside(obj.shape, xs[None, :], ys[:, None], obj.radius)
    height, width = hi_y - lo_y, hi_x - lo_x
    coverage = inside.reshape(height, supersample, width, supersample).mean(axis=(1, 3), dtype=np.float32)
    return lo_y, lo_x, coverage


def render(spec, image_size=None, supersample=4):
    """Spec -> uint8 HxWx3 image. Deterministic: the noise comes from the spec's noise_seed."""
    spec = SceneSpec.from_dict(spec)
    size = int(image_size or spec.image_size)
    image = _background(spec.background, size)
    for obj in spec.objects:
        y0, x0, alpha = _coverage(obj, size, supersample)
        alpha = alpha[:, :, None]
        patch = image[y0:y0 + alpha.shape[0], x0:x0 + alpha.shape[1]]
        patch *= 1.0 - alpha
        patch += alpha * np.asarray(obj.rgb, np.float32)
    if spec.background.noise_sigma > 0:
        noise_rng = np.random.default_rng(spec.background.noise_seed)
        image += noise_rng.standard_normal(image.shape, dtype=np.float32) * spec.background.noise_sigma
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Captions

REGION_PHRASES = {
    "left": ("on the left", "on the left side", "at the left"),
    "right": ("on the right", "on the right side", "at the right"),
    "top": ("at the top", "near the top", "on the top side"),
    "bottom": ("at the bottom", "near the bottom", "on the bottom side"),
    "centre": ("in the centre", "in the middle", "at the centre"),
}
REGION_SHORT = {"left": "left", "right": "right", "top": "top", "bottom": "bottom", "centre": "middle"}
RELATION_PHRASES = {
    "above": ("above",), "below": ("below", "under"),
    "left_of": ("to the left of", "left of"), "right_of": ("to the right of", "right of"),
}
# Templates: {a} = object with article, {n} = bare object ("red circle"); index 0 is canonical.
SINGLE_TEMPLATES = ("a photo of {a}", "{a}", "an image of {a}", "a picture of {a}", "{n}")
POSITION_TEMPLATES = ("a photo of {a} {where}", "{a} {where}", "an image of {a} {where}", "{n}, {short}")
COUNT_TEMPLATES = ("a photo of {count} {plural}", "{count} {plural}", "an image of {count} {plural}",
                   "there are {count} {plural}")
TWO_TEMPLATES = ("a photo of {a} and {b}", "{a} and {b}", "{a} with {b}", "{n}, {m}")
RELATION_TEMPLATES = ("a photo of {a} {rel} {b}", "{a} {rel} {b}", "an image of {a} {rel} {b}", "{n} {rel} {m}")
TEMPLATES = {"single": SINGLE_TEMPLATES, "position": POSITION_TEMPLATES, "count": COUNT_TEMPLATES,
             "two_objects": TWO_TEMPLATES, "relation": RELATION_TEMPLATES}


def _noun_phrase(obj, with_size, plural=False):
    words = ([obj.size] if with_size else []) + [obj.colour, obj.shape + ("s" if plural else "")]
    return " ".join(words)


def _with_article(phrase):
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _caption_fields(spec, choose):
    first = spec.objects[0]
    second = spec.objects[1] if len(spec.objects) > 1 else first
    n, m = _noun_phrase(first, spec.mention_size), _noun_phrase(second, spec.mention_size)
    return {
        "a": _with_article(n), "b": _with_article(m), "n": n, "m": m,
        "plural": _noun_phrase(first, spec.mention_size, plural=True),
        "count": COUNT_WORDS.get(len(spec.objects), ""),
        "where": choose(REGION_PHRASES[spec.region]) if spec.region else "",
        "short": REGION_SHORT.get(spec.region, ""),
        "rel": choose(RELATION_PHRASES[spec.relation]) if spec.relation else "",
    }


def caption(spec, rng):
    """A random phrasing of the scene."""
    spec = SceneSpec.from_dict(spec)
    template = _pick(rng, TEMPLATES[spec.kind])
    return template.format(**_caption_fields(spec, lambda options: _pick(rng, options)))


def canonical_caption(spec):
    """The benchmark's phrasing: the first template and first phrase of every choice."""
    spec = SceneSpec.from_dict(spec)
    return TEMPLATES[spec.kind][0].format(**_caption_fields(spec, lambda options: options[0]))


def vocabulary():
    """Every word (and the comma) any caption can contain, sorted."""
    words = set(SHAPES) | {s + "s" for s in SHAPES} | set(COLOURS) | set(SIZES)
    words |= set(COUNT_WORDS.values()) | set(REGION_SHORT.values()) | {"a", "an", ","}
    for phrases in list(REGION_PHRASES.values()) + list(RELATION_PHRASES.values()):
        for phrase in phrases:
            words |= set(phrase.split())
    for templates in TEMPLATES.values():
        for template in templates:
            for token in template.replace(",", " , ").split():
                if not token.startswith("{"):
                    words.add(token)
    return sorted(words)


# --------------------------------------------------------------------------------------------
# The benchmark's prompts

def make_eval_prompts(count=200, seed=2024, image_size=DEFAULT_IMAGE_SIZE, split="heldout"):
    """A fixed list of prompts, kinds in turn (single, position, count, two_objects, relation).

    Each entry: {"index", "kind", "caption" (canonical), "spec" (a scene that satisfies it, used to
    check the detector; a model is only given the caption)}. Captions are kept distinct while the
    held-out space allows (single-object held-out prompts are few, so those repeat). Every other
    held-out position, count and relation prompt is held out for its own kind's combination
    (shape@region, count x shape, shape-relation-shape), not only for a colour+shape pair."""
    rng = np.random.default_rng(seed)
    prompts, seen = [], set()
    for index in range(count):
        kind = KINDS[index % len(KINDS)]
        own_tag = kind in ("position", "count", "relation") and (index // len(KINDS)) % 2 == 0
        require = kind if own_tag and split == "heldout" else None
        for attempt in range(50):
            spec = sample_scene(rng, split, kind, image_size, require_tag=require)
            text = canonical_caption(spec)
            if text not in seen:
                break
        seen.add(text)
        prompts.append({"index": index, "kind": kind, "caption": text, "spec": spec.to_dict()})
    return prompts


def _ensure_parent(path):
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)


def save_eval_prompts(path, prompts, seed=None, split="heldout"):
    _ensure_parent(path)
    payload = {"format": "infinode-shapes-eval-prompts/1", "seed": seed, "split": split,
               "image_naming": "{index:04d}.png", "prompts": prompts}
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=1)


def load_eval_prompts(path):
    """Returns the list of prompt entries, specs as SceneSpec."""
    with open(path) as handle:
        payload = json.load(handle)
    entries = payload["prompts"] if isinstance(payload, dict) else payload
    return [{**entry, "spec": SceneSpec.from_dict(entry["spec"])} for entry in entries]


# --------------------------------------------------------------------------------------------
# CLI

def _write_png(path, image):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from pngio import write_png
    _ensure_parent(path)
    write_png(path, image)


def _cmd_sample(args):
    os.makedirs(args.out, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    records = []
    for index in range(args.count):
        spec = sample_scene(rng, args.split, args.kind, args.size)
        name = f"{index:04d}.png"
        _write_png(os.path.join(args.out, name), render(spec))
        records.append({"file": name, "caption": caption(spec, rng),
                        "canonical": canonical_caption(spec), "spec": spec.to_dict()})
    with open(os.path.join(args.out, "captions.json"), "w") as handle:
        json.dump(records, handle, indent=1)
    print(f"wrote {args.count} images and captions.json to {args.out}")


def _cmd_eval_prompts(args):
    prompts = make_eval_prompts(args.count, args.seed, args.size, args.split)
    save_eval_prompts(args.out, prompts, args.seed, args.split)
    print(f"wrote {len(prompts)} {args.split} prompts "
          f"({len({p['caption'] for p in prompts})} distinct captions) to {args.out}")
    if args.render_dir:  # the prompts' reference scenes, named as eval_images.py expects
        os.makedirs(args.render_dir, exist_ok=True)
        for entry in prompts:
            _write_png(os.path.join(args.render_dir, f"{entry['index']:04d}.png"), render(entry["spec"]))
        print(f"wrote {len(prompts)} reference images to {args.render_dir}")


def _cmd_captions(args):
    rng = np.random.default_rng(args.seed)
    _ensure_parent(args.out)
    with open(args.out, "w") as handle:
        for _ in range(args.count):
            handle.write(caption(sample_scene(rng, args.split, None, args.size), rng) + "\n")
    print(f"wrote {args.count} captions to {args.out}")


def _cmd_grid(args):
    rng = np.random.default_rng(args.seed)
    size, pad = args.size, 4
    rows = (args.count + args.cols - 1) // args.cols
    grid = np.full((rows * (size + pad) + pad, args.cols * (size + pad) + pad, 3), 255, np.uint8)
    for index in range(args.count):
        spec = sample_scene(rng, args.split, args.kind, size)
        y, x = pad + (index // args.cols) * (size + pad), pad + (index % args.cols) * (size + pad)
        grid[y:y + size, x:x + size] = render(spec)
        print(f"{index:3d}  {canonical_caption(spec)}")
    _write_png(args.out, grid)
    print(f"wrote {args.out}")


def _cmd_split(args):
    check_split()
    print("held-out colour+shape pairs:", sorted(HELDOUT_PAIRS))
    print("held-out shape@region:      ", sorted(HELDOUT_POSITIONS))
    print("held-out count x shape:     ", sorted(HELDOUT_COUNTS))
    print("held-out relations:         ", sorted(HELDOUT_RELATIONS))
    words = vocabulary()
    print(f"vocabulary ({len(words)} words): {' '.join(words)}")


def _cmd_speed(args):
    rng = np.random.default_rng(args.seed)
    specs = [sample_scene(rng, "train", None, args.size) for _ in range(args.count)]
    start = time.perf_counter()
    for spec in specs:
        render(spec)
    render_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.count):
        spec = sample_scene(rng, "train", None, args.size)
        caption(spec, rng)
    sample_s = time.perf_counter() - start
    print(f"{args.size}x{args.size}: render {args.count / render_s:.0f} images/s, "
          f"sample+caption {args.count / sample_s:.0f} scenes/s, "
          f"together {args.count / (render_s + sample_s):.0f} examples/s (one core)")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p, count):
        p.add_argument("--count", type=int, default=count)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--size", type=int, default=DEFAULT_IMAGE_SIZE, help="image side in pixels")
        p.add_argument("--split", choices=("train", "heldout"), default="train")

    p = sub.add_parser("sample", help="write PNGs and captions.json")
    common(p, 16)
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(run=_cmd_sample)
    p = sub.add_parser("eval-prompts", help="write the fixed held-out benchmark prompts")
    common(p, 200)
    p.set_defaults(seed=2024, split="heldout", run=_cmd_eval_prompts)
    p.add_argument("--out", required=True, help="output JSON file")
    p.add_argument("--render-dir", help="also write each prompt's reference scene as {index:04d}.png")
    p = sub.add_parser("captions", help="write captions one a line (for spm_train)")
    common(p, 20000)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_cmd_captions)
    p = sub.add_parser("grid", help="write one PNG grid of sampled scenes, captions to stdout")
    common(p, 16)
    p.add_argument("--cols", type=int, default=4)
    p.add_argument("--kind", choices=KINDS)
    p.add_argument("--out", required=True)
    p.set_defaults(run=_cmd_grid)
    p = sub.add_parser("split", help="print the held-out combinations and the vocabulary")
    p.set_defaults(run=_cmd_split)
    p = sub.add_parser("speed", help="measure sampling and rendering speed")
    common(p, 2000)
    p.set_defaults(run=_cmd_speed)
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
