#!/usr/bin/python3
"""Shows that the detector and scorer can be trusted: run them on pictures whose truth is known.

1. Renders --count ground-truth scenes (half train, half held-out split, kinds in turn, scene i
   from seed [--seed, i]) and scores each picture against its own spec, clean and under
   degradations a generator's output may show: Gaussian blur (sigma 1 px), JPEG-like
   compression (quality 50), colour drift (per-channel offset +-12, gain +-10%), pixel noise
   (sigma 6), half-resolution detail (2x2 average then bilinear up), and all of blur + drift +
   JPEG q60 + noise 4 together.
2. Scores pictures that must fail against the same specs: uniform noise, smooth colour noise,
   the scene's background without its objects, the scene with every object's shape changed,
   with every colour changed, and mirrored across the axis its position or relation prompt is
   about (off-centre position and relation prompts only). Reported but not gated: another
   scene of the same kind ("shuffled"; passes when the two agree on all the caption asks) and
   the scene with its objects replaced by lumpy three-disc blobs ("smudges").
3. Renders the benchmark's own prompts (scenes.make_eval_prompts, --eval-count) and scores them.

Prints one row per condition and exits 1 when clean accuracy < --min-clean (0.95), any
degraded accuracy < --min-degraded (0.90), or a must-fail condition > --max-fooled (0.05). --show N prints N failures per condition.
"""
import argparse
import dataclasses
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shapes"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import degrade  # noqa: E402
import scenes  # noqa: E402
from detect import detect  # noqa: E402
from score import CHECKS, score_prompt, summarize  # noqa: E402

DEGRADATIONS = {
    "blur1": lambda im, rng: degrade.gaussian_blur(im, 1.0),
    "jpeg50": lambda im, rng: degrade.jpeg_like(im, 50),
    "colour-drift": lambda im, rng: degrade.colour_shift(im, rng),
    "noise6": lambda im, rng: degrade.add_noise(im, rng, 6.0),
    "half-res": lambda im, rng: degrade.down_up(im, 2),
    "combined": lambda im, rng: degrade.add_noise(
        degrade.jpeg_like(degrade.colour_shift(degrade.gaussian_blur(im, 1.0), rng), 60), rng, 4.0),
}


def _swap_attribute(spec, rng, attribute, options):
    """The spec with every object's `attribute` changed to a value no object of the scene has
    (so two objects cannot merely trade shapes or colours and still satisfy the prompt)."""
    used = {getattr(obj, attribute) for obj in spec.objects}
    choices = [option for option in options if option not in used]
    objects = []
    for obj in spec.objects:
        objects.append(dataclasses.replace(obj, **{attribute: choices[int(rng.integers(len(choices)))]}))
    return dataclasses.replace(spec, objects=objects)


def _recoloured(spec, rng):
    swapped = _swap_attribute(spec, rng, "colour", list(scenes.COLOURS))
    recoloured = [dataclasses.replace(o, rgb=scenes._jittered_rgb(rng, o.colour)) for o in swapped.objects]
    return dataclasses.replace(swapped, objects=recoloured)


def mirrored(spec):
    """The spec mirrored across the axis its region or relation is about (centre: unchanged)."""
    horizontal = spec.region in ("left", "right") or spec.relation in ("left_of", "right_of")
    vertical = spec.region in ("top", "bottom") or spec.relation in ("above", "below")
    objects = [dataclasses.replace(o, cx=1 - o.cx if horizontal else o.cx, cy=1 - o.cy if vertical else o.cy)
               for o in spec.objects]
    return dataclasses.replace(spec, objects=objects)


def smudged(spec, rng):
    """Each object replaced by a lumpy blob of three discs, right colour, place and size."""
    size = spec.image_size
    image = scenes.render(dataclasses.replace(spec, objects=[])).astype(np.float32)
    ys, xs = (np.mgrid[0:size, 0:size] + 0.5) / size
    for obj in spec.objects:
        blob = np.zeros((size, size), bool)
        for _ in range(3):
            angle, offset = rng.uniform(0, 2 * np.pi), rng.uniform(0.3, 0.7) * obj.radius
            disc = rng.uniform(0.45, 0.7) * obj.radius
            blob |= (xs - obj.cx - offset * np.cos(angle)) ** 2 + (ys - obj.cy - offset * np.sin(angle)) ** 2 < disc ** 2
        image[blob] = obj.rgb
    return image.astype(np.uint8)


def must_fail_image(name, index, spec, specs, images, rng):
    size = spec.image_size
    if name == "uniform-noise":
        return rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    if name == "smooth-noise":  # blotches of colour about an object's size
        return degrade.gaussian_blur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), size / 24)
    if name == "blank":
        return scenes.render(dataclasses.replace(spec, objects=[]))
    if name == "wrong-shape":
        return scenes.render(_swap_attribute(spec, rng, "shape", scenes.SHAPES))
    if name == "wrong-colour":
        return scenes.render(_recoloured(spec, rng))
    if name == "mirrored":
        return scenes.render(mirrored(spec))
    if name == "shuffled":
        same_kind = [j for j in range(len(specs)) if specs[j].kind == spec.kind and j != index]
        return images[same_kind[int(rng.integers(len(same_kind)))]]
    if name == "smudges":
        return smudged(spec, rng)
    raise ValueError(name)


