"""Tests of the ctypes binding against the real libinfinode (INFINODE_LIBRARY).

Pipelines run on the random tiny model ({"random": "tiny"}) at 0.06M: 256x256 images, 7 scales
of 1x1 .. 16x16 tokens, about a second per generation on a CPU. Run with
    INFINODE_LIBRARY=build/plugin_abi/libinfinode.so.1 PYTHONPATH=hosts/python \\
        python3 -m unittest discover -s hosts/python/tests
"""

import ctypes
import gc
import json
import os
import tempfile
import threading
import unittest

import infinode
from infinode import _abi
from infinode import (
    BitTokens,
    CallbackError,
    CancelledError,
    Channels,
    Engine,
    InfinodeError,
    InvalidArgumentError,
    InvalidHandleError,
    JobState,
    JobTimeoutError,
    NotFoundError,
    ParamType,
    Scalar,
    Status,
    Transfer,
    TypeMismatchError,
    Value,
    ValueType,
    WouldDeadlockError,
)

RANDOM_TINY = {"random": "tiny"}
RESOLUTION = "0.06M"  # 256x256, 7 scales
SCALES = 7
SIDE = 256
NODE_IDS = [
    "org.infinode.text.tokenize",
    "org.infinode.text.encode",
    "org.infinode.sampler.generate",
    "org.infinode.sampler.edit",
    "org.infinode.tokens.truncate",
    "org.infinode.image.encode",
    "org.infinode.image.decode",
]
# Bound on every blocking wait in these tests, so that a bug fails a test instead of hanging it.
PATIENCE_SECONDS = 60

ENGINE = None


def setUpModule():
    global ENGINE
    ENGINE = Engine(manifest=RANDOM_TINY)


def tearDownModule():
    ENGINE.close()


def numpy_or_none():
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def embed(prompt):
    with ENGINE.create_node("org.infinode.text.encode") as encode:
        return encode.run({"text": prompt}, timeout=PATIENCE_SECONDS)["embedding"]


def generate(embedding, seed=7, **callbacks):
    with ENGINE.create_node("org.infinode.sampler.generate", seed=seed, resolution=RESOLUTION) as node:
        return node.run({"positive": embedding}, timeout=PATIENCE_SECONDS, **callbacks)["tokens"]


def decode(tokens):
    with ENGINE.create_node("org.infinode.image.decode") as node:
        return node.run(tokens, timeout=PATIENCE_SECONDS)["image"]


class LibraryTests(unittest.TestCase):
    def test_version(self):
        library = infinode.default_library()
        self.assertRegex(library.version_string, r"^infinode \d+\.\d+\.\d+ \(ABI 1\.0\)$")
        self.assertEqual(library.abi_version, (1, 0))

    def test_only_abi_1_0_is_served(self):
        library = infinode.default_library()
        self.assertTrue(library.serves(1, 0))
        self.assertFalse(library.serves(1, 1))  # a newer minor than the library's
        self.assertFalse(library.serves(2, 0))
        self.assertFalse(library.serves(0, 9))

    def test_ctypes_layouts_match_the_header(self):
        self.assertEqual(_abi.layout_mismatches(), [])
        self.assertEqual(ctypes.sizeof(_abi.Api), 8 + 8 * 57)
        self.assertEqual(infinode.default_library().api.struct_size, ctypes.sizeof(_abi.Api))

    def test_status_names(self):
        library = infinode.default_library()
        for status in Status:
            self.assertEqual(library.status_name(status), "INF_STATUS_" + status.name)

    def test_a_missing_library_is_a_clear_error(self):
        with self.assertRaisesRegex(OSError, "cannot load /nonexistent/libinfinode.so"):
            infinode.Library("/nonexistent/libinfinode.so")


