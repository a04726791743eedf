#!/usr/bin/python3
"""A PNG grid of benchmark prompts and their generated images, the caption under each image.

Usage:
  make_gallery.py SUMMARY.json --out docs/gallery.png [--count 12] [--columns 4] [--scale 2]
  make_gallery.py SUMMARY.json --torch --out torch_gallery.png      # the PyTorch sampler's images
  make_gallery.py SUMMARY.json --indices 0,3,7 --out picked.png

SUMMARY.json is bench.py's OUT/summary.json (or eval_images.py --out): each result's caption, file
and verdict, and the folder of the images. Under every image a bar shows the benchmark's verdict
(green: the prompt passed, red: it failed; --no-verdict leaves it out). Text is drawn with PIL's
default font when PIL is importable, else (or with --builtin-font) with the 5x7 bitmap font
below, so numpy alone is enough. The PNG is written by tools/shapes/pngio.py.
"""
import argparse
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "shapes"))
from pngio import read_png, write_png  # noqa: E402

BACKGROUND = (255, 255, 255)
INK = (30, 30, 30)
PASS_COLOUR, FAIL_COLOUR = (40, 160, 60), (200, 40, 40)
MARGIN = 10  # pixels around and between cells
BAR_HEIGHT = 4  # the verdict bar under an image
TEXT_GAP = 4  # between the bar and the caption

# 5x7 glyphs, rows top to bottom ('#' = ink), plus two descender rows for g j p q y and the
# comma (9 rows given; the others get two blank rows). Upper case is drawn as lower case;
# anything else missing is drawn as '?'.
GLYPHS = {
    " ": ".....|.....|.....|.....|.....|.....|.....",
    "a": ".....|.....|.###.|....#|.####|#...#|.####",
    "b": "#....|#....|####.|#...#|#...#|#...#|####.",
    "c": ".....|.....|.###.|#....|#....|#...#|.###.",
    "d": "....#|....#|.####|#...#|#...#|#...#|.####",
    "e": ".....|.....|.###.|#...#|#####|#....|.###.",
    "f": "..##.|.#..#|.#...|###..|.#...|.#...|.#...",
    "g": ".....|.....|.####|#...#|#...#|#...#|.####|....#|.###.",
    "h": "#....|#....|#.##.|##..#|#...#|#...#|#...#",
    "i": "..#..|.....|.##..|..#..|..#..|..#..|.###.",
    "j": "...#.|.....|..##.|...#.|...#.|...#.|...#.|#..#.|.##..",
    "k": "#....|#....|#..#.|#.#..|##...|#.#..|#..#.",
    "l": ".##..|..#..|..#..|..#..|..#..|..#..|.###.",
    "m": ".....|.....|##.#.|#.#.#|#.#.#|#...#|#...#",
    "n": ".....|.....|#.##.|##..#|#...#|#...#|#...#",
    "o": ".....|.....|.###.|#...#|#...#|#...#|.###.",
    "p": ".....|.....|####.|#...#|#...#|#...#|####.|#....|#....",
    "q": ".....|.....|.####|#...#|#...#|#...#|.####|....#|....#",
    "r": ".....|.....|#.##.|##..#|#....|#....|#....",
    "s": ".....|.....|.####|#....|.###.|....#|####.",
    "t": ".#...|.#...|###..|.#...|.#...|.#..#|..##.",
    "u": ".....|.....|#...#|#...#|#...#|#..##|.##.#",
    "v": ".....|.....|#...#|#...#|#...#|.#.#.|..#..",
    "w": ".....|.....|#...#|#...#|#.#.#|#.#.#|.#.#.",
    "x": ".....|.....|#...#|.#.#.|..#..|.#.#.|#...#",
    "y": ".....|.....|#...#|#...#|#...#|#...#|.####|....#|.###.",
    "z": ".....|.....|#####|...#.|..#..|.#...|#####",
    "0": ".###.|#...#|#..##|#.#.#|##..#|#...#|.###.",
    "1": "..#..|.##..|..#..|..#..|..#..|..#..|.###.",
    "2": ".###.|#...#|....#|...#.|..#..|.#...|#####",
    "3": "#####|...#.|..#..|...#.|....#|#...#|.###.",
    "4": "...#.|..##.|.#.#.|#..#.|#####|...#.|...#.",
    "5": "#####|#....|####.|....#|....#|#...#|.###.",
    "6": "..##.|.#...|#....|####.|#...#|#...#|.###.",
    "7": "#####|....#|...#.|..#..|.#...|.#...|.#...",
    "8": ".###.|#...#|#...#|.###.|#...#|#...#|.###.",
    "9": ".###.|#...#|#...#|.####|....#|...#.|.##..",
    ",": ".....|.....|.....|.....|.....|.##..|.##..|..#..|.#...",
    ".": ".....|.....|.....|.....|.....|.##..|.##..",
    "-": ".....|.....|.....|#####|.....|.....|.....",
    ":": ".....|.##..|.##..|.....|.##..|.##..|.....",
    "%": "##...|##..#|...#.|..#..|.#...|#..##|...##",
    "(": "...#.|..#..|.#...|.#...|.#...|..#..|...#.",
    ")": ".#...|..#..|...#.|...#.|...#.|..#..|.#...",
    "/": ".....|....#|...#.|..#..|.#...|#....|.....",
    "?": ".###.|#...#|....#|...#.|..#..|.....|..#..",
    "'": "..#..|..#..|.#...|.....|.....|.....|.....",
    "=": ".....|.....|#####|.....|#####|.....|.....",
    "+": ".....|..#..|..#..|#####|..#..|..#..|.....",
}
GLYPH_WIDTH, GLYPH_HEIGHT = 5, 9  # 7 rows above the baseline, 2 below