def score_condition(specs, images, transform, seed, show=0, label=""):
    results, shown = [], 0
    for index, (spec, image) in enumerate(zip(specs, images)):
        rng = np.random.default_rng([seed, index, 7])
        picture = transform(index, image, rng)
        detections = detect(picture)
        result = score_prompt(spec, detections)
        result["kind"] = spec.kind
        results.append(result)
        if not result["passed"] and shown < show:
            shown += 1
            failed = [k for k, v in result["checks"].items() if not v]
            print(f"  [{label}] #{index} {scenes.canonical_caption(spec)!r} failed {failed}; detected: "
                  + "; ".join(f"{d['size']} {d['colour']} {d['shape']} ({d['cx']:.2f},{d['cy']:.2f}) "
                              f"iou={d['iou']}" for d in detections))
    return summarize(results)


def table_header():
    kinds = " ".join(f"{k[:8]:>8s}" for k in scenes.KINDS)
    checks = " ".join(f"{c[:8]:>8s}" for c in CHECKS)
    return f"{'condition':22s} {'overall':>8s} | {kinds} | {checks}"


def table_row(name, summary):
    def cell(entry):
        return f"{100 * entry['accuracy']:7.1f}%" if entry and entry["n"] else f"{'-':>8s}"
    kinds = " ".join(cell(summary["kinds"].get(k)) for k in scenes.KINDS)
    checks = " ".join(cell(summary["checks"].get(c)) for c in CHECKS)
    return f"{name:22s} {cell(summary['overall'])} | {kinds} | {checks}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000, help="ground-truth scenes")
    parser.add_argument("--eval-count", type=int, default=200, help="benchmark prompts to render")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=scenes.DEFAULT_IMAGE_SIZE)
    parser.add_argument("--min-clean", type=float, default=0.95)
    parser.add_argument("--min-degraded", type=float, default=0.90)
    parser.add_argument("--max-fooled", type=float, default=0.05)
    parser.add_argument("--show", type=int, default=0, help="failures to print per condition")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    specs = [scenes.sample_scene(np.random.default_rng([args.seed, i]), ("train", "heldout")[i % 2],
                                 scenes.KINDS[(i // 2) % len(scenes.KINDS)], args.size)
             for i in range(args.count)]
    images = [scenes.render(spec) for spec in specs]
    eval_specs = [scenes.SceneSpec.from_dict(p["spec"])
                  for p in scenes.make_eval_prompts(args.eval_count, image_size=args.size)]
    eval_images = [scenes.render(spec) for spec in eval_specs]

    print(f"{args.count} ground-truth scenes at {args.size}x{args.size} (train and held-out), "
          f"{len(eval_specs)} benchmark prompts; accuracy = prompts whose every asked check passes")
    print(table_header())
    failures = []

    def run(name, specs_, images_, transform, gate):
        summary = score_condition(specs_, images_, transform, args.seed, args.show, name)
        print(table_row(name, summary), flush=True)
        accuracy = summary["overall"]["accuracy"]
        if gate == "clean" and accuracy < args.min_clean:
            failures.append(f"{name}: {accuracy:.3f} < {args.min_clean}")
        if gate == "degraded" and accuracy < args.min_degraded:
            failures.append(f"{name}: {accuracy:.3f} < {args.min_degraded}")
        if gate == "fooled" and accuracy > args.max_fooled:
            failures.append(f"{name}: {accuracy:.3f} > {args.max_fooled}")

    run("clean", specs, images, lambda i, im, rng: im, "clean")
    for name, degradation in DEGRADATIONS.items():
        run(name, specs, images, lambda i, im, rng, d=degradation: d(im, rng), "degraded")
    for name in ("uniform-noise", "smooth-noise", "blank", "wrong-shape", "wrong-colour"):
        run(f"must-fail:{name}", specs, images,
            lambda i, im, rng, n=name: must_fail_image(n, i, specs[i], specs, images, rng), "fooled")
    # Mirroring only changes the truth of off-centre position prompts and relation prompts.
    directional = [i for i, spec in enumerate(specs)
                   if spec.kind == "relation" or (spec.kind == "position" and spec.region != "centre")]
    run("must-fail:mirrored", [specs[i] for i in directional], [images[i] for i in directional],
        lambda i, im, rng: scenes.render(mirrored(specs[directional[i]])), "fooled")
    # Reported, not gated: a random other scene of the same kind sometimes satisfies the prompt;
    # lumpy blobs are sometimes round enough to be circles.
    for name in ("shuffled", "smudges"):
        run(f"info:{name}", specs, images,
            lambda i, im, rng, n=name: must_fail_image(n, i, specs[i], specs, images, rng), None)
    if eval_specs:
        run("benchmark-prompts", eval_specs, eval_images, lambda i, im, rng: im, "clean")
        run("benchmark-combined", eval_specs, eval_images,
            lambda i, im, rng: DEGRADATIONS["combined"](im, rng), "degraded")
    print(f"({time.perf_counter() - start:.0f} s)")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("detector OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
