#!/usr/bin/python3
"""Finds the coloured shapes in a picture of the procedural world, by plain image analysis.

Rules (all coordinates are fractions of the image side, like the scene specs):
1. Background: the scenes' backgrounds are neutral and their objects saturated, so a pixel's
   chroma (max - min of R, G, B) separates them. The background's own chroma is measured on a
   2-pixel frame; if the frame's median chroma exceeds 60 the picture has no neutral background
   (noise, a colour wash) and nothing is detected.
2. Foreground: chroma > max(45, 90th percentile of the frame's chroma + 30), at most 110.
3. Connected components (8-connectivity) of the foreground, from row runs and a union-find.
   Components smaller than 0.15% of the image (25 px at 128x128; the smallest object covers
   ~0.6%) are specks and dropped; at most 12 of the largest are kept.
4. Colour: median RGB of the component's most saturated pixels (chroma >= 70% of its 95th
   percentile), converted to hue; the nearest palette hue wins, within 22 degrees and with
   saturation >= 0.3, else "unknown". Hue survives blur: mixing a colour with a grey keeps it.
5. Shape: the component's mask is compared with each shape drawn to fill its bounding box
   (circle -> inscribed ellipse, square -> the box, triangle -> apex-up triangle, diamond ->
   rhombus); the best intersection-over-union wins if it is >= 0.62 and the box's aspect ratio
   is within 1:1.6, else "unknown". Fill ratios differ a lot (circle 0.785, square 1.0) and
   triangle and diamond (both 0.5) differ in where the mass sits, which the IoU captures.
   A component over 25% of the image is never a shape (the largest object covers 11%).
6. Size: radius = half the longer box side; "small" below scenes.SIZE_BOUNDARY (0.10).
7. Position: centre of the bounding box (the scenes' (cx, cy) is the box centre too).

detect(image) -> list of dicts {shape, colour, size, cx, cy, radius, area, iou, hue, saturation},
largest first. CLI: detect.py IMAGE.png ... prints them.
"""
import colorsys
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "shapes"))
import scenes  # noqa: E402  (palette, shapes and size boundary are defined once, there)

FRAME = 2
MAX_FRAME_CHROMA = 60
MIN_THRESHOLD, THRESHOLD_OVER_FRAME, MAX_THRESHOLD = 45, 30, 110
MIN_AREA = 0.0015
MAX_OBJECT_AREA = 0.25
MAX_COMPONENTS = 12
MAX_HUE_DISTANCE = 22.0
MIN_SATURATION = 0.3
MIN_SHAPE_IOU = 0.62
MAX_ASPECT = 1.6


def chroma_of(image):
    channels = image.astype(np.int16)
    return channels.max(axis=2) - channels.min(axis=2)


def _frame_values(values):
    return np.concatenate([values[:FRAME].ravel(), values[-FRAME:].ravel(),
                           values[FRAME:-FRAME, :FRAME].ravel(), values[FRAME:-FRAME, -FRAME:].ravel()])


def foreground_mask(image):
    """Boolean mask of saturated (object) pixels, or None when there is no neutral background."""
    chroma = chroma_of(image)
    frame = _frame_values(chroma)
    if np.median(frame) > MAX_FRAME_CHROMA:
        return None
    threshold = min(MAX_THRESHOLD, max(MIN_THRESHOLD, np.percentile(frame, 90) + THRESHOLD_OVER_FRAME))
    return chroma > threshold


def _find(parent, node):
    while parent[node] != node:
        parent[node] = parent[parent[node]]
        node = parent[node]
    return node