def glyph_mask(char):
    rows = GLYPHS.get(char.lower(), GLYPHS["?"]).split("|")
    rows += ["." * GLYPH_WIDTH] * (GLYPH_HEIGHT - len(rows))
    return np.array([[c == "#" for c in row] for row in rows], dtype=bool)  # [9, 5]


class BuiltinFont:
    """The 5x7 font (+2 descender rows), each pixel drawn as a zoom x zoom square, one blank column between glyphs."""

    def __init__(self, zoom=1):
        self.zoom = zoom
        self.line_height = (GLYPH_HEIGHT + 2) * zoom

    def width(self, text):
        return len(text) * (GLYPH_WIDTH + 1) * self.zoom

    def draw(self, canvas, x, y, text, colour):
        """Draws one line into canvas (uint8 HxWx3) with its top-left corner at (x, y)."""
        for position, char in enumerate(text):
            mask = np.kron(glyph_mask(char), np.ones((self.zoom, self.zoom), dtype=bool))
            left = x + position * (GLYPH_WIDTH + 1) * self.zoom
            region = canvas[y:y + mask.shape[0], left:left + mask.shape[1]]
            region[mask[:region.shape[0], :region.shape[1]]] = colour


class PilFont:
    """PIL's default bitmap font (drawn through a PIL image of the canvas)."""

    def __init__(self):
        from PIL import Image, ImageDraw, ImageFont
        self.image_module, self.draw_module = Image, ImageDraw
        self.font = ImageFont.load_default()
        probe = ImageDraw.Draw(Image.new("RGB", (8, 8)))
        box = probe.textbbox((0, 0), "Ay,", font=self.font)
        self.line_height = box[3] - box[1] + 4
        self.probe = probe

    def width(self, text):
        return int(np.ceil(self.probe.textlength(text, font=self.font)))

    def draw(self, canvas, x, y, text, colour):
        picture = self.image_module.fromarray(canvas)
        self.draw_module.Draw(picture).text((x, y), text, fill=colour, font=self.font)
        canvas[...] = np.asarray(picture)


def make_font(builtin, zoom):
    if not builtin:
        try:
            return PilFont()
        except (ImportError, AttributeError):  # no PIL, or one too old for textbbox / textlength
            pass
    return BuiltinFont(zoom)