class NodeListingTests(unittest.TestCase):
    def test_builtin_nodes_in_pipeline_order(self):
        self.assertEqual([node.id for node in ENGINE.nodes()], NODE_IDS)

    def test_generate_descriptor(self):
        node = ENGINE.find_node("org.infinode.sampler.generate")
        self.assertTrue(node.reports_progress and node.sends_previews)
        self.assertEqual([(port.id, port.type, port.optional) for port in node.inputs],
                         [("positive", ValueType.TEXT_EMBEDDING, False), ("negative", ValueType.TEXT_EMBEDDING, True)])
        self.assertEqual([(port.id, port.type) for port in node.outputs], [("tokens", ValueType.BIT_TOKENS)])
        seed = node.param("seed")
        self.assertEqual((seed.type, seed.minimum, seed.maximum, seed.default), (ParamType.INT, 0, 2**53, 0))
        resolution = node.param("resolution")
        self.assertEqual(resolution.type, ParamType.ENUM)
        self.assertEqual(resolution.choices, ("auto", "0.06M", "0.25M", "0.60M", "1M"))
        self.assertEqual(resolution.default, "auto")
        cfg = node.param("cfg")
        self.assertEqual((cfg.type, cfg.minimum, cfg.maximum, cfg.default), (ParamType.FLOAT, -1.0, 50.0, -1.0))

    def test_encode_and_tokenize_descriptors(self):
        encode = ENGINE.find_node("org.infinode.text.encode")
        self.assertEqual([(port.id, port.optional) for port in encode.inputs], [("text", True), ("ids", True)])
        split_lines = encode.param("split_lines")
        self.assertEqual((split_lines.type, split_lines.default), (ParamType.BOOL, False))
        spiece = ENGINE.find_node("org.infinode.text.tokenize").param("spiece_model")
        self.assertEqual((spiece.type, spiece.default, spiece.is_path), (ParamType.STRING, "", True))

    def test_every_descriptor_is_usable_by_a_generic_ui(self):
        for node in ENGINE.nodes():
            self.assertRegex(node.id, r"^org\.infinode\.[a-z_.]+$")
            self.assertGreaterEqual(node.version, (1, 0))
            self.assertTrue(node.display_name and node.category and node.description)
            for ports in (node.inputs, node.outputs):
                self.assertEqual(len({port.id for port in ports}), len(ports), node.id)
            self.assertEqual(len({param.id for param in node.params}), len(node.params), node.id)
            for param in node.params:
                if param.type in (ParamType.INT, ParamType.FLOAT):
                    self.assertLessEqual(param.minimum, param.default, param.id)
                    self.assertLessEqual(param.default, param.maximum, param.id)
                if param.type == ParamType.ENUM:
                    self.assertIn(param.default, param.choices, param.id)

    def test_unknown_nodes(self):
        with self.assertRaisesRegex(NotFoundError, "org.example.nothing"):
            ENGINE.find_node("org.example.nothing")
        with self.assertRaises(NotFoundError):
            ENGINE.create_node("org.example.nothing")

    def test_engine_configuration(self):
        self.assertEqual(ENGINE.device, "cpu")
        self.assertEqual(ENGINE.model_dir, "")
        self.assertEqual(json.loads(ENGINE.manifest), RANDOM_TINY)
        with Engine(builtin_nodes=False) as empty:
            self.assertEqual(empty.nodes(), [])
        with self.assertRaisesRegex(InvalidArgumentError, "tpu"):
            Engine(device="tpu")


class DefaultModelTests(unittest.TestCase):
    """Engine() with neither model_dir nor manifest takes the library's default model:
    INFINODE_MODEL_DIR, else the built-in directory. The tests set the variable (the library reads
    it at each engine creation), so they do not depend on whether models/default is installed."""

    def setUp(self):
        self.saved = os.environ.get("INFINODE_MODEL_DIR")

    def tearDown(self):
        if self.saved is None:
            os.environ.pop("INFINODE_MODEL_DIR", None)
        else:
            os.environ["INFINODE_MODEL_DIR"] = self.saved

    def test_the_environment_names_the_default_model(self):
        with tempfile.TemporaryDirectory() as directory:
            with open(os.path.join(directory, "model.json"), "w") as manifest:
                json.dump({"format": "infinode.model", "version": 1, "random": "tiny"}, manifest)
            os.environ["INFINODE_MODEL_DIR"] = directory
            with Engine() as engine:
                self.assertEqual(engine.model_dir, directory)
                with engine.create_node("org.infinode.text.tokenize") as tokenize:
                    with tokenize.run("ab")["ids"] as ids:  # the default model's byte tokenizer
                        self.assertEqual(ids.read_token_ids(), [ord("a") + 3, ord("b") + 3, 1])
            with Engine(model_dir="") as engine:
                self.assertEqual(engine.model_dir, "", 'model_dir="" asks for no model')
            with Engine(manifest=RANDOM_TINY) as engine:
                self.assertEqual(engine.model_dir, "", "a manifest gets no default directory")

    def test_an_empty_variable_means_no_default_model(self):
        os.environ["INFINODE_MODEL_DIR"] = ""
        with Engine() as engine:
            self.assertEqual(engine.model_dir, "")
            with engine.create_node("org.infinode.text.tokenize") as tokenize:
                with self.assertRaisesRegex(InvalidArgumentError, "no model.*INFINODE_MODEL_DIR"):
                    tokenize.run("ab", timeout=PATIENCE_SECONDS)


