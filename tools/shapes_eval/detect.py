#!/usr/bin/python3
"""Finds the coloured shapes in a picture of the procedural world, by plain image analysis.

Rules (coordinates in the output are fractions of the image side, like the scene specs):
1. Background: the scenes' backgrounds are neutral, smooth (plain or a linear gradient) and
   their objects saturated. A plane per channel is fitted to a 2-pixel frame around the
   picture (twice, dropping outliers). If the frame's median chroma (max - min of R, G, B)
   exceeds 60 or its median distance from the plane exceeds 40, the picture has no neutral,
   smooth background (noise, a colour wash) and nothing is detected.
2. Contrast: each pixel's RGB distance from the background plane. Foreground: contrast above
   max(40, 90th percentile of the frame's contrast + 25), so background noise stays out.
3. Connected components (8-connectivity) of the foreground, from row runs and a union-find.
   Components smaller than 0.15% of the image (25 px at 128x128; the smallest object covers
   ~0.6%) are specks and dropped; at most 12 of the largest are kept.
4. Coverage: around each component, coverage = (contrast - background level) / (component's
   95th-percentile contrast): a blurred edge pixel half covered by the object reads 0.5. Blur
   moves coverage around but keeps its total (the area) and its centroid. Readings below 0.15
   or above 0.85 are snapped to 0 or 1 (noise, compression ringing), symmetrically so edges
   keep their half-way point.
5. Shape, by analysis-by-synthesis: each shape is drawn (4x supersampled) with that area and
   centroid, blurred by sigma 0, 0.7, 1.4 or 2.1 px, and compared with the coverage by soft
   intersection-over-union (sum of minima / sum of maxima). The best shape wins if its IoU is
   >= 0.7, else "unknown" (true shapes score >= 0.93 clean, >= 0.77 after blur + JPEG q50;
   lumpy blobs of three discs ~0.75, so about half of them pass as circles); a component over 25% of the image (the largest object covers 11%)
   is "unknown" too. Matching area and centroid rather than the bounding box is what keeps
   small blurred diamonds and squares from looking like circles.
6. Colour: median RGB of the component's most saturated pixels (chroma >= 70% of its 95th
   percentile), converted to hue; the nearest palette hue wins, within 22 degrees and with
   saturation >= 0.3, else "unknown". Hue survives blur: mixing a colour with a grey keeps it.
7. Size and position: the fitted shape's radius (half its box side) and box centre, as in the
   scene specs; "small" below scenes.SIZE_BOUNDARY (0.10). For an "unknown" shape: the box of
   the half-maximum outline.

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
MAX_FRAME_RESIDUAL = 40
MIN_THRESHOLD, THRESHOLD_OVER_FRAME = 40, 25
HALF_MAXIMUM = 0.5
COVERAGE_PAD = 5  # pixels around a component where its blurred fringe may lie
COVERAGE_SNAP = 0.15
SUPERSAMPLE = 4
BLUR_SIGMAS = (0.0, 0.7, 1.4, 2.1)
MIN_AREA = 0.0015
MAX_OBJECT_AREA = 0.25
MAX_COMPONENTS = 12
MAX_HUE_DISTANCE = 22.0
MIN_SATURATION = 0.3
MIN_SHAPE_IOU = 0.7
# Shape area = AREA_FACTOR**2 * radius**2 (radius = half the box side); inverse gives the radius.
AREA_FACTOR = {"circle": np.sqrt(np.pi), "square": 2.0, "diamond": np.sqrt(2.0), "triangle": np.sqrt(2.0)}


def chroma_of(image):
    channels = image.astype(np.int16)
    return channels.max(axis=2) - channels.min(axis=2)


def _frame(values):
    """The outer FRAME-pixel ring of a 2-D (or HxWxC) array, flattened along the ring."""
    return np.concatenate([values[:FRAME].reshape(-1, *values.shape[2:]),
                           values[-FRAME:].reshape(-1, *values.shape[2:]),
                           values[FRAME:-FRAME, :FRAME].reshape(-1, *values.shape[2:]),
                           values[FRAME:-FRAME, -FRAME:].reshape(-1, *values.shape[2:])])


def background_model(image):
    """Per-channel plane a + b*x + c*y fitted to the frame (twice, dropping outliers, in case an
    object's fringe reaches it): the scenes' backgrounds are plain or linear gradients."""
    height, width, _ = image.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    design = np.stack([np.ones_like(xs), xs / width, ys / height], axis=-1)
    frame_design, frame_colour = _frame(design), _frame(image.astype(np.float32))
    keep = np.ones(len(frame_design), bool)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(frame_design[keep], frame_colour[keep], rcond=None)
        residual = np.linalg.norm(frame_colour - frame_design @ coefficients, axis=1)
        keep = residual <= max(np.percentile(residual, 80) * 2, 6.0)
    return design @ coefficients, residual


def contrast_map(image):
    """(distance of every pixel from the background model, noise-aware threshold), or None when
    the picture has no neutral, smooth background (noise, a colour wash)."""
    if np.median(_frame(chroma_of(image))) > MAX_FRAME_CHROMA:
        return None
    background, frame_residual = background_model(image)
    if np.median(frame_residual) > MAX_FRAME_RESIDUAL:
        return None
    distance = np.linalg.norm(image.astype(np.float32) - background, axis=2)
    return distance, max(MIN_THRESHOLD, np.percentile(frame_residual, 90) + THRESHOLD_OVER_FRAME)


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


def _blur_matrix(length, sigma):
    """Matrix M with M @ signal = the signal blurred by a Gaussian of `sigma` pixels."""
    offsets = np.arange(length)[:, None] - np.arange(length)[None, :]
    weights = np.exp(-0.5 * (offsets / sigma) ** 2)
    return weights / (sigma * np.sqrt(2 * np.pi))


def draw_shape(shape, cx, cy, radius, height, width, sigma):
    """Coverage (0..1) of a shape on a height x width grid (pixel units), blurred by sigma."""
    step = 1.0 / SUPERSAMPLE
    xs = (np.arange(width * SUPERSAMPLE) + 0.5) * step - cx
    ys = (np.arange(height * SUPERSAMPLE) + 0.5) * step - cy
    inside = scenes._inside(shape, xs[None, :], ys[:, None], radius)
    coverage = inside.reshape(height, SUPERSAMPLE, width, SUPERSAMPLE).mean(axis=(1, 3))
    if sigma > 0:
        coverage = _blur_matrix(height, sigma) @ coverage @ _blur_matrix(width, sigma).T
    return coverage


def fit_shape(coverage):
    """Best (shape, IoU, cx, cy, radius) for a coverage patch, positions in patch pixels.

    Every shape is drawn with the patch's area and centroid (the triangle's centroid sits a third
    of its radius below its box centre), under each candidate blur, and scored by soft IoU."""
    height, width = coverage.shape
    area = coverage.sum()
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    mean_x, mean_y = (coverage * xs).sum() / area, (coverage * ys).sum() / area
    best = ("unknown", 0.0, mean_x, mean_y, np.sqrt(area) / 2)
    for shape in scenes.SHAPES:
        radius = np.sqrt(area) / AREA_FACTOR[shape]
        centre_y = mean_y - radius / 3 if shape == "triangle" else mean_y
        for sigma in BLUR_SIGMAS:
            drawn = draw_shape(shape, mean_x, centre_y, radius, height, width, sigma)
            iou = np.minimum(coverage, drawn).sum() / np.maximum(coverage, drawn).sum()
            if iou > best[1]:
                best = (shape, float(iou), mean_x, centre_y, radius)
    return best


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


def _coverage_patch(distance, labels, label, floor, peak):
    """Coverage estimate around one component, other components' pixels zeroed: (patch, y0, x0)."""
    height, width = labels.shape
    ys, xs = np.nonzero(labels == label)
    y0, y1 = max(0, ys.min() - COVERAGE_PAD), min(height, ys.max() + 1 + COVERAGE_PAD)
    x0, x1 = max(0, xs.min() - COVERAGE_PAD), min(width, xs.max() + 1 + COVERAGE_PAD)
    raw = (distance[y0:y1, x0:x1] - floor) / max(peak - floor, 1e-6)
    # Readings within COVERAGE_SNAP of 0 or 1 are noise and compression ringing, not coverage:
    # snap them (symmetrically, so a blurred edge keeps its half-way point and the area holds).
    patch = np.clip((raw - COVERAGE_SNAP) / (1.0 - 2 * COVERAGE_SNAP), 0.0, 1.0)
    nearby = labels[y0:y1, x0:x1]
    patch[(nearby != 0) & (nearby != label)] = 0.0
    return patch, y0, x0


