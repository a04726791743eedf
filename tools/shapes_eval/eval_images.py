#!/usr/bin/python3
"""Scores a directory of generated images against the benchmark's prompt list.

Usage:
  eval_images.py --prompts PROMPTS.json --images DIR [--out SUMMARY.json] [--show N]

PROMPTS.json comes from `tools/shapes/scenes.py eval-prompts --out PROMPTS.json`. Image i of the
directory answers prompt i and is named `{index:04d}.png` (0000.png, 0001.png, ...; the file
name pattern can be changed with --pattern, e.g. "img_{index}.png"). A missing or unreadable
image counts as a failed prompt. Images of any square size work (the detector reasons in
fractions of the side). Prints the accuracy per prompt kind, per check and overall (rules in
score.py) and writes a JSON summary with every prompt's verdict and detections.
Exit status: 0, or 2 when no image at all was found (a broken pipeline, not a bad model).
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shapes"))
import scenes  # noqa: E402
from detect import detect, read_image  # noqa: E402
from score import format_summary, score_prompt, summarize  # noqa: E402


def evaluate(prompts, image_dir, pattern="{index:04d}.png"):
    """(summary dict, per-prompt records, number of images found)."""
    records, found = [], 0
    for entry in prompts:
        path = os.path.join(image_dir, pattern.format(index=entry["index"]))
        try:
            detections = detect(read_image(path))
            found += 1
            error = None
        except (OSError, ValueError) as exc:  # missing or unreadable: the prompt fails
            detections, error = [], f"{type(exc).__name__}: {exc}"
        result = score_prompt(entry["spec"], detections)
        records.append({"index": entry["index"], "kind": entry["kind"], "caption": entry["caption"],
                        "file": os.path.basename(path), "passed": result["passed"],
                        "checks": result["checks"], "detections": detections, "error": error})
    return summarize(records), records, found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prompts", required=True, help="JSON from scenes.py eval-prompts")
    parser.add_argument("--images", required=True, help="directory of generated images")
    parser.add_argument("--pattern", default="{index:04d}.png", help="file name of image {index}")
    parser.add_argument("--out", help="write the JSON summary here")
    parser.add_argument("--limit", type=int, help="score only the first N prompts")
    parser.add_argument("--show", type=int, default=0, help="print N failed prompts")
    args = parser.parse_args(argv)

    prompts = scenes.load_eval_prompts(args.prompts)[:args.limit]
    summary, records, found = evaluate(prompts, args.images, args.pattern)
    print(format_summary(summary, f"{args.images}: {found}/{len(prompts)} images scored"))
    for record in [r for r in records if not r["passed"]][:args.show]:
        failed = [name for name, ok in record["checks"].items() if not ok]
        seen = "; ".join(f"{d['size']} {d['colour']} {d['shape']} ({d['cx']:.2f},{d['cy']:.2f})"
                         for d in record["detections"]) or record["error"] or "nothing"
        print(f"  {record['file']} {record['caption']!r}: failed {failed}; saw {seen}")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump({"images": args.images, "prompts": args.prompts, "found": found,
                       "summary": summary, "results": records}, handle, indent=1)
        print(f"wrote {args.out}")
    return 0 if found else 2


if __name__ == "__main__":
    sys.exit(main())