class ParameterTests(unittest.TestCase):
    def setUp(self):
        self.node = ENGINE.create_node("org.infinode.sampler.generate")

    def tearDown(self):
        self.node.close()

    def test_defaults_come_from_the_descriptor(self):
        self.assertEqual(self.node.params(), {param.id: param.default for param in self.node.descriptor.params})

    def test_set_and_get_every_type(self):
        self.node["seed"] = 2**53
        self.node["cfg"] = 4  # an int is a fine FLOAT
        self.node["resolution"] = "0.25M"
        self.assertEqual((self.node["seed"], self.node["cfg"], self.node["resolution"]), (2**53, 4.0, "0.25M"))
        self.node["resolution"] = 1  # an ENUM by index
        self.assertEqual(self.node["resolution"], "0.06M")
        self.assertIsInstance(self.node["cfg"], float)
        with ENGINE.create_node("org.infinode.text.encode", split_lines=True, spiece_model="/tmp/x.model") as encode:
            self.assertIs(encode["split_lines"], True)
            self.assertEqual(encode["spiece_model"], "/tmp/x.model")
            encode["split_lines"] = 0
            self.assertIs(encode["split_lines"], False)

    def test_out_of_range_is_refused_and_the_value_kept(self):
        self.node["seed"] = 5
        for param_id, bad in [("seed", -1), ("seed", 2**53 + 1), ("cfg", 50.5), ("batch", 0), ("resolution", "9M"),
                              ("resolution", 5), ("seed", 2**64)]:
            with self.assertRaises(InvalidArgumentError, msg=(param_id, bad)):
                self.node[param_id] = bad
        self.assertEqual(self.node["seed"], 5)
        self.assertEqual(self.node["batch"], 1)

    def test_wrong_types(self):
        with self.assertRaisesRegex(TypeMismatchError, "seed .* is INT; got str"):
            self.node["seed"] = "three"
        with self.assertRaises(TypeMismatchError):
            self.node["cfg"] = True
        # The library's own check, past the binding's.
        api = infinode.default_library().api
        self.assertEqual(api.node_set_float(self.node.handle, b"seed", 1.5), Status.TYPE_MISMATCH)
        self.assertEqual(api.node_set_string(self.node.handle, b"cfg", b"x"), Status.TYPE_MISMATCH)

    def test_unknown_parameters(self):
        with self.assertRaisesRegex(NotFoundError, "nope"):
            self.node["nope"] = 1
        with self.assertRaisesRegex(NotFoundError, "nope"):
            self.node["nope"]
        self.assertNotIn("nope", self.node)
        self.assertIn("seed", self.node)


