// The BSQ-VAE beyond its golden file: random-weight tokenizer shapes read back as spec section 7
// describes them, both key spellings, errors that name the tensor, the encoder's stride check,
// the quantizer's round trip, the cost formula, and tiled passes: exact tile coverage and
// blending, and the documented distance between tiled and untiled results.
//
// Tiled vs untiled, as PSNR over the [-1, 1] range (10 log10(4 / MSE) of the unclamped outputs),
// measured with this code on the CPU in f32. Default tiling (GroupNorm statistics from a
// subsampled preview, low-resolution stages untiled, margin 2) / per-tile statistics with every
// stage tiled (what plain overlap-blend tiling gives):
//   golden decoder, 24x24 latent of the upscaled test image, tile 8 overlap 2:  38.2 / 10.8 dB
//   golden decoder, the golden 8x8 latent, tile 4 overlap 2 margin 1:           31.9 dB
//   golden encoder, 384^2 upscaled test image, tile 8 overlap 2 (on z):         34.5 / 16.9 dB
//   tiny random decoder, 9x13 random-bit latent, tile 4 overlap 2:              28.9 dB
// These weights are random, not a trained tokenizer, and small tiles are the hard case; the
// bounds below sit 3 dB under the measurements.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "common/error.h"
#include "model/compute.h"
#include "model/infinity/random_weights.h"
#include "model/infinity/scale_schedule.h"
#include "model/vae/bsq_vae.h"
#include "model/vae/random_vae_weights.h"
#include "weights/weight_store.h"