def describe_component(image, distance, labels, label, threshold, floor):
    """One detection dict for component `label` (rules 4-7)."""
    height, width = labels.shape
    ys, xs = np.nonzero(labels == label)
    strength = distance[ys, xs]
    peak = np.percentile(strength, 95)
    core = strength > max(threshold, HALF_MAXIMUM * peak)  # the half-maximum outline
    ys, xs = ys[core], xs[core]
    area = len(strength) / (height * width)
    patch, y0, x0 = _coverage_patch(distance, labels, label, floor, peak)
    shape, iou, cx, cy, radius = fit_shape(patch)
    cx, cy, radius = (x0 + cx) / width, (y0 + cy) / height, radius / width
    if iou < MIN_SHAPE_IOU or area > MAX_OBJECT_AREA:
        shape = "unknown"
        cx = (xs.min() + xs.max() + 1) / 2 / width
        cy = (ys.min() + ys.max() + 1) / 2 / height
        radius = max(xs.max() + 1 - xs.min(), ys.max() + 1 - ys.min()) / 2 / width
    colour, hue, saturation = classify_colour(image[ys, xs])
    return {
        "shape": shape, "colour": colour,
        "size": "small" if radius < scenes.SIZE_BOUNDARY else "large",
        "cx": float(cx), "cy": float(cy), "radius": float(radius), "area": float(area),
        "iou": round(iou, 3), "hue": round(hue, 1), "saturation": round(saturation, 3),
    }


def detect(image):
    """Objects in a uint8 HxWx3 image (see the module docstring for the rules), largest first."""
    image = np.asarray(image)[:, :, :3]
    height, width = image.shape[:2]
    contrast = contrast_map(image)
    if contrast is None:
        return []
    distance, threshold = contrast
    labels, count = label_components(distance > threshold)
    areas = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    keep = [k for k in np.argsort(-areas) if areas[k] >= MIN_AREA * height * width][:MAX_COMPONENTS]
    floor = float(np.median(distance[labels == 0]))  # the background's own contrast (noise)
    return [describe_component(image, distance, labels, k + 1, threshold, floor) for k in keep]


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