class ValueTests(unittest.TestCase):
    def test_text(self):
        with Value.from_text("a café ☕ under 🚀") as value:
            self.assertEqual(value.type, ValueType.TEXT)
            self.assertEqual(value.read_text(), "a café ☕ under 🚀")
            self.assertEqual(value.to_python(), "a café ☕ under 🚀")

    def test_token_ids(self):
        with Value.from_token_ids([100, 101, 32099, 1]) as value:
            self.assertEqual(value.type, ValueType.TOKEN_IDS)
            self.assertEqual(value.read_token_ids(), [100, 101, 32099, 1])
        for bad in ([-3], [2**31], []):
            with self.assertRaises(InvalidArgumentError, msg=bad):
                Value.from_token_ids(bad)

    def test_text_embedding(self):
        data = [0.25 * k for k in range(5 * 4)]
        with Value.from_text_embedding(data, tokens=5, channels=4, prompt_tokens=(3, 2)) as value:
            embedding = value.read_text_embedding()
        self.assertEqual((embedding.tokens, embedding.channels, embedding.prompts), (5, 4, 2))
        self.assertEqual(list(embedding.data), data)
        self.assertEqual(embedding.prompt_tokens, (3, 2))
        with Value.from_text_embedding(embedding) as copy:
            self.assertEqual(list(copy.read_text_embedding().data), data)
        with self.assertRaisesRegex(InvalidArgumentError, "19 floats given for 5 tokens x 4 channels"):
            Value.from_text_embedding(data[:-1], tokens=5, channels=4)
        with self.assertRaisesRegex(InvalidArgumentError, "sum to 4"):
            Value.from_text_embedding(data, tokens=5, channels=4, prompt_tokens=(3, 1))
        with self.assertRaises(InvalidArgumentError):
            Value.from_text_embedding([float("nan")] * 4, tokens=1, channels=4)

    def bit_tokens(self, stored=2):
        return BitTokens(images=1, bits_per_token=2, grids=((1, 1), (2, 2)), rope_grid=(2, 2),
                         scales=(bytes([1, 0]), bytes([1, 1, 0, 0, 1, 0, 1, 0]))[:stored])

    def test_bit_tokens_and_files(self):
        tokens = self.bit_tokens()
        with Value.from_bit_tokens(tokens) as value:
            self.assertEqual(value.type, ValueType.BIT_TOKENS)
            read = value.read_bit_tokens()
            self.assertEqual((read.grids, read.rope_grid, read.scales), (tokens.grids, tokens.rope_grid, tokens.scales))
            with tempfile.TemporaryDirectory() as directory:
                path = os.path.join(directory, "tokens.safetensors")
                value.save_bit_tokens(path)
                with Value.load_bit_tokens(path) as loaded:
                    self.assertEqual(loaded.read_bit_tokens().scales, tokens.scales)
        with Value.from_bit_tokens(self.bit_tokens(stored=1)) as prefix:
            read = prefix.read_bit_tokens()
            self.assertEqual((read.schedule_scales, read.stored_scales), (2, 1))

    def test_bad_bit_tokens(self):
        good = self.bit_tokens()
        with self.assertRaisesRegex(InvalidArgumentError, "scale 1 holds 7 bytes"):
            Value.from_bit_tokens(BitTokens(1, 2, good.grids, good.rope_grid, (good.scales[0], good.scales[1][:7])))
        with self.assertRaises(InvalidArgumentError):  # bits are 0 or 1
            Value.from_bit_tokens(BitTokens(1, 2, good.grids, good.rope_grid, (bytes([2, 0]),)))
        with self.assertRaises(InvalidArgumentError):  # the first grid must be 1x1
            Value.from_bit_tokens(BitTokens(1, 2, ((2, 2),), (2, 2), (bytes(8),)))
        with tempfile.TemporaryDirectory() as directory:
            with self.assertRaises(InfinodeError):
                Value.load_bit_tokens(os.path.join(directory, "missing.safetensors"))
            garbage = os.path.join(directory, "garbage.safetensors")
            with open(garbage, "wb") as file:
                file.write(b"\x08\x00\x00\x00\x00\x00\x00\x00{nope}!!")
            with self.assertRaises(InfinodeError):
                Value.load_bit_tokens(garbage)

    def test_u8_rgb_round_trip_is_exact(self):
        pixels = bytes(range(3 * 2 * 3))  # 3x2 RGB
        with Value.from_image(pixels, 3, 2) as value:
            self.assertEqual(value.type, ValueType.IMAGE)
            self.assertEqual(value.read_image(Channels.RGB).data, pixels)
            info = value.image_info()
            self.assertEqual((info.width, info.height), (3, 2))

    def test_gray_u16_reads_back_as_replicated_rgb(self):
        samples = [0, 65535, 257 * 128, 257 * 7]
        pixels = b"".join(sample.to_bytes(2, "little" if _little_endian() else "big") for sample in samples)
        with Value.from_image(pixels, 2, 2, channels=Channels.GRAY, scalar=Scalar.U16) as value:
            image = value.read_image(Channels.RGB, Scalar.U8)
        self.assertEqual([image.pixel(x, y) for y in range(2) for x in range(2)],
                         [(0, 0, 0), (255, 255, 255), (128, 128, 128), (7, 7, 7)])

    def test_strides(self):
        top_down = bytes(range(2 * 3 * 3))  # 2x3 RGB, tight
        bottom_up = top_down[12:18] + top_down[6:12] + top_down[0:6]
        with Value.from_image(bytearray(bottom_up), 2, 3, row_stride=-6) as value:
            self.assertEqual(value.read_image().data, top_down)
        padded = b"".join(top_down[row * 6:(row + 1) * 6] + b"\xee\xee" for row in range(3))
        with Value.from_image(padded, 2, 3, row_stride=8) as value:
            self.assertEqual(value.read_image().data, top_down)

    def test_transfer_and_float_conversions(self):
        with Value.from_image(bytes([188, 188, 188]), 1, 1) as value:  # sRGB 188/255 = 0.737
            linear = value.read_image(Channels.RGB, Scalar.F32, Transfer.LINEAR).pixel(0, 0)
            rgba = value.read_image(Channels.RGBA, Scalar.F32).pixel(0, 0)
        # sRGB decoding: ((0.737 + 0.055) / 1.055) ** 2.4 = 0.5029; relative tolerance 1e-3.
        for channel in linear:
            self.assertAlmostEqual(channel / 0.50289, 1.0, delta=1e-3)
        self.assertAlmostEqual(rgba[3], 1.0)  # missing alpha is 1

    def test_mask(self):
        with Value.from_mask(bytes([0, 255, 255, 0]), 2, 2) as mask:
            self.assertEqual(mask.type, ValueType.MASK)
            self.assertEqual(mask.read_image(Channels.GRAY).data, bytes([0, 255, 255, 0]))

    @unittest.skipUnless(numpy_or_none(), "numpy is not installed")
    def test_numpy_images(self):
        numpy = numpy_or_none()
        array = (numpy.arange(4 * 5 * 3, dtype=numpy.float32) / 60.0).reshape(4, 5, 3)
        with Value.from_image(array) as value:
            back = value.read_image(Channels.RGB, Scalar.F32).to_numpy()
        self.assertTrue(numpy.allclose(back, array, rtol=0, atol=1e-6))