namespace inf {
namespace {

Backend& cpu() {
  static const std::unique_ptr<Backend> backend = create_backend("cpu");
  return *backend;
}

const WeightStore& golden_file() {
  static const WeightStore store = WeightStore::open(std::string(INF_TEST_DATA_DIR) + "/golden/vae_tiny.safetensors");
  return store;
}

const BsqVae& golden_vae() {
  static const BsqVae vae(cpu(), golden_file().select("weight"));
  return vae;
}

Tensor host_copy(const Tensor& value) {
  Tensor copy = Tensor::host(value.dtype(), value.shape());
  cpu().convert(copy, value);
  return copy;
}

// 10 log10(4 / MSE): PSNR over the [-1, 1] range.
double psnr(const Tensor& a, const Tensor& b) {
  EXPECT_EQ(a.shape(), b.shape());
  double squared = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double difference = a.data_as<float>()[i] - b.data_as<float>()[i];
    squared += difference * difference;
  }
  return squared == 0 ? 200.0 : 10.0 * std::log10(4.0 / (squared / static_cast<double>(a.numel())));
}

// The golden test image resized to size x size (bilinear), [1, 3, size, size].
Tensor golden_image(int64_t size) {
  const Compute compute(cpu());
  return compute.resize_bilinear(host_copy(golden_file().get("input.image")), size, size);
}

// Summed codes of random bits over a few scales ending at h x w, [1, d, h, w].
Tensor random_latent(int64_t bits, int64_t h, int64_t w, uint32_t seed) {
  const Compute compute(cpu());
  Tensor sum = Tensor::host(DType::f32, {1, bits, h, w});
  std::mt19937 generator(seed);
  for (const int64_t step : {1, 2, 4, 1000}) {
    const int64_t grid_h = std::min(h, step * h / 8 + 1), grid_w = std::min(w, step * w / 8 + 1);
    Tensor code = Tensor::host(DType::f32, {1, bits, grid_h, grid_w});  // +-1/sqrt(d)
    for (int64_t i = 0; i < code.numel(); ++i)
      code.data_as<float>()[i] = ((generator() & 1) ? 1.0f : -1.0f) / std::sqrt(static_cast<float>(bits));
    compute.add_into(sum, compute.resize_bilinear(code, h, w));
  }
  return sum;
}

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

// ---- random weights and configuration ----

struct ExpectedVae {
  const char* name;
  int bits, stride, base, mid, levels;
  double encoder_millions, decoder_millions;  // spec section 7's parameter counts
};

TEST(RandomVaeWeights, ConfigReadsBackAsTheTokenizer) {
  const ExpectedVae cases[] = {
      {"tiny", 16, 16, 32, 64, 5, 0, 0},
      {"2B", 32, 16, 128, 512, 5, 45.03, 65.09},
      {"8B", 14, 8, 128, 512, 4, 33.14, 48.48},
  };
  ASSERT_EQ(random_vae_config_names().size(), std::size(cases));
  for (const auto& expected : cases) {
    SCOPED_TRACE(expected.name);
    const WeightStore weights = make_random_vae_weights(expected.name);
    const VaeConfig config = VaeConfig::from_weights(weights);
    EXPECT_EQ(config.bits, expected.bits);
    EXPECT_EQ(config.patch, expected.stride);
    EXPECT_EQ(config.base_channels, expected.base);
    EXPECT_EQ(config.mid_channels, expected.mid);
    EXPECT_TRUE(config.wrapped_keys);
    ASSERT_EQ(static_cast<int>(config.decoder_channels.size()), expected.levels);
    ASSERT_EQ(static_cast<int>(config.encoder_channels.size()), expected.levels);
    EXPECT_EQ(config.decoder_blocks_per_level, 3);
    EXPECT_EQ(config.encoder_blocks_per_level, 2);
    EXPECT_EQ(config.decoder_channels.front(), expected.base);
    EXPECT_EQ(config.encoder_channels.back(), expected.mid);
    EXPECT_FALSE(config.decoder_upsample.front());  // level 0 is full resolution
    EXPECT_FALSE(config.encoder_downsample.back());
    EXPECT_EQ(weights.record("quantizer.lfq.mask").dtype, DType::i64);
    if (expected.encoder_millions > 0) {
      double encoder = 0, decoder = 0;
      for (const auto& name : weights.names()) {
        const auto count = static_cast<double>(shape_numel(weights.record(name).shape));
        if (name.compare(0, 8, "encoder.") == 0) encoder += count;
        if (name.compare(0, 8, "decoder.") == 0) decoder += count;
      }
      EXPECT_NEAR(encoder / 1e6, expected.encoder_millions, 0.01);
      EXPECT_NEAR(decoder / 1e6, expected.decoder_millions, 0.01);
    }
  }
  EXPECT_NE(error_of([] { make_random_vae_weights("3B"); }).find("tiny, 2B, 8B"), std::string::npos);
}

TEST(RandomVaeWeights, TinyHasTheGoldenFilesNamesAndShapes) {
  const WeightStore random = make_random_vae_weights("tiny");
  const WeightStore golden = golden_file().select("weight");
  std::vector<std::string> random_names = random.names(), golden_names = golden.names();
  std::sort(random_names.begin(), random_names.end());
  std::sort(golden_names.begin(), golden_names.end());
  ASSERT_EQ(random_names, golden_names);
  for (const auto& name : random_names) EXPECT_EQ(random.record(name).shape, golden.record(name).shape) << name;
}

TEST(RandomVaeWeights, DeterministicPerSeed) {
  const WeightStore a = make_random_vae_weights("tiny", 3), b = make_random_vae_weights("tiny", 3);
  const WeightStore c = make_random_vae_weights("tiny", 4);
  for (const char* name : {"decoder.conv_in.conv.weight", "encoder.down.2.block.1.norm2.norm.weight"}) {
    const Tensor x = a.get(name), y = b.get(name), z = c.get(name);
    EXPECT_TRUE(std::equal(x.data_as<float>(), x.data_as<float>() + x.numel(), y.data_as<float>())) << name;
    EXPECT_FALSE(std::equal(x.data_as<float>(), x.data_as<float>() + x.numel(), z.data_as<float>())) << name;
  }
  // Convs are N(0, 1) / sqrt(fan_in): the 2B's 512-channel convs have fan_in 4608.
  const Tensor conv = make_random_vae_weights("2B").get("decoder.mid.block_1.conv1.conv.weight");
  double squares = 0;
  for (int64_t i = 0; i < conv.numel(); ++i) squares += double{conv.data_as<float>()[i]} * conv.data_as<float>()[i];
  EXPECT_NEAR(std::sqrt(squares / static_cast<double>(conv.numel())) * std::sqrt(4608.0), 1.0, 0.01);
}

TEST(VaeCost, ConvFlopsMatchTheTargets) {
  // docs/targets.md: the d32 decoder 16x16x32 -> 256^2 is 616 GFLOP, the encoder 260 GFLOP.
  const VaeConfig config = VaeConfig::from_weights(make_random_vae_weights("2B"));
  const VaeCost decode = estimate_vae_cost(config, false, 16, 16);
  const VaeCost encode = estimate_vae_cost(config, true, 16, 16);
  EXPECT_NEAR(decode.conv_flops / 1e9, 616, 3);
  EXPECT_NEAR(encode.conv_flops / 1e9, 260, 3);
  EXPECT_EQ(decode.weights, encode.weights);  // both halves are loaded either way
  EXPECT_NEAR(static_cast<double>(decode.weights) / 4e6, 45.03 + 65.09, 0.02);
  // Activations grow with the pixels; at 1024^2 the decoder's level 0 dominates.
  EXPECT_GT(estimate_vae_cost(config, false, 64, 64).activations, 8 * decode.activations);
}

// ---- loading ----

TEST(BsqVae, UnwrappedKeysLoadAndGiveIdenticalOutput) {
  const WeightStore wrapped = golden_file().select("weight");
  std::vector<std::pair<std::string, Tensor>> renamed;
  for (const auto& name : wrapped.names()) {
    // The wrapper segment right before "weight" / "bias" goes, as in the reference's load_cnn.
    std::string plain = name;
    const size_t last = plain.rfind('.');
    for (const std::string wrapper : {".conv", ".norm"})
      if (last >= wrapper.size() && plain.compare(last - wrapper.size(), wrapper.size(), wrapper) == 0)
        plain.erase(last - wrapper.size(), wrapper.size());
    renamed.emplace_back(plain, host_copy(wrapped.get(name)));
  }
  const WeightStore unwrapped = WeightStore::from_host_tensors("unwrapped", std::move(renamed));
  ASSERT_TRUE(unwrapped.contains("decoder.up.1.upsample.conv.weight"));  // Upsample's own .conv stays
  const BsqVae vae(cpu(), unwrapped);
  EXPECT_FALSE(vae.config().wrapped_keys);
  const Tensor latent = host_copy(golden_file().get("input.decoder_latent"));
  EXPECT_EQ(psnr(vae.decode(latent).unclamped, golden_vae().decode(latent).unclamped), 200.0);
  const Tensor image = host_copy(golden_file().get("input.image"));
  EXPECT_EQ(psnr(vae.encode(image), golden_vae().encode(image)), 200.0);
  EXPECT_NE(vae.identity(), "");
}

TEST(BsqVae, MissingOrMisshapedTensorsAreNamed) {
  const WeightStore weights = golden_file().select("weight");
  auto without = [&](const std::string& dropped, const std::string& reshaped) {
    std::vector<std::pair<std::string, Tensor>> tensors;
    for (const auto& name : weights.names()) {
      if (name == dropped) continue;
      Tensor value = host_copy(weights.get(name));
      if (name == reshaped) value = Tensor::host(DType::f32, {value.numel() / 2, 2});
      tensors.emplace_back(name, value);
    }
    return WeightStore::from_host_tensors("edited", std::move(tensors));
  };
  for (const std::string name : {"decoder.up.1.block.2.conv2.conv.weight", "decoder.up.3.block.0.norm1.norm.bias",
                                 "encoder.down.0.downsample.conv.conv.bias"}) {
    const std::string missing = error_of([&] { BsqVae(cpu(), without(name, "")); });
    EXPECT_NE(missing.find(name), std::string::npos) << missing;
    const std::string misshaped = error_of([&] { BsqVae(cpu(), without("", name)); });
    EXPECT_NE(misshaped.find(name), std::string::npos) << misshaped;
  }
}

TEST(BsqVae, EncodeRejectsSizesOffTheStride) {
  const Tensor image = Tensor::host(DType::f32, {1, 3, 100, 128});
  const std::string message = error_of([&] { golden_vae().encode(image); });
  EXPECT_NE(message.find("stride 16"), std::string::npos) << message;
  EXPECT_NE(error_of([&] { golden_vae().encode(image, VaeTiling{4, 2}); }).find("stride 16"), std::string::npos);
}

// ---- quantizer ----

TEST(BsqVae, QuantizedBitsGiveBackTheSummedCodesExactly) {
  const Tensor square = golden_vae().encode(golden_image(128));  // [1, 16, 8, 8]
  const ScaleSchedule square_schedule = schedule_from_grids({{1, 1}, {2, 2}, {4, 4}, {6, 6}, {8, 8}}, {8, 8});
  // A non-square latent and schedule, with scales whose area windows overlap.
  Tensor wide = Tensor::host(DType::f32, {2, 16, 9, 13});
  fill_random_normal(wide, 5, "test_vae wide latent", 0.0f, 1.0f);
  const ScaleSchedule wide_schedule = schedule_from_grids({{1, 1}, {2, 3}, {4, 6}, {7, 10}, {9, 13}}, {9, 13});
  for (const auto& [latent, schedule] : {std::pair{square, square_schedule}, std::pair{wide, wide_schedule}}) {
    const VaeTokens tokens = golden_vae().quantize(latent, schedule);
    const Tensor rebuilt = summed_codes_from_bits(tokens.bits, schedule);
    ASSERT_EQ(rebuilt.shape(), tokens.summed_codes.shape());
    EXPECT_TRUE(std::equal(rebuilt.data_as<float>(), rebuilt.data_as<float>() + rebuilt.numel(),
                           tokens.summed_codes.data_as<float>()));
  }
}

// ---- tiling ----

TEST(VaeTiling, TilesCoverEveryPositionAndWeightsSumToOne) {
  for (int64_t size = 1; size <= 40; ++size)
    for (int tile = 1; tile <= 9; ++tile)
      for (int overlap = 0; overlap < tile; ++overlap) {
        const std::vector<VaeTileSpan> spans = plan_vae_tiles(size, tile, overlap, 2);
        for (const int64_t scale : {1, 3}) {
          std::vector<double> total(static_cast<size_t>(size * scale), 0.0);
          for (size_t i = 0; i < spans.size(); ++i) {
            const VaeTileSpan& span = spans[i];
            ASSERT_EQ(span.end - span.start, spans[0].end - spans[0].start);
            ASSERT_LE(span.end - span.start, tile);
            ASSERT_TRUE(span.start >= 0 && span.end <= size && span.context_start <= span.start &&
                        span.context_end >= span.end && span.context_start >= 0 && span.context_end <= size);
            if (i > 0) {
              ASSERT_GE(spans[i - 1].end - span.start, overlap) << size << " " << tile << " " << overlap;
            }
            const std::vector<float> weights = vae_tile_weights(spans, i, scale);
            ASSERT_EQ(static_cast<int64_t>(weights.size()), (span.end - span.start) * scale);
            for (size_t p = 0; p < weights.size(); ++p) {
              ASSERT_GT(weights[p], 0.0f);
              total[static_cast<size_t>(span.start * scale) + p] += weights[p];
            }
          }
          for (const double sum : total) ASSERT_NEAR(sum, 1.0, 1e-6) << size << " " << tile << " " << overlap;
        }
        // No fewer tiles would do.
        const auto count = static_cast<int64_t>(spans.size());
        ASSERT_TRUE(count == 1 || (count - 1) * (tile - overlap) + overlap < size) << size << " " << tile << " " << overlap;
      }
  EXPECT_NE(error_of([] { plan_vae_tiles(10, 4, 4, 0); }).find("overlap"), std::string::npos);
}

TEST(VaeTiling, PositionwiseNetworksAreReproducedExactlyAtOddSizes) {
  // A network without spatial context or statistics: tiling must give back exactly its
  // untiled output, so every output position is covered and blended with weights summing to 1
  // (to rounding). Here net = 2x nearest upsampling of [1, 2, 9, 13].
  const Compute compute(cpu());
  Tensor input = Tensor::host(DType::f32, {1, 2, 9, 13});
  fill_random_normal(input, 1, "test_vae tiling input", 0.0f, 1.0f);
  const Tensor expected = compute.upsample_nearest(input, 2);  // [1, 2, 18, 26]
  for (const int overlap : {0, 1, 2, 3})
    for (const int margin : {0, 1, 5}) {
      const VaeTiling tiling{4, overlap, margin, VaeTileNorm::tile};
      const Tensor out = run_vae_tiled(compute, input, 1, 2, tiling, [&](const Tensor& crop, VaeNormStats*) {
        return compute.upsample_nearest(crop, 2);
      });
      ASSERT_EQ(out.shape(), expected.shape());
      for (int64_t i = 0; i < out.numel(); ++i)
        ASSERT_NEAR(out.data_as<float>()[i], expected.data_as<float>()[i], 1e-5f) << overlap << " " << margin << " " << i;
    }
}

TEST(VaeTiling, GoldenDecoderTiledIsCloseToUntiled) {
  const Tensor latent = golden_vae().encode(golden_image(384));  // [1, 16, 24, 24]
  const VaeImage untiled = golden_vae().decode(latent);
  const VaeImage tiled = golden_vae().decode(latent, VaeTiling{8, 2});
  ASSERT_EQ(tiled.pixels.shape(), untiled.pixels.shape());
  const double default_psnr = psnr(tiled.unclamped, untiled.unclamped);
  EXPECT_GT(default_psnr, 35.0);
  EXPECT_GT(psnr(tiled.pixels, untiled.pixels), 36.0);
  // What the shared statistics and untiled low-resolution stages buy over plain per-tile tiles.
  const VaeImage plain = golden_vae().decode(latent, VaeTiling{8, 2, -1, VaeTileNorm::tile, false});
  const double plain_psnr = psnr(plain.unclamped, untiled.unclamped);
  EXPECT_GT(default_psnr, plain_psnr + 15.0);
  std::printf("golden decoder 24x24, tile 8 overlap 2: %.1f dB (per-tile statistics, all tiled: %.1f dB)\n",
              default_psnr, plain_psnr);

  // The golden file's own 8x8 latent, with tiles that do not reach across it.
  const Tensor codes = host_copy(golden_file().get("expect.summed_codes"));
  const double small = psnr(golden_vae().decode(codes, VaeTiling{4, 2, 1}).unclamped, golden_vae().decode(codes).unclamped);
  EXPECT_GT(small, 29.0);
  std::printf("golden decoder 8x8, tile 4 overlap 2 margin 1: %.1f dB\n", small);
}

TEST(VaeTiling, GoldenEncoderTiledIsCloseToUntiled) {
  const Tensor image = golden_image(384);
  const Tensor untiled = golden_vae().encode(image);  // [1, 16, 24, 24]
  const Tensor tiled = golden_vae().encode(image, VaeTiling{8, 2});
  ASSERT_EQ(tiled.shape(), untiled.shape());
  const double default_psnr = psnr(tiled, untiled);
  const double plain_psnr = psnr(golden_vae().encode(image, VaeTiling{8, 2, -1, VaeTileNorm::tile, false}), untiled);
  EXPECT_GT(default_psnr, 31.0);
  EXPECT_GT(default_psnr, plain_psnr + 15.0);
  std::printf("golden encoder 384^2, tile 8 overlap 2: %.1f dB on z (per-tile statistics, all tiled: %.1f dB)\n",
              default_psnr, plain_psnr);
}

TEST(VaeTiling, OddNonSquareLatentWithEdgeTiles) {
  static const BsqVae vae(cpu(), make_random_vae_weights("tiny", 7));
  const Tensor latent = random_latent(16, 9, 13, 11);  // [1, 16, 9, 13]: 3 x 5 tiles of 4, the last ones shifted
  const VaeImage untiled = vae.decode(latent);
  const VaeImage tiled = vae.decode(latent, VaeTiling{4, 2});
  ASSERT_EQ(tiled.pixels.shape(), (Shape{1, 3, 144, 208}));
  const double value = psnr(tiled.unclamped, untiled.unclamped);
  EXPECT_GT(value, 26.0);
  std::printf("tiny random decoder 9x13, tile 4 overlap 2: %.1f dB\n", value);
  // Larger than the latent in one direction only: tiles along the other.
  EXPECT_GT(psnr(vae.decode(latent, VaeTiling{10, 3}).unclamped, untiled.unclamped), 29.0);
  // No larger than one tile: the untiled path, bit for bit.
  EXPECT_EQ(psnr(vae.decode(latent, VaeTiling{13, 2}).unclamped, untiled.unclamped), 200.0);
}

}  // namespace
}  // namespace inf
