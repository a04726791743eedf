#!/usr/bin/python3
"""Prompt-adherence benchmark of the C++ engine on the shapes world's held-out prompts.

held-out captions -> `infinode generate` -> plain image analysis (detect.py, score.py) ->
accuracy per prompt kind, per check and overall, and the time per image.

Usage (Debian's /usr/bin/python3 with numpy; torch only for --compare-torch):

    tools/shapes_eval/bench.py                              # 200 prompts, models/default
    tools/shapes_eval/bench.py --count 10 --threads 1 --min-accuracy 0.6   # the ctest floor
    tools/shapes_eval/bench.py --model DIR --out runs/bench --compare-torch
    tools/shapes_eval/bench.py --random-weights tiny --negative "" --count 10   # a random model
    tools/shapes_eval/bench.py --shuffle-transformer 1 --count 10         # trained VAE/T5, scrambled transformer

Prompts: the first --count of the fixed held-out list (scenes.make_eval_prompts, seed 2024,
kinds in turn: single, position, count, two_objects, relation), or of --prompts FILE (the JSON of
`scenes.py eval-prompts`). The model only sees each prompt's canonical caption.

Generation: prompts go to `infinode generate` --per-call at a time (one process per call, so model
loading is paid once per call). Seeds: call c (prompts c*K .. c*K+K-1, K = --per-call) runs with
`--seed S+c` (S = --seed), and the engine keys image j of a call by (seed, j) in its Philox
stream; so prompt i is drawn with seed S + i // K at image index i % K. The same
(--seed, --per-call) gives the same images on any thread count (docs/nodes.md, `seed`).

Scoring: eval_images.evaluate (rules in score.py). The detector is validated at 128x128 and at
64x64 (check_detector.py --size 64; the default model draws 64x64); outputs of another square
size are area-averaged (integer factor) or point-sampled to 128x128 and the run is flagged
("resized" in the summary, a warning on stdout). Non-square outputs fail their prompt.

Timing: the wall time of the generate calls divided by the images (process start and model
loading included, amortised over --per-call images), the CLI's own total and per-scale sampler
times from its progress lines, and (--latency-runs R) the wall time of R one-prompt calls: the
time for one image as a user would see it.

--compare-torch: the same prompts, seeds and sampling settings through the PyTorch code of
tools/train (its sampler draws from the engine's Philox stream), fed the schedule the engine
wrote with --tokens. Reports the fraction of identical bits per scale, images whose bits all
agree, the pixel difference, and the PyTorch images' accuracy. Bits can split where a
probability lies within float noise of its uniform; every later scale then differs.

Output: OUT/images/NNNN.png (what was scored; OUT/raw/ keeps resized originals), OUT/summary.json
(settings, timing, accuracy, every prompt's verdict and detections), OUT/torch_images/ with
--compare-torch. OUT defaults to a new temporary folder. make_gallery.py draws a grid from it.

Exit status: 0; 1 when overall accuracy < --min-accuracy; 2 when the pipeline is broken (no
engine, no model, a failed generate call, no image scored); 77 with --skip-missing-model when
the model folder does not exist (ctest's skip code).
"""
import argparse
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(REPO, "tools", "shapes"))
import scenes  # noqa: E402
from detect import read_image  # noqa: E402
from eval_images import evaluate  # noqa: E402
from pngio import write_png  # noqa: E402
from score import format_summary  # noqa: E402

DETECTOR_SIDE = 128  # outputs of other sizes are resized to this
VALIDATED_SIDES = (64, 128)  # the sizes check_detector.py validated the detector at: scored as they are
DEFAULT_PROMPTS = 200
EVAL_SEED = 2024
EXIT_BELOW_FLOOR, EXIT_BROKEN, EXIT_SKIP = 1, 2, 77
# sampler.generate's own defaults (docs/nodes.md), used when a model's manifest names none.
NODE_SAMPLING_DEFAULTS = {"cfg": 3.0, "tau": 0.5, "top_k": 0, "top_p": 0.97}
# "sample   3/5   [####---]    0.01 s  (total 0.01 s)": the engine's progress line for one step
# (a scale for the sampler, a prompt for the text encoder), one line per step when not a terminal.
PROGRESS_LINE = re.compile(r"^(\w+)\s+(\d+)/(\d+)\s+\[[#-]*\]\s+([0-9.]+) s")
TOTAL_LINE = re.compile(r"^infinode generate: (\d+) images? \((.*)\) in ([0-9.]+) s")