class BadInputTests(unittest.TestCase):
    def test_null_and_forged_handles(self):
        api = infinode.default_library().api
        out = _abi.handle()
        self.assertEqual(api.value_release(None), Status.INVALID_ARGUMENT)
        self.assertEqual(api.job_cancel(None), Status.INVALID_ARGUMENT)
        self.assertEqual(api.engine_create(None, None), Status.INVALID_ARGUMENT)
        self.assertEqual(api.node_create(None, b"org.infinode.tokens.truncate", ctypes.byref(out)), Status.INVALID_ARGUMENT)
        self.assertEqual(api.value_type(0xDEADBEEF, ctypes.byref(_abi.c_enum())), Status.INVALID_HANDLE)
        self.assertNotEqual(infinode.default_library().last_error(), "")

    def test_bad_text(self):
        with self.assertRaisesRegex(InvalidArgumentError, "UTF-8"):
            Value.from_text(b"caf\xe9")
        with self.assertRaisesRegex(InvalidArgumentError, "UTF-8"):
            Value.from_text("lone \ud800 surrogate")
        with self.assertRaisesRegex(InvalidArgumentError, "NUL"):
            Value.from_text("a\0b")

    def test_bad_images(self):
        with self.assertRaises(InvalidArgumentError):
            Value.from_image(b"", 0, 0)
        with self.assertRaises(InvalidArgumentError):  # larger than INF_IMAGE_MAX_SIDE
            Value.from_image(bytes(30), 20000, 1)
        with self.assertRaisesRegex(InvalidArgumentError, "the pixels hold 11 bytes"):
            Value.from_image(bytes(11), 2, 2)
        with self.assertRaises(InvalidArgumentError):
            Value.from_image(bytes(8), 2, 2, channels=2)
        with self.assertRaises(InfinodeError):  # a mask is one channel or an RGBA alpha
            Value.from_mask(bytes(12), 2, 2, channels=Channels.RGB)
        desc = _abi.init(_abi.ImageDesc)
        desc.struct_size = 8  # below the 1.0 size
        self.assertEqual(infinode.default_library().api.value_create_image(ctypes.byref(desc), ctypes.byref(_abi.handle())),
                         Status.INVALID_ARGUMENT)

    def test_wrong_value_types(self):
        with Value.from_token_ids([5, 1]) as ids:
            with self.assertRaises(TypeMismatchError):
                ids.read_text()
            with self.assertRaises(TypeMismatchError):
                ids.image_info()
        with ENGINE.create_node("org.infinode.sampler.generate") as node, Value.from_text("a cube") as text:
            with self.assertRaises(TypeMismatchError):  # TEXT on a TEXT_EMBEDDING port
                node.run_async({"positive": text})
            with self.assertRaises(TypeMismatchError):
                node.run_async({"positive": "not a Value"})
            with self.assertRaisesRegex(NotFoundError, "no input 'prompt'"):
                node.run_async({"prompt": text})
            with self.assertRaises(InvalidArgumentError):
                node.run_async([text])  # two inputs, one given
            with self.assertRaises(InfinodeError):  # a required input left unconnected
                node.run(None, timeout=PATIENCE_SECONDS)

    def test_a_failing_job_reports_its_reason(self):
        with ENGINE.create_node("org.infinode.text.encode") as encode:
            with encode.run_async() as job:  # neither text nor ids connected
                self.assertEqual(job.wait(PATIENCE_SECONDS), Status.INVALID_ARGUMENT)
                self.assertIn("connect exactly one of the inputs", job.error_message)
                with self.assertRaisesRegex(InvalidArgumentError, "connect exactly one of the inputs"):
                    job.outputs()

    def test_release_twice(self):
        value = Value.from_text("x")
        value.release()
        with self.assertRaises(InvalidHandleError):
            value.release()
        value.close()  # close is idempotent
        with self.assertRaises(InvalidHandleError):
            value.read_text()
        engine = Engine(builtin_nodes=False)
        engine.close()
        engine.close()
        with self.assertRaises(InvalidHandleError):
            engine.nodes()


class PipelineTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.embedding = embed("a red cube on a table")
        cls.steps, cls.previews = [], []
        cls.tokens = generate(cls.embedding, on_progress=cls.steps.append,
                              on_preview=lambda progress, image: cls.previews.append((progress.step, image)))
        cls.image = decode(cls.tokens)

    @classmethod
    def tearDownClass(cls):
        for value in (cls.embedding, cls.tokens, cls.image):
            value.close()

    def test_tokenize_with_the_random_pipelines_byte_tokenizer(self):
        with ENGINE.create_node("org.infinode.text.tokenize") as tokenize:
            ids = tokenize.run("ab")["ids"]
        self.assertEqual(ids.read_token_ids(), [ord("a") + 3, ord("b") + 3, 1])  # bytes + 3, then EOS
        ids.close()

    def test_text_to_image(self):
        self.assertEqual([(p.step, p.total_steps, p.stage) for p in self.steps],
                         [(k, SCALES, "sample") for k in range(1, SCALES + 1)])
        self.assertEqual([step for step, _ in self.previews], list(range(1, SCALES + 1)))
        widths = [image.width for _, image in self.previews]
        self.assertEqual(widths, sorted(widths))
        self.assertEqual((widths[-1], self.previews[-1][1].height), (SIDE, SIDE))
        tokens = self.tokens.read_bit_tokens()
        self.assertEqual((tokens.images, tokens.stored_scales, tokens.grids[0], tokens.grids[-1]), (1, SCALES, (1, 1), (16, 16)))
        info = self.image.image_info()
        self.assertEqual((info.width, info.height, info.channels), (SIDE, SIDE, Channels.RGB))
        pixels = self.image.read_image(Channels.RGB, Scalar.U8)
        self.assertEqual(len(pixels.data), SIDE * SIDE * 3)
        self.assertGreater(len(set(pixels.data)), 16, "a decoded image is not flat")

    def test_the_seed_decides_the_bits(self):
        with generate(self.embedding, seed=7) as again, generate(self.embedding, seed=8) as other:
            self.assertEqual(again.read_bit_tokens().scales, self.tokens.read_bit_tokens().scales)
            self.assertNotEqual(other.read_bit_tokens().scales, self.tokens.read_bit_tokens().scales)

    def encode_image(self):
        with ENGINE.create_node("org.infinode.image.encode", resolution=RESOLUTION) as encode:
            return encode.run({"image": self.image}, timeout=PATIENCE_SECONDS)["tokens"]

    def test_encode_edit_decode(self):
        keep = 3
        with self.encode_image() as source, embed("a blue sphere") as prompt, \
                ENGINE.create_node("org.infinode.sampler.edit", keep_scales=keep, seed=3) as edit:
            source_tokens = source.read_bit_tokens()
            self.assertEqual(source_tokens.grids, self.tokens.read_bit_tokens().grids)
            with edit.run({"tokens": source, "positive": prompt}, timeout=PATIENCE_SECONDS)["tokens"] as edited:
                edited_tokens = edited.read_bit_tokens()
                with decode(edited) as image:
                    self.assertEqual((image.image_info().width, image.image_info().height), (SIDE, SIDE))
        self.assertEqual(edited_tokens.grids, source_tokens.grids)
        self.assertEqual(edited_tokens.scales[:keep], source_tokens.scales[:keep])
        self.assertNotEqual(edited_tokens.scales[keep:], source_tokens.scales[keep:])

    def test_masked_edit_keeps_the_unmasked_half(self):
        right_half = bytes([0] * 8 + [255] * 8) * 16  # 16x16, regenerate the right half
        with self.encode_image() as source, embed("a green sphere") as prompt, \
                Value.from_mask(right_half, 16, 16) as mask, \
                ENGINE.create_node("org.infinode.sampler.edit", keep_scales=1, seed=5) as edit:
            outputs = edit.run({"tokens": source, "positive": prompt, "mask": mask}, timeout=PATIENCE_SECONDS)
            with outputs["tokens"] as edited:
                before, after = source.read_bit_tokens(), edited.read_bit_tokens()
        bits = before.bits_per_token
        changed = 0
        for k in range(1, SCALES):
            height, width = before.grids[k]
            for row in range(height):
                for column in range(width):
                    at = (row * width + column) * bits
                    same = before.scales[k][at:at + bits] == after.scales[k][at:at + bits]
                    if column < width // 2:
                        self.assertTrue(same, "scale %d token (%d, %d) is outside the mask" % (k, row, column))
                    else:
                        changed += not same
        self.assertGreater(changed, 0, "the masked half was regenerated")

    def test_truncate_then_decode_a_coarse_picture(self):
        with ENGINE.create_node("org.infinode.tokens.truncate", keep_scales=3) as truncate:
            with infinode.run(truncate, self.tokens)["tokens"] as coarse:
                tokens = coarse.read_bit_tokens()
                self.assertEqual((tokens.stored_scales, tokens.schedule_scales), (3, SCALES))
                with decode(coarse) as image:
                    self.assertEqual(image.image_info().width, SIDE)

    def test_a_batch_of_prompts(self):
        with ENGINE.create_node("org.infinode.text.encode", split_lines=True) as encode:
            with encode.run("a red cube\na blue cube")["embedding"] as embedding:
                self.assertEqual(embedding.read_text_embedding().prompts, 2)
                with generate(embedding) as tokens:
                    self.assertEqual(tokens.read_bit_tokens().images, 2)


class JobTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.embedding = embed("a lighthouse")

    @classmethod
    def tearDownClass(cls):
        cls.embedding.close()

    def generate_node(self):
        return ENGINE.create_node("org.infinode.sampler.generate", resolution=RESOLUTION)

    def test_cancel_from_on_progress(self):
        steps = []
        with self.generate_node() as node:
            with node.run_async({"positive": self.embedding}, on_progress=lambda p: steps.append(p.step) or p.step >= 2) as job:
                self.assertEqual(job.wait(PATIENCE_SECONDS), Status.CANCELLED)
                self.assertEqual(steps, [1, 2])
                self.assertIn("after step 2 of %d" % SCALES, job.error_message)
                job.cancel()  # again, after the end: harmless
                with self.assertRaises(CancelledError):
                    job.outputs()

    def test_cancel_from_the_host_stops_within_one_scale(self):
        """The job is held inside its first progress callback while the host cancels it and
        checks that it is still running; released, it must stop at that step boundary. A second
        job of the same node waits in the queue meanwhile and is cancelled before it starts."""
        reached, release = threading.Event(), threading.Event()
        steps, queued_steps = [], []

        def hold_at_first_step(progress):
            steps.append(progress.step)
            reached.set()
            release.wait(PATIENCE_SECONDS)

        with self.generate_node() as node:
            job = node.run_async({"positive": self.embedding}, on_progress=hold_at_first_step)
            queued = node.run_async({"positive": self.embedding}, on_progress=lambda p: queued_steps.append(p.step))
            try:
                self.assertTrue(reached.wait(PATIENCE_SECONDS))
                with self.assertRaises(JobTimeoutError):
                    job.wait(timeout=0.05)
                self.assertEqual(job.state, JobState.RUNNING)
                queued.cancel()
                job.cancel()
                job.cancel()  # twice is fine
            finally:
                release.set()
            self.assertEqual(job.wait(PATIENCE_SECONDS), Status.CANCELLED)
            self.assertEqual(steps, [1])
            self.assertEqual(queued.wait(PATIENCE_SECONDS), Status.CANCELLED)
            self.assertEqual(queued_steps, [])
            self.assertIn("before it started", queued.error_message)
            job.close()
            queued.close()

    def test_on_done_keeps_a_dropped_job_alive(self):
        finished = threading.Event()
        seen = []

        def on_done(job, status, message):
            seen.append((type(job).__name__, status, job.done or job.state))
            finished.set()

        with ENGINE.create_node("org.infinode.tokens.truncate", keep_scales=1) as node, \
                Value.from_bit_tokens(BitTokens(1, 1, ((1, 1), (1, 2)), (1, 2), (b"\x01", b"\x00\x01"))) as tokens:
            node.run_async(tokens, on_done=on_done)  # the Job object is dropped at once
            gc.collect()
            self.assertTrue(finished.wait(PATIENCE_SECONDS))
        self.assertEqual(seen[0][:2], ("Job", Status.OK))

    def test_exceptions_in_callbacks_never_reach_c(self):
        def broken_progress(progress):
            raise RuntimeError("progress callback bug")

        with self.generate_node() as node:
            with node.run_async({"positive": self.embedding}, on_progress=broken_progress) as job:
                self.assertEqual(job.wait(PATIENCE_SECONDS), Status.CANCELLED)  # the exception cancels
                self.assertEqual([type(error) for error in job.callback_errors], [RuntimeError])
                with self.assertRaisesRegex(CallbackError, "progress callback bug") as raised:
                    job.outputs()
                self.assertIsInstance(raised.exception.__cause__, RuntimeError)
                self.assertEqual(raised.exception.status, Status.CANCELLED)

            def broken_preview(progress, image):
                raise ValueError("preview callback bug")

            with node.run_async({"positive": self.embedding}, on_preview=broken_preview) as job:
                self.assertEqual(job.wait(PATIENCE_SECONDS), Status.CANCELLED)
                self.assertIsInstance(job.callback_errors[0], ValueError)

    def test_a_blocking_wait_inside_a_callback_is_refused(self):
        with ENGINE.create_node("org.infinode.tokens.truncate", keep_scales=1) as node, \
                Value.from_bit_tokens(BitTokens(1, 1, ((1, 1), (1, 2)), (1, 2), (b"\x01", b"\x00\x01"))) as tokens:
            with node.run_async(tokens, on_done=lambda job, status, message: job.wait()) as job:
                self.assertEqual(job.wait(PATIENCE_SECONDS), Status.OK)
                self.assertIsInstance(job.callback_errors[0], WouldDeadlockError)
                with self.assertRaises(CallbackError):
                    job.outputs()

    def test_log_callback(self):
        messages = []
        with Engine(manifest=RANDOM_TINY, log=lambda level, message: messages.append((level, message)),
                    log_level=infinode.LogLevel.DEBUG) as engine:
            with engine.create_node("org.infinode.text.tokenize", max_length=3) as tokenize:
                with tokenize.run("a long prompt")["ids"] as ids:
                    self.assertEqual(len(ids.read_token_ids()), 3)
            self.assertTrue(any(level == infinode.LogLevel.WARNING for level, _ in messages), messages)

            def broken_log(level, message):
                raise RuntimeError("log callback bug")

            engine.set_log(broken_log, infinode.LogLevel.DEBUG)
            with engine.create_node("org.infinode.text.tokenize", max_length=3) as tokenize:
                tokenize.run("another long prompt")["ids"].close()  # the run survives the broken log

    def test_many_threads(self):
        errors = []

        def work(index):
            try:
                with ENGINE.create_node("org.infinode.tokens.truncate", keep_scales=1) as node:
                    for _ in range(5):
                        with Value.from_bit_tokens(BitTokens(1, 1, ((1, 1), (1, 2)), (1, 2), (b"\x01", b"\x00\x01"))) as tokens:
                            with node.run(tokens, timeout=PATIENCE_SECONDS)["tokens"] as kept:
                                assert kept.read_bit_tokens().stored_scales == 1
                        with Value.from_text("thread %d" % index) as text:
                            assert text.read_text() == "thread %d" % index
            except Exception as error:  # noqa: BLE001 -- reported by the main thread
                errors.append(error)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(PATIENCE_SECONDS)
        self.assertEqual(errors, [])


def _little_endian():
    return ctypes.c_uint16(1).value.to_bytes(2, "little") == bytes(ctypes.c_uint16(1))


if __name__ == "__main__":
    unittest.main()