def wrap(text, font, width):
    """Greedy word wrap to lines no wider than `width` pixels (a too-long word is cut)."""
    lines, line = [], ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if font.width(candidate) <= width:
            line = candidate
            continue
        if line:
            lines.append(line)
        while font.width(word) > width and len(word) > 1:
            cut = max(1, len(word) * width // max(1, font.width(word)))
            lines.append(word[:cut])
            word = word[cut:]
        line = word
    if line:
        lines.append(line)
    return lines or [""]


def read_picture(path):
    """uint8 HxWx3 (PIL when present, else pngio); None when missing or unreadable."""
    try:
        from PIL import Image
        with Image.open(path) as picture:
            return np.asarray(picture.convert("RGB"))
    except ImportError:
        pass
    except OSError:
        return None
    try:
        return read_png(path)
    except (OSError, ValueError):
        return None


def fit(image, side):
    """Nearest-neighbour resize of a square-ish picture to side x side (pixels stay crisp)."""
    rows = (np.arange(side) * image.shape[0] // side).astype(np.int64)
    cols = (np.arange(side) * image.shape[1] // side).astype(np.int64)
    return image[rows][:, cols]


def load_entries(summary_path, torch_images):
    """[(caption, image path, passed or None)] from a bench.py or eval_images.py summary."""
    with open(summary_path) as handle:
        summary = json.load(handle)
    folder = summary.get("images_dir") or summary.get("images")
    results = summary.get("results", [])
    if torch_images:
        if "torch" not in summary:
            raise SystemExit(f"make_gallery.py: error: {summary_path} has no --compare-torch results")
        results = summary["torch"]["results"]
        folder = os.path.join(os.path.dirname(os.path.abspath(folder)), "torch_images")
    if not folder:
        raise SystemExit(f"make_gallery.py: error: {summary_path} names no image folder")
    if not os.path.isabs(folder):
        folder = os.path.join(os.path.dirname(os.path.abspath(summary_path)), folder)
    return [(r["caption"], os.path.join(folder, r["file"]), r.get("passed")) for r in results]


def render_gallery(entries, columns, side, font, verdicts=True, title=None):
    """uint8 canvas: one cell per entry, `columns` per row."""
    text_width = side
    captions = [wrap(caption, font, text_width) for caption, _, _ in entries]
    caption_height = max(len(lines) for lines in captions) * font.line_height
    cell_height = side + BAR_HEIGHT + TEXT_GAP + caption_height
    rows = (len(entries) + columns - 1) // columns
    title_height = font.line_height + MARGIN if title else 0
    height = MARGIN + title_height + rows * (cell_height + MARGIN)
    width = MARGIN + min(columns, len(entries)) * (side + MARGIN)
    canvas = np.empty((height, width, 3), dtype=np.uint8)
    canvas[...] = BACKGROUND
    texts = [(MARGIN, MARGIN, title)] if title else []
    for number, ((caption, path, passed), lines) in enumerate(zip(entries, captions)):
        x = MARGIN + (number % columns) * (side + MARGIN)
        y = MARGIN + title_height + (number // columns) * (cell_height + MARGIN)
        picture = read_picture(path)
        if picture is None:
            canvas[y:y + side, x:x + side] = (128, 128, 128)  # missing image: a grey square
            lines = ["(missing image)"] + lines
        else:
            canvas[y:y + side, x:x + side] = fit(picture, side)
        if verdicts and passed is not None:
            canvas[y + side:y + side + BAR_HEIGHT, x:x + side] = PASS_COLOUR if passed else FAIL_COLOUR
        top = y + side + BAR_HEIGHT + TEXT_GAP
        texts += [(x, top + k * font.line_height, line) for k, line in enumerate(lines)]
    for x, y, line in texts:
        font.draw(canvas, x, y, line, INK)
    return canvas


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[2:]))
    parser.add_argument("summary", help="bench.py's OUT/summary.json (or eval_images.py --out)")
    parser.add_argument("--out", required=True, help="PNG to write, e.g. docs/gallery.png")
    parser.add_argument("--count", type=int, default=12, help="first N prompts (default 12)")
    parser.add_argument("--indices", help="comma-separated prompt positions instead of --count")
    parser.add_argument("--columns", type=int, default=4, help="images per row (default 4)")
    parser.add_argument("--scale", type=int, default=2, help="pixels per image pixel (default 2)")
    parser.add_argument("--title", help="a line of text above the grid")
    parser.add_argument("--torch", action="store_true", help="the --compare-torch images instead")
    parser.add_argument("--no-verdict", action="store_true", help="no pass/fail bar")
    parser.add_argument("--builtin-font", action="store_true", help="the 5x7 font even when PIL is present")
    parser.add_argument("--text-zoom", type=int, default=1, help="zoom of the built-in font (default 1)")
    args = parser.parse_args(argv)
    if args.columns < 1 or args.scale < 1 or args.count < 1 or args.text_zoom < 1:
        parser.error("--columns, --scale, --count and --text-zoom must be at least 1")

    entries = load_entries(args.summary, args.torch)
    if args.indices:
        try:
            picked = [int(i) for i in args.indices.split(",")]
        except ValueError:
            parser.error(f"--indices needs comma-separated integers, not {args.indices!r}")
        if any(not 0 <= i < len(entries) for i in picked):
            parser.error(f"--indices must lie in 0..{len(entries) - 1}")
        entries = [entries[i] for i in picked]
    else:
        entries = entries[:args.count]
    if not entries:
        parser.error(f"{args.summary} holds no results")
    first = read_picture(entries[0][1])
    side = (first.shape[0] if first is not None else 128) * args.scale
    font = make_font(args.builtin_font, args.text_zoom)
    canvas = render_gallery(entries, args.columns, side, font, not args.no_verdict, args.title)
    parent = os.path.dirname(os.path.abspath(args.out))
    os.makedirs(parent, exist_ok=True)
    write_png(args.out, canvas)
    print(f"wrote {args.out} ({canvas.shape[1]}x{canvas.shape[0]}, {len(entries)} images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