class BenchError(Exception):
    """The pipeline is broken (exit 2), as opposed to a model that draws badly."""


# ---- prompts and generation ------------------------------------------------------------------

def load_prompts(path, count):
    """The first `count` benchmark prompts: entries {index, kind, caption, spec}."""
    if path:
        prompts = scenes.load_eval_prompts(path)
    else:
        prompts = scenes.make_eval_prompts(count=max(count or DEFAULT_PROMPTS, DEFAULT_PROMPTS), seed=EVAL_SEED)
    prompts = prompts[:count] if count else prompts
    # eval_images names image i after entry["index"]: re-number so files follow the list order.
    return [{**entry, "index": position} for position, entry in enumerate(prompts)]


def engine_arguments(args):
    """Model and sampling flags shared by every generate call."""
    flags = []
    if args.random_weights:
        flags += ["--random-weights", args.random_weights]
    else:
        flags += ["--model", args.model]
    if args.transformer:
        flags += ["--transformer", args.transformer]
    for name in ("cfg", "tau", "top_k", "top_p", "negative"):
        value = getattr(args, name)
        if value is not None:
            flags += ["--" + name.replace("_", "-"), str(value)]
    return flags


def run_generate(args, captions, out_stem, seed, tokens_path=None):
    """One `infinode generate` call -> {paths, wall_s, cli_s, scale_s, stage_s, schedule}."""
    command = [args.infinode, "generate", "-o", out_stem + ".png", "--seed", str(seed)] + engine_arguments(args)
    if tokens_path:
        command += ["--tokens", tokens_path]
    command += ["--"] + list(captions)  # "--": a caption is never taken for an option
    env = dict(os.environ)
    if args.threads:
        env["INFINODE_THREADS"] = str(args.threads)
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise BenchError(f"infinode generate failed (exit {done.returncode}): {last}")
    paths = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    if len(paths) != len(captions):
        raise BenchError(f"infinode generate wrote {len(paths)} images for {len(captions)} prompts")
    scale_s, stage_s, cli_s, schedule = {}, {}, None, None
    for line in done.stderr.splitlines():
        line = line.strip()
        progress = PROGRESS_LINE.match(line)
        if progress:
            stage, step, seconds = progress.group(1), int(progress.group(2)), float(progress.group(4))
            stage_s[stage] = stage_s.get(stage, 0.0) + seconds
            if stage == "sample":
                scale_s[step - 1] = seconds
        total = TOTAL_LINE.match(line)
        if total:
            schedule, cli_s = total.group(2), float(total.group(3))
    return {"paths": paths, "wall_s": wall, "cli_s": cli_s, "schedule": schedule, "stage_s": stage_s,
            "scale_s": [scale_s[k] for k in sorted(scale_s)]}


def calls_for(prompts, per_call, base_seed):
    """[(seed, prompt entries)]: call c holds prompts c*K.. and uses seed base + c."""
    return [(base_seed + c, prompts[start:start + per_call])
            for c, start in enumerate(range(0, len(prompts), per_call))]


# ---- images as the detector wants them ---------------------------------------------------------

def to_detector_size(image):
    """uint8 HxWx3 -> (the image at a validated side, how it was changed or None). Raises ValueError if not square."""
    height, width = image.shape[:2]
    if height != width:
        raise ValueError(f"{width}x{height} is not square; the benchmark scores square images")
    if height in VALIDATED_SIDES:
        return image, None
    if height % DETECTOR_SIDE == 0:  # area average over factor x factor blocks
        factor = height // DETECTOR_SIDE
        blocks = image.reshape(DETECTOR_SIDE, factor, DETECTOR_SIDE, factor, 3).astype(np.float64)
        return np.rint(blocks.mean(axis=(1, 3))).astype(np.uint8), f"area {height}->{DETECTOR_SIDE}"
    centres = ((np.arange(DETECTOR_SIDE) + 0.5) * height / DETECTOR_SIDE).astype(np.int64)
    return image[centres][:, centres], f"point-sampled {height}->{DETECTOR_SIDE}"


