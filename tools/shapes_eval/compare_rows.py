#!/usr/bin/python3
"""Side-by-side rows for the first benchmark prompts: the reference scene, then one row per
folder of images named {index:04d}.png (a VAE reconstruction, the engine's pictures, ...).

    compare_rows.py --prompts OUT/prompts.json --rows VAE_DIR CPP_DIR --count 10 --out cmp.png

The reference scenes are rendered from the prompts' specs at the size of the first row's
images; every image is shown at --zoom x (nearest neighbour), 4 px apart.
"""
import argparse
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "shapes"))
import scenes  # noqa: E402
from pngio import read_png, write_png  # noqa: E402

GAP = 4  # white pixels between images


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", required=True, help="prompts.json (scenes.save_eval_prompts)")
    ap.add_argument("--rows", nargs="+", required=True, help="image folders, one row each")
    ap.add_argument("--count", type=int, default=10)
    ap.add_argument("--zoom", type=int, default=2)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    prompts = scenes.load_eval_prompts(a.prompts)[: a.count]
    rows = [[read_png(os.path.join(folder, f"{p['index']:04d}.png"))[..., :3]
             for p in prompts] for folder in a.rows]
    side = rows[0][0].shape[0]
    reference = [scenes.render(p["spec"], image_size=side) for p in prompts]  # load_eval_prompts gives SceneSpecs
    grid_rows = []
    for images in [reference] + rows:
        cells = []
        for image in images:
            cells.append(np.kron(image, np.ones((a.zoom, a.zoom, 1), dtype=np.uint8)))
            cells.append(np.full((side * a.zoom, GAP, 3), 255, np.uint8))
        grid_rows.append(np.concatenate(cells[:-1], 1))
        grid_rows.append(np.full((GAP, grid_rows[-1].shape[1], 3), 255, np.uint8))
    write_png(a.out, np.concatenate(grid_rows[:-1], 0))
    print(f"wrote {a.out}: {len(grid_rows) // 2} rows x {len(prompts)} prompts")


if __name__ == "__main__":
    main()