def label_components(mask):
    """8-connected components -> (labels HxW int32, 0 = background, number of components).

    Works on row runs: runs on adjacent rows that touch (8-connectivity: their x ranges overlap
    when widened by one) are merged in a union-find; a run count, not a pixel count, drives the
    Python loop."""
    height, width = mask.shape
    padded = np.zeros((height, width + 2), np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    run_y, run_start = np.nonzero(edges == 1)
    _, run_end = np.nonzero(edges == -1)  # exclusive; same row-major order as the starts
    count = len(run_y)
    parent = list(range(count))
    row_first = np.searchsorted(run_y, np.arange(height + 1))
    for y in range(1, height):
        above, above_end = row_first[y - 1], row_first[y]
        here, here_end = row_first[y], row_first[y + 1]
        i, j = above, here
        while i < above_end and j < here_end:
            if run_start[i] <= run_end[j] and run_start[j] <= run_end[i]:  # touch, diagonals included
                root_i, root_j = _find(parent, i), _find(parent, j)
                if root_i != root_j:
                    parent[max(root_i, root_j)] = min(root_i, root_j)
            if run_end[i] < run_end[j]:
                i += 1
            else:
                j += 1
    roots = np.array([_find(parent, k) for k in range(count)], np.int64)
    unique_roots, run_label = np.unique(roots, return_inverse=True)
    labels = np.zeros((height, width), np.int32)
    for k in range(count):
        labels[run_y[k], run_start[k]:run_end[k]] = run_label[k] + 1
    return labels, len(unique_roots)


def _template(shape, height, width):
    """The shape drawn to fill a height x width box, sampled at pixel centres."""
    u = (np.arange(width) + 0.5) / width - 0.5
    v = (np.arange(height) + 0.5) / height - 0.5
    return scenes._inside(shape, u[None, :], v[:, None], 0.5)


def classify_shape(component):
    """(shape or "unknown", best IoU) for a boolean mask cropped to its bounding box."""
    height, width = component.shape
    best_shape, best_iou = "unknown", 0.0
    for shape in scenes.SHAPES:
        template = _template(shape, height, width)
        iou = np.logical_and(component, template).sum() / np.logical_or(component, template).sum()
        if iou > best_iou:
            best_shape, best_iou = shape, float(iou)
    aspect = max(height, width) / min(height, width)
    if best_iou < MIN_SHAPE_IOU or aspect > MAX_ASPECT:
        return "unknown", best_iou
    return best_shape, best_iou


def _hue_distance(a, b):
    d = abs(a - b) % 360.0
    return min(d, 360.0 - d)


def classify_colour(pixels):
    """(colour or "unknown", hue in degrees, saturation) for a component's N x 3 pixels."""
    channels = pixels.astype(np.int16)
    chroma = channels.max(axis=1) - channels.min(axis=1)
    core = pixels[chroma >= 0.7 * np.percentile(chroma, 95)]
    r, g, b = np.median(core, axis=0) / 255.0
    hue, saturation, _ = colorsys.rgb_to_hsv(r, g, b)
    hue *= 360.0
    name, distance = min(((n, _hue_distance(hue, h)) for n, (h, _, _) in scenes.COLOURS.items()),
                         key=lambda item: item[1])
    if distance > MAX_HUE_DISTANCE or saturation < MIN_SATURATION:
        name = "unknown"
    return name, hue, saturation


def detect(image):
    """Objects in a uint8 HxWx3 image (see the module docstring for the rules), largest first."""
    image = np.asarray(image)[:, :, :3]
    height, width = image.shape[:2]
    mask = foreground_mask(image)
    if mask is None:
        return []
    labels, count = label_components(mask)
    if count == 0:
        return []
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = [k for k in np.argsort(-areas) if areas[k] >= MIN_AREA * height * width][:MAX_COMPONENTS]
    found = []
    for k in keep:
        ys, xs = np.nonzero(labels == k + 1)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        area = areas[k] / (height * width)
        shape, iou = classify_shape(labels[y0:y1, x0:x1] == k + 1)
        if area > MAX_OBJECT_AREA:
            shape = "unknown"
        colour, hue, saturation = classify_colour(image[ys, xs])
        radius = max((x1 - x0) / width, (y1 - y0) / height) / 2
        found.append({
            "shape": shape, "colour": colour,
            "size": "small" if radius < scenes.SIZE_BOUNDARY else "large",
            "cx": float((x0 + x1) / 2 / width), "cy": float((y0 + y1) / 2 / height),
            "radius": float(radius), "area": float(area), "iou": round(iou, 3),
            "hue": round(hue, 1), "saturation": round(saturation, 3),
        })
    return found


def read_image(path):
    """PNG (or anything PIL reads, when PIL is installed) -> uint8 HxWx3."""
    try:
        from PIL import Image
        with Image.open(path) as picture:
            return np.asarray(picture.convert("RGB"))
    except ImportError:
        from pngio import read_png  # tools/shapes is on sys.path (see the import of scenes)
        return read_png(path)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: detect.py IMAGE.png [IMAGE.png ...]")
        return 0 if argv else 2
    for path in argv:
        print(path)
        for obj in detect(read_image(path)):
            print(f"  {obj['size']:5s} {obj['colour']:7s} {obj['shape']:8s} at ({obj['cx']:.2f}, {obj['cy']:.2f})"
                  f"  r={obj['radius']:.3f} iou={obj['iou']:.2f} hue={obj['hue']:.0f} sat={obj['saturation']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