def collect_image(source, index, folders):
    """Moves a generated image to images/NNNN.png at the detector's size. Returns
    (original side as "WxH", resize note or None, error or None)."""
    name = f"{index:04d}.png"
    try:
        image = read_image(source)
    except (OSError, ValueError) as exc:
        return None, None, f"{type(exc).__name__}: {exc}"
    size = f"{image.shape[1]}x{image.shape[0]}"
    try:
        scored, note = to_detector_size(image)
    except ValueError as exc:
        os.replace(source, os.path.join(folders["raw"], name))
        return size, None, str(exc)
    if note is None:
        os.replace(source, os.path.join(folders["images"], name))
    else:
        os.replace(source, os.path.join(folders["raw"], name))
        write_png(os.path.join(folders["images"], name), scored)
    return size, note, None


def png_text(path):
    """The tEXt / zTXt / iTXt entries of a PNG (the engine writes its settings there)."""
    entries = {}
    with open(path, "rb") as handle:
        data = handle.read()
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset:offset + 8])
        body = data[offset + 8:offset + 8 + length]
        offset += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            entries[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, value = body.partition(b"\0")
            entries[key.decode("latin-1")] = zlib.decompress(value[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, rest = rest[0], rest[2:]
            _, _, rest = rest.partition(b"\0")  # language tag
            _, _, value = rest.partition(b"\0")  # translated keyword
            entries[key.decode("latin-1")] = (zlib.decompress(value) if compressed else value).decode("utf-8")
        elif kind == b"IEND":
            break
    return entries


RUN_SETTINGS = ("cfg", "tau", "top_k", "top_p", "negative_prompt", "model", "model_origin", "device",
                "width", "height", "version")


def generation_settings(path):
    """The engine's resolved settings common to a run's images (cfg, tau, top_k, top_p, model, ...)
    from one image's metadata, or {}. null means the sampler node's own default."""
    try:
        written = json.loads(png_text(path).get("infinode:generation", "{}"))
    except (OSError, ValueError):
        return {}
    return {key: written[key] for key in RUN_SETTINGS if key in written}


# ---- a control model: the trained transformer with its weights scrambled ----------------------

def shuffled_transformer(source, target, seed):
    """Writes `source` (safetensors) with every float tensor's elements randomly permuted: the same
    shapes and value distribution per tensor, no learned structure. The VAE and T5 stay trained,
    so the pictures still look like the world's; only adherence to the prompt is lost."""
    with open(source, "rb") as handle:
        header_size = struct.unpack("<Q", handle.read(8))[0]
        header_bytes = handle.read(header_size)  # written back verbatim: offsets stay valid
        payload = bytearray(handle.read())
    header = json.loads(header_bytes)
    rng = np.random.default_rng(seed)
    for name, entry in sorted(header.items()):
        if name == "__metadata__" or entry["dtype"] not in ("F32", "F16", "BF16"):
            continue
        first, end = entry["data_offsets"]
        width = 4 if entry["dtype"] == "F32" else 2
        values = np.frombuffer(bytes(payload[first:end]), dtype=np.uint32 if width == 4 else np.uint16)
        payload[first:end] = rng.permutation(values).tobytes()
    with open(target, "wb") as handle:
        handle.write(struct.pack("<Q", header_size) + header_bytes)
        handle.write(payload)


def model_transformer_path(model_dir):
    """The transformer file a model folder names (model.json), else its default file name."""
    manifest = os.path.join(model_dir, "model.json")
    if os.path.exists(manifest):
        with open(manifest) as handle:
            part = json.load(handle).get("transformer")
        if isinstance(part, dict):
            part = part.get("path")
        if not isinstance(part, str):
            raise BenchError(f"{manifest}: \"transformer\" is not a file, nothing to shuffle")
        return part if os.path.isabs(part) else os.path.join(model_dir, part)
    return os.path.join(model_dir, "transformer.safetensors")


# ---- the PyTorch comparison ------------------------------------------------------------------

def torch_model_parts(model_dir):
    """{transformer, vae, t5, spiece} file paths of a model folder, as the engine resolves them."""
    defaults = {"transformer": "transformer.safetensors", "vae": "vae.safetensors",
                "t5": "t5_encoder.safetensors", "spiece": "spiece.model"}
    manifest = os.path.join(model_dir, "model.json")
    named = {}
    if os.path.exists(manifest):
        with open(manifest) as handle:
            named = json.load(handle)
    parts = {}
    for key, default in defaults.items():
        part = named.get(key, default)
        if isinstance(part, dict):
            part = part.get("path")
        if not isinstance(part, str):
            raise BenchError(f"--compare-torch needs weight files; the model's {key} is {named.get(key)!r}")
        parts[key] = part if os.path.isabs(part) else os.path.join(model_dir, part)
        if not os.path.exists(parts[key]):
            raise BenchError(f"--compare-torch: {parts[key]} does not exist")
    return parts


class TorchSampler:
    """The PyTorch twin of `infinode generate` (tools/train), on CPU."""

    def __init__(self, model_dir, threads):
        sys.path.insert(0, os.path.join(REPO, "tools", "train"))
        try:
            import torch
            import data
            import export
            import infinity_model
        except ImportError as exc:
            raise BenchError(f"--compare-torch needs torch and sentencepiece: {exc}")
        torch.set_num_threads(threads or 1)
        self.torch, self.data, self.infinity_model = torch, data, infinity_model
        parts = torch_model_parts(model_dir)
        self.transformer = export.load_infinity(parts["transformer"])
        self.vae = export.load_vae(parts["vae"])
        self.t5 = export.load_t5(parts["t5"])
        self.tokenizer = data.Tokenizer(parts["spiece"])
        self.read_safetensors = export.read_safetensors

    def engine_tokens(self, path):
        """The engine's bits per scale [B, n_k, d] (uint8 numpy) and its schedule."""
        tensors, meta = self.read_safetensors(path)
        scales = sorted(int(name[len("bits.s"):]) for name in tensors if name.startswith("bits.s"))
        bits = [tensors[f"bits.s{k}"].numpy() for k in scales]
        grids = [tuple(g) for g in json.loads(meta["schedule"])]
        schedule = self.infinity_model.Schedule(grids, tuple(json.loads(meta["rope_grid"])))
        return bits, schedule, int(meta.get("spatial_patch", "1"))

    def generate(self, captions, schedule, seed, settings):
        """(bits per scale [B, n_k, d] uint8 numpy, images uint8 [B, H, W, 3])."""
        with self.torch.no_grad():
            ids, lens = self.tokenizer.batch(list(captions))
            text = self.t5(ids, lens)  # [B, Lt, Ct5]
            negative = None
            if settings.get("negative_prompt") is not None:  # the engine's one negative, for every image
                neg_ids, neg_lens = self.tokenizer.batch([settings["negative_prompt"]] * len(captions))
                negative = (self.t5(neg_ids, neg_lens), neg_lens)  # [B, Ln, Ct5], [B]
            bits, summed = self.transformer.generate(
                text, lens, schedule, cfg=settings["cfg"], tau=settings["tau"], top_k=settings["top_k"],
                top_p=settings["top_p"], seed=seed, first_image=0, negative=negative)
            images = self.data.to_uint8(self.vae.decode(summed))  # [B, H, W, 3]
        return [b.numpy() for b in bits], images


def compare_with_torch(args, calls, call_records, folders, prompts, engine_records):
    """Runs the PyTorch sampler on every call's prompts; returns the comparison summary."""
    sampler = TorchSampler(args.model, args.threads)
    os.makedirs(folders["torch"])
    per_scale_same, per_scale_total = [], []
    images_same_bits, pixel_diffs, images_compared = 0, [], 0
    start = time.perf_counter()
    for (seed, entries), record in zip(calls, call_records):
        engine_bits, schedule, patch = sampler.engine_tokens(record["tokens"])
        if patch != 1:
            raise BenchError(f"--compare-torch supports spatial patch 1 only (the model has {patch})")
        # null in the engine's metadata: neither flag nor manifest set it, so the node's default ran.
        settings = {**record["settings"]}
        for key, value in NODE_SAMPLING_DEFAULTS.items():
            if settings.get(key) is None:
                settings[key] = value
        torch_bits, images = sampler.generate([e["caption"] for e in entries], schedule, seed, settings)
        for k, (ours, theirs) in enumerate(zip(torch_bits, engine_bits)):
            if len(per_scale_same) <= k:
                per_scale_same.append(0)
                per_scale_total.append(0)
            per_scale_same[k] += int((ours == theirs).sum())
            per_scale_total[k] += ours.size
        for b, entry in enumerate(entries):
            name = f"{entry['index']:04d}.png"
            write_png(os.path.join(folders["torch"], name), images[b])
            images_same_bits += all(np.array_equal(t[b], e[b]) for t, e in zip(torch_bits, engine_bits))
            engine_path = os.path.join(folders["images"], name)
            if os.path.exists(engine_path):
                engine_image = read_image(engine_path)
                if engine_image.shape == images[b].shape:
                    pixel_diffs.append(np.abs(engine_image.astype(np.int16) - images[b].astype(np.int16)))
                    images_compared += 1
    torch_wall = time.perf_counter() - start
    summary, records, found = evaluate(prompts, folders["torch"])
    diffs = np.stack(pixel_diffs) if pixel_diffs else None
    return {
        "bit_agreement_per_scale": [s / t for s, t in zip(per_scale_same, per_scale_total)],
        "bit_agreement": sum(per_scale_same) / max(1, sum(per_scale_total)),
        "images_with_identical_bits": images_same_bits,
        "images": len(prompts),
        "pixel_mean_abs_diff": float(diffs.mean()) if diffs is not None else None,
        "pixel_max_abs_diff": int(diffs.max()) if diffs is not None else None,
        "pixels_within_2_levels": float((diffs <= 2).mean()) if diffs is not None else None,
        "images_pixel_compared": images_compared,
        "torch_seconds_per_image": torch_wall / max(1, len(prompts)),
        "summary": summary, "found": found,
        "verdicts_agree": sum(r["passed"] == e["passed"] for r, e in zip(records, engine_records)),
        "check_accuracy": check_accuracy(records),
        "results": records,
    }


# ---- the benchmark ---------------------------------------------------------------------------

def latency(args, caption, folder):
    """Wall seconds of --latency-runs one-prompt calls (one image, as a user would time it)."""
    walls, cli = [], []
    for run in range(args.latency_runs):
        timed = run_generate(args, [caption], os.path.join(folder, f"latency_{run}"), args.seed)
        walls.append(timed["wall_s"])
        if timed["cli_s"] is not None:
            cli.append(timed["cli_s"])
        for path in timed["paths"]:
            os.remove(path)
    return {"runs": len(walls), "wall_s_min": min(walls), "wall_s_median": float(np.median(walls)),
            "cli_s_min": min(cli) if cli else None}


def check_setup(args):
    if not os.path.isfile(args.infinode) or not os.access(args.infinode, os.X_OK):
        raise BenchError(f"no engine at {args.infinode}: build it (cmake --build build --target infinode) "
                         "or pass --infinode PATH")
    if args.random_weights:
        if args.compare_torch or args.shuffle_transformer is not None:
            raise BenchError("--random-weights does not combine with --compare-torch or --shuffle-transformer")
        return
    if not os.path.isdir(args.model):
        raise BenchError(f"no model folder {args.model} (pass --model DIR, or --random-weights NAME)")
    if args.compare_torch and (args.shuffle_transformer is not None or args.transformer):
        raise BenchError("--compare-torch compares the model folder's own files; drop --transformer / "
                         "--shuffle-transformer")


def make_folders(out):
    folders = {"out": out, "images": os.path.join(out, "images"), "raw": os.path.join(out, "raw"),
               "work": os.path.join(out, "work"), "torch": os.path.join(out, "torch_images")}
    for key in ("images", "raw", "work", "torch"):
        shutil.rmtree(folders[key], ignore_errors=True)  # a rerun into OUT must not score stale files
    for key in ("images", "raw", "work"):
        os.makedirs(folders[key])
    return folders


def run_benchmark(args):
    prompts = load_prompts(args.prompts, args.count)
    out = args.out or tempfile.mkdtemp(prefix="shapes_bench_")
    folders = make_folders(out)
    if args.shuffle_transformer is not None:
        args.transformer = os.path.join(folders["work"], "transformer_shuffled.safetensors")
        shuffled_transformer(model_transformer_path(args.model), args.transformer, args.shuffle_transformer)

    calls = calls_for(prompts, args.per_call, args.seed)
    call_records, sizes, resized, errors = [], {}, [], {}
    for number, (seed, entries) in enumerate(calls):
        tokens = os.path.join(folders["work"], f"tokens_{number:03d}.safetensors") if args.compare_torch else None
        stem = os.path.join(folders["work"], f"call_{number:03d}")
        record = run_generate(args, [e["caption"] for e in entries], stem, seed, tokens)
        record.update(seed=seed, images=len(entries), tokens=tokens, settings=generation_settings(record["paths"][0]))
        for entry, path in zip(entries, record["paths"]):
            size, note, error = collect_image(path, entry["index"], folders)
            sizes[size] = sizes.get(size, 0) + 1
            if note:
                resized.append(note)
            if error:
                errors[entry["index"]] = error
        call_records.append(record)
        if not args.quiet:
            print(f"  call {number + 1}/{len(calls)}: {len(entries)} images, seed {seed}, "
                  f"{record['wall_s']:.2f} s wall", flush=True)

    summary, records, found = evaluate(prompts, folders["images"])
    for record in records:
        if record["index"] in errors:
            record["error"] = errors[record["index"]]
    if found == 0:
        raise BenchError(f"no image could be scored in {folders['images']}")

    images = sum(r["images"] for r in call_records)
    wall = sum(r["wall_s"] for r in call_records)
    cli_times = [r["cli_s"] for r in call_records if r["cli_s"] is not None]
    scale_sums = [sum(s) for s in zip(*[r["scale_s"] for r in call_records])] if call_records else []
    stage_sums = {}
    for record in call_records:
        for stage, seconds in record["stage_s"].items():
            stage_sums[stage] = stage_sums.get(stage, 0.0) + seconds
    cli_total = sum(cli_times) if len(cli_times) == len(call_records) else None
    timing = {
        "images": images, "calls": len(call_records), "generate_wall_s": wall,
        "wall_s_per_image": wall / images,
        "cli_s_per_image": cli_total / images if cli_total is not None else None,
        "stage_s_per_image": {stage: seconds / images for stage, seconds in stage_sums.items()},
        # The CLI's clock minus its reported stages: model loading, VAE decoding, PNG writing.
        "unreported_s_per_image": (cli_total - sum(stage_sums.values())) / images if cli_total is not None else None,
        "sampler_s_per_image_per_scale": [s / images for s in scale_sums],
        "threads": args.threads or "engine default (all cores)",
    }
    if args.latency_runs > 0:
        timing["one_image_latency"] = latency(args, prompts[0]["caption"], folders["work"])

    result = {
        "benchmark": "shapes held-out prompt adherence (tools/shapes_eval/bench.py)",
        "engine": os.path.abspath(args.infinode),
        "model": f"random {args.random_weights}" if args.random_weights else os.path.abspath(args.model),
        "transformer_override": args.transformer,
        "shuffle_transformer_seed": args.shuffle_transformer,
        "prompts": os.path.abspath(args.prompts) if args.prompts else f"scenes.make_eval_prompts(seed={EVAL_SEED})",
        "count": len(prompts),
        "seeds": {"base": args.seed, "per_call": args.per_call,
                  "rule": "prompt i: --seed base + i // per_call, image index i % per_call"},
        "settings": call_records[0]["settings"] if call_records else {},
        "schedule": call_records[0]["schedule"] if call_records else None,
        "image_sizes": sizes,
        "resized": sorted(set(resized)),
        "images_dir": os.path.abspath(folders["images"]),
        "found": found,
        "timing": timing,
        "summary": summary,
        "check_accuracy": check_accuracy(records),
        "min_accuracy": args.min_accuracy,
        "min_check_accuracy": args.min_check_accuracy,
        "results": records,
    }
    if args.compare_torch:
        result["torch"] = compare_with_torch(args, calls, call_records, folders, prompts, records)
    shutil.rmtree(folders["work"], ignore_errors=True)
    if not resized:
        shutil.rmtree(folders["raw"], ignore_errors=True)
    with open(os.path.join(out, "summary.json"), "w") as handle:
        json.dump(result, handle, indent=1)
    return result, out


def check_accuracy(records):
    """Passed checks over asked checks, pooled over the prompts: partial credit for a picture that
    gets the colour right and the shape wrong (0 when nothing was scored)."""
    verdicts = [ok for record in records for ok in record["checks"].values()]
    return sum(verdicts) / len(verdicts) if verdicts else 0.0


def print_report(result, out, show):
    timing, settings = result["timing"], result["settings"]
    print(format_summary(result["summary"], f"{result['model']}: {result['found']}/{result['count']} images scored"))
    print(f"  checks passed    {100 * result['check_accuracy']:5.1f}%  (every asked check of every prompt)")
    if result["resized"]:
        print(f"WARNING: the engine's outputs are {', '.join(result['image_sizes'])}, not "
              f"{DETECTOR_SIDE}x{DETECTOR_SIDE}: scored after {', '.join(result['resized'])}")
    shown = {k: "node default" if settings.get(k) is None else settings[k] for k in ("cfg", "tau", "top_k", "top_p")}
    print(f"sampling: cfg {shown['cfg']}, tau {shown['tau']}, top_k {shown['top_k']}, top_p {shown['top_p']}; "
          f"schedule {result['schedule']}; seeds {result['seeds']['rule']} "
          f"(base {result['seeds']['base']}, per_call {result['seeds']['per_call']})")
    line = (f"time: {timing['wall_s_per_image']:.3f} s/image wall ({timing['images']} images in "
            f"{timing['calls']} call{'s' if timing['calls'] != 1 else ''}, {timing['generate_wall_s']:.2f} s; "
            f"threads {timing['threads']})")
    if timing["cli_s_per_image"] is not None:
        line += f", {timing['cli_s_per_image']:.3f} s/image by the CLI's own clock"
    print(line)
    if timing["stage_s_per_image"]:
        stages = ", ".join(f"{stage} {seconds:.3f}" for stage, seconds in timing["stage_s_per_image"].items())
        rest = timing["unreported_s_per_image"]
        print(f"  s/image by stage: {stages}" + (f", load+decode+write {rest:.3f}" if rest is not None else ""))
    if timing["sampler_s_per_image_per_scale"]:
        print("  sampler s/image per scale: " + " ".join(f"{s:.4f}" for s in timing["sampler_s_per_image_per_scale"]))
    if "one_image_latency" in timing:
        lat = timing["one_image_latency"]
        print(f"  one image, one call: {lat['wall_s_median']:.3f} s wall median of {lat['runs']} "
              f"(min {lat['wall_s_min']:.3f} s)")
    if "torch" in result:
        torch_result = result["torch"]
        print(format_summary(torch_result["summary"], "PyTorch sampler (tools/train), same prompts and seeds:"))
        print(f"  bits identical: {100 * torch_result['bit_agreement']:.2f}% (per scale "
              + " ".join(f"{100 * a:.1f}" for a in torch_result["bit_agreement_per_scale"])
              + f"); images with all bits identical {torch_result['images_with_identical_bits']}/"
              f"{torch_result['images']}; verdicts agree {torch_result['verdicts_agree']}/{torch_result['images']}")
        if torch_result["pixel_mean_abs_diff"] is not None:
            print(f"  pixels: mean |diff| {torch_result['pixel_mean_abs_diff']:.4f} levels, max "
                  f"{torch_result['pixel_max_abs_diff']}, {100 * torch_result['pixels_within_2_levels']:.2f}% "
                  f"within 2 levels ({torch_result['images_pixel_compared']} images)")
    for record in [r for r in result["results"] if not r["passed"]][:show]:
        failed = [name for name, ok in record["checks"].items() if not ok]
        seen = "; ".join(f"{d['size']} {d['colour']} {d['shape']} ({d['cx']:.2f},{d['cy']:.2f})"
                         for d in record["detections"]) or record["error"] or "nothing"
        print(f"  {record['file']} {record['caption']!r}: failed {failed}; saw {seen}")
    print(f"wrote {os.path.join(out, 'summary.json')} (images in {result['images_dir']})")


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[2:]))
    parser.add_argument("--model", default=os.path.join(REPO, "models", "default"), help="model folder")
    parser.add_argument("--infinode", default=os.path.join(REPO, "build", "examples", "infinode"),
                        help="the CLI executable")
    parser.add_argument("--random-weights", help="the engine's random pipeline NAME instead of --model (a control)")
    parser.add_argument("--transformer", help="transformer file overriding the model folder's")
    parser.add_argument("--shuffle-transformer", type=int, metavar="SEED",
                        help="control: the model's transformer with each tensor's elements permuted")
    parser.add_argument("--prompts", help="prompt list JSON (scenes.py eval-prompts); default: the fixed list")
    parser.add_argument("--count", type=int, help=f"first N prompts (default all, {DEFAULT_PROMPTS})")
    parser.add_argument("--seed", type=int, default=0, help="base seed (see Seeds above)")
    parser.add_argument("--per-call", type=int, default=20, help="prompts per generate call (default 20)")
    parser.add_argument("--threads", type=int, help="INFINODE_THREADS for the engine (default: all cores)")
    parser.add_argument("--cfg", type=float, help="passed to generate (default: the model's)")
    parser.add_argument("--tau", type=float, help="passed to generate (default: the model's)")
    parser.add_argument("--top-k", dest="top_k", type=int, help="passed to generate")
    parser.add_argument("--top-p", dest="top_p", type=float, help="passed to generate")
    parser.add_argument("--negative", help="negative prompt passed to generate (the random tiny pipeline "
                        "needs one, e.g. \"\": its learned empty prompt covers 32 tokens)")
    parser.add_argument("--out", help="output folder (default: a new temporary folder)")
    parser.add_argument("--min-accuracy", type=float, help="exit 1 when overall accuracy is below this (0..1)")
    parser.add_argument("--min-check-accuracy", type=float,
                        help="exit 1 when the fraction of passed checks (every asked check of every prompt: "
                             "count, colour, shape, size, position, relation; partial credit) is below this (0..1)")
    parser.add_argument("--latency-runs", type=int, default=0, help="also time R one-prompt calls")
    parser.add_argument("--compare-torch", action="store_true", help="also sample with tools/train's PyTorch code")
    parser.add_argument("--skip-missing-model", action="store_true", help="exit 77 when the model folder is absent")
    parser.add_argument("--show", type=int, default=0, help="print N failed prompts")
    parser.add_argument("-q", "--quiet", action="store_true", help="no per-call lines")
    args = parser.parse_args(argv)
    if args.count is not None and args.count < 1:
        parser.error("--count must be at least 1")
    if args.per_call < 1 or args.per_call > 64:
        parser.error("--per-call must be in 1..64")
    for name in ("min_accuracy", "min_check_accuracy"):
        value = getattr(args, name)
        if value is not None and not 0.0 <= value <= 1.0:
            parser.error(f"--{name.replace('_', '-')} is a fraction in 0..1")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be at least 1")
    return args


def main(argv=None):
    args = parse_args(argv)
    if args.skip_missing_model and not args.random_weights and not os.path.isdir(args.model):
        print(f"skipped: no model folder {args.model}")
        return EXIT_SKIP
    try:
        check_setup(args)
        result, out = run_benchmark(args)
    except BenchError as exc:
        print(f"bench.py: error: {exc}", file=sys.stderr)
        return EXIT_BROKEN
    print_report(result, out, args.show)
    below = False
    floors = (("overall", result["summary"]["overall"]["accuracy"], args.min_accuracy),
              ("checks passed", result["check_accuracy"], args.min_check_accuracy))
    for name, value, floor in floors:
        if floor is not None:
            verdict = "passes" if value >= floor else "is BELOW"
            print(f"{name} {100 * value:.1f}% {verdict} the floor {100 * floor:.1f}%")
            below = below or value < floor
    return EXIT_BELOW_FLOOR if below else 0


if __name__ == "__main__":
    sys.exit(main())
