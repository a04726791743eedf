// Spatial patchify (8B): bit order of 56-bit tokens against the VAE's 14 channels x 2x2
// sub-pixels, and the round trip bits -> VAE grid -> tokens.
#include <gtest/gtest.h>

#include "common/error.h"
#include "backend/backend.h"
#include "model/infinity/bit_sampler.h"
#include "model/infinity/random_weights.h"
#include "model/infinity/transformer.h"

namespace inf {
namespace {

TEST(Patchify, TokenBitKIsVaeChannelKDiv4AtSubPixel) {
  // Spec 6: bit k of a 56-bit token is VAE channel k // 4 at offset ((k % 4) // 2, k % 2).
  const int h = 2, w = 3, vae_bits = 14, patch = 2;
  for (int k : {0, 1, 2, 3, 5, 42, 55}) {
    Tensor bits = Tensor::host(DType::u8, {1, h * w, vae_bits * 4});
    const int y = 1, x = 2;
    bits.data_as<uint8_t>()[(y * w + x) * vae_bits * 4 + k] = 1;
    const Tensor vae = unpatchify_bits(bits, h, w, patch);  // [1, 4*6, 14]
    ASSERT_EQ(vae.shape(), (Shape{1, 4 * h * w, vae_bits}));
    const int row = 2 * y + (k % 4) / 2, col = 2 * x + k % 2;
    int ones = 0;
    for (int64_t i = 0; i < vae.numel(); ++i) ones += vae.data_as<uint8_t>()[i];
    EXPECT_EQ(ones, 1);
    EXPECT_EQ(vae.data_as<uint8_t>()[(row * 2 * w + col) * vae_bits + k / 4], 1) << "bit " << k;
  }
}

TEST(Patchify, UnshuffleInvertsTheBitShuffle) {
  const int h = 3, w = 2, vae_bits = 14, patch = 2;
  Tensor bits = Tensor::host(DType::u8, {2, h * w, vae_bits * 4});
  for (int64_t i = 0; i < bits.numel(); ++i) bits.data_as<uint8_t>()[i] = static_cast<uint8_t>((i * 7 + i / 5) % 2);
  const Tensor vae = unpatchify_bits(bits, h, w, patch);  // [2, (2h)(2w), 14]
  // As a float latent [B, 14, 2h, 2w], then back to tokens.
  Tensor latent = Tensor::host(DType::f32, {2, vae_bits, 2 * h, 2 * w});
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t p = 0; p < 4 * h * w; ++p)
      for (int64_t c = 0; c < vae_bits; ++c)
        latent.data_as<float>()[(b * vae_bits + c) * 4 * h * w + p] = vae.data_as<uint8_t>()[(b * 4 * h * w + p) * vae_bits + c];
  const Tensor tokens = flatten_tokens(patchify_latent(latent, patch));  // [2, h*w, 56]
  ASSERT_EQ(tokens.shape(), bits.shape());
  for (int64_t i = 0; i < bits.numel(); ++i)
    ASSERT_EQ(tokens.data_as<float>()[i], static_cast<float>(bits.data_as<uint8_t>()[i])) << i;
}

TEST(Patchify, PatchOneIsIdentityAndBadShapesThrow) {
  Tensor bits = Tensor::host(DType::u8, {1, 4, 16});
  EXPECT_EQ(unpatchify_bits(bits, 2, 2, 1).data(), bits.data());
  EXPECT_THROW(unpatchify_bits(bits, 2, 2, 3), Error);  // 16 bits are not 9 x something
  EXPECT_THROW(unpatchify_bits(bits, 3, 2, 2), Error);  // 4 tokens are not a 3x2 grid
  EXPECT_THROW(patchify_latent(Tensor::host(DType::f32, {1, 2, 3, 4}), 2), Error);
}

TEST(Patchify, GenerationPutsSummedCodesOnTheVaeGrid) {
  // The tiny model's 16-bit tokens read as 2x2 patches of a 4-bit VAE latent.
  auto backend = create_backend("cpu");
  InfinityTransformer transformer(*backend, make_random_infinity_weights("tiny"));
  GenerateRequest request;
  request.schedule = schedule_from_grids({{1, 1}, {2, 2}, {4, 4}}, {64, 64});
  request.prompts.features = Tensor::host(DType::f32, {3, transformer.config().text_channels});
  request.prompts.lengths = {3};
  request.cfg = {3.0f};
  request.tau = {1.0f};
  request.spatial_patch = 2;
  // Force all-zero bits on the first two scales (each adds a constant -1/2 everywhere) and a
  // pattern on the last, so every latent value is -1 +- 1/2 with the sign of one known bit.
  request.forced_bits = {Tensor::host(DType::u8, {1, 1, 16}), Tensor::host(DType::u8, {1, 4, 16}),
                         Tensor::host(DType::u8, {1, 16, 16})};
  uint8_t* last = request.forced_bits[2].data_as<uint8_t>();
  for (int i = 0; i < 16 * 16; ++i) last[i] = static_cast<uint8_t>((i * 5 + i / 7) % 2);
  const GenerateResult result = transformer.generate(request);
  ASSERT_EQ(result.summed_codes.shape(), (Shape{1, 4, 8, 8}));
  const float* latent = result.summed_codes.data_as<float>();
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 4; ++x)
      for (int k = 0; k < 16; ++k) {
        const int c = k / 4, row = 2 * y + (k % 4) / 2, col = 2 * x + k % 2;
        const float expected = last[(y * 4 + x) * 16 + k] ? -0.5f : -1.5f;
        EXPECT_FLOAT_EQ(latent[(c * 8 + row) * 8 + col], expected) << "token " << y << "," << x << " bit " << k;
      }
  request.spatial_patch = 3;  // 16 bits are not 9 x something
  EXPECT_THROW(transformer.generate(request), Error);
}

}  // namespace
}  // namespace inf
