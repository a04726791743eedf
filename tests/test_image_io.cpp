// Image files through OpenImageIO: exact pixel values of the committed fixtures
// (tools/make_image_fixtures.py), write/read round trips per format, alpha, metadata, atomic
// writes, one clean error per malformed file, and fit_to_size against the reference's geometry
// and a PIL-style Lanczos written out here.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "image/image_io.h"
#include "image/pixels.h"
#include "image/preprocess.h"

namespace inf {
namespace {

namespace fs = std::filesystem;

const std::string kImages = std::string(INF_TEST_DATA_DIR) + "/images/";
const std::string kBad = std::string(INF_TEST_DATA_DIR) + "/bad/";

float at(const Tensor& image, int64_t c, int64_t y, int64_t x) {
  return image.data_as<float>()[(c * image.dim(1) + y) * image.dim(2) + x];
}

float model(float unit) { return unit * 2.0f - 1.0f; }
float model_from_u8(int value) { return model(static_cast<float>(value) / 255.0f); }

// Collects log_warn messages while alive.
class CapturedLog {
 public:
  CapturedLog() {
    set_log_sink([this](LogLevel level, const std::string& message) {
      if (level >= LogLevel::warn) text_ += message + "\n";
    });
  }
  ~CapturedLog() { set_log_sink({}); }
  bool contains(const std::string& part) const { return text_.find(part) != std::string::npos; }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

Tensor random_image(int64_t channels, int64_t height, int64_t width, float lo, float hi, unsigned seed) {
  Tensor image = Tensor::host(DType::f32, {channels, height, width});
  std::mt19937 generator(seed);
  std::uniform_real_distribution<float> values(lo, hi);
  for (int64_t i = 0; i < image.numel(); ++i) image.data_as<float>()[i] = values(generator);
  return image;
}

std::string file_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class ImageFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() /
              ("infinode_test_image_io_" + std::to_string(getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(folder_);
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }
  std::string path(const std::string& name) const { return (folder_ / name).string(); }
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder_))
      names.push_back(entry.path().filename().string());
    return names;
  }

  fs::path folder_;
};

// ---- pixel conversions -------------------------------------------------------------------

TEST(ImagePixels, EightBitTruncatesLikeTheReference) {
  EXPECT_EQ(model_to_u8(1.0f), 255);
  EXPECT_EQ(model_to_u8(0.999f), 254);  // 254.87: truncated, not rounded
  EXPECT_EQ(model_to_u8(0.0f), 127);    // 127.5
  EXPECT_EQ(model_to_u8(-1.0f), 0);
  EXPECT_EQ(model_to_u8(3.0f), 255);
  EXPECT_EQ(model_to_u8(-3.0f), 0);
  EXPECT_EQ(model_to_u8(std::nanf("")), 0);
  EXPECT_EQ(model_to_u16(0.0f), 32768);  // 32767.5 rounds up
  EXPECT_EQ(model_to_u16(1.0f), 65535);
}

TEST(ImagePixels, SrgbTransferFunction) {
  EXPECT_NEAR(linear_to_srgb(0.18f), 0.46135613f, 1e-6);
  EXPECT_NEAR(srgb_to_linear(0.5f), 0.21404114f, 1e-6);
  EXPECT_NEAR(linear_to_srgb(0.002f), 0.002f * 12.92f, 1e-7);  // the linear toe
  for (float v = 0.0f; v <= 1.0f; v += 1.0f / 64)
    EXPECT_NEAR(linear_to_srgb(srgb_to_linear(v)), v, 1e-6) << v;
}

TEST(ImagePixels, ModelRangeHelpers) {
  Tensor unit = Tensor::host(DType::f32, {3});
  unit.data_as<float>()[0] = 0.0f, unit.data_as<float>()[1] = 0.25f, unit.data_as<float>()[2] = 1.0f;
  const Tensor in_model = to_model_range(unit);
  EXPECT_EQ(in_model.data_as<float>()[1], -0.5f);
  in_model.data_as<float>()[2] = 7.0f;
  const Tensor back = from_model_range(in_model);
  EXPECT_EQ(back.data_as<float>()[1], 0.25f);
  EXPECT_EQ(back.data_as<float>()[2], 1.0f);  // clamped
}

// ---- reading the committed fixtures -------------------------------------------------------

TEST(ImageRead, EightBitPngExactValues) {
  const LoadedImage image = read_image(kImages + "rgb8.png");
  ASSERT_EQ(image.rgb.shape(), (Shape{3, 24, 32}));
  EXPECT_FALSE(image.alpha.defined());
  EXPECT_EQ(image.source_channels, 3);
  EXPECT_EQ(image.source_format, "png");
  EXPECT_EQ(image.source_type, "uint8");
  EXPECT_FALSE(image.was_linear);
  for (int y : {0, 5, 23})
    for (int x : {0, 7, 31}) {
      EXPECT_NEAR(at(image.rgb, 0, y, x), model_from_u8(8 * x), 1e-6);
      EXPECT_NEAR(at(image.rgb, 1, y, x), model_from_u8(10 * y), 1e-6);
      EXPECT_NEAR(at(image.rgb, 2, y, x), model_from_u8(3 * (x + y)), 1e-6);
    }
  EXPECT_EQ(image.describe(), "32x24 png, 3 channels uint8, sRGB");
}

TEST(ImageRead, SixteenBitPngKeepsStraightAlpha) {
  const LoadedImage image = read_image(kImages + "rgba16.png");
  ASSERT_TRUE(image.alpha.defined());
  ASSERT_EQ(image.alpha.shape(), (Shape{1, 24, 32}));
  EXPECT_EQ(image.source_type, "uint16");
  // Colour as stored, not premultiplied by alpha (alpha is 2114x / 65535, far from 1).
  EXPECT_NEAR(at(image.rgb, 0, 3, 10), model(20000.0f / 65535), 1e-6);
  EXPECT_NEAR(at(image.rgb, 1, 3, 10), model(7500.0f / 65535), 1e-6);
  EXPECT_NEAR(at(image.rgb, 2, 3, 10), model(40000.0f / 65535), 1e-6);
  EXPECT_NEAR(at(image.alpha, 0, 3, 10), 21140.0f / 65535, 1e-6);
  EXPECT_EQ(at(image.alpha, 0, 3, 0), 0.0f);
}

TEST(ImageRead, GreyIsExpandedToRgbWithAWarning) {
  CapturedLog log;
  const LoadedImage image = read_image(kImages + "grey.png");
  EXPECT_TRUE(log.contains("grey image used as RGB")) << log.text();
  EXPECT_EQ(image.source_channels, 1);
  EXPECT_FALSE(image.alpha.defined());
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(at(image.rgb, c, 4, 9), model(72.0f / 255), 1e-6);
}

TEST(ImageRead, GreyWithAlphaKeepsItsAlpha) {
  CapturedLog log;
  const LoadedImage image = read_image(kImages + "grey_alpha.png");
  EXPECT_TRUE(log.contains("grey image (with alpha) used as RGB")) << log.text();
  ASSERT_TRUE(image.alpha.defined());
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(at(image.rgb, c, 6, 20), model(60.0f / 255), 1e-6);
  EXPECT_NEAR(at(image.alpha, 0, 6, 20), (255.0f - 160.0f) / 255, 1e-6);
}

TEST(ImageRead, JpegAndTiff) {
  const LoadedImage tiff = read_image(kImages + "rgb.tif");
  const LoadedImage png = read_image(kImages + "rgb8.png");
  EXPECT_EQ(tiff.source_format, "tiff");
  for (int64_t i = 0; i < png.rgb.numel(); ++i)
    ASSERT_EQ(tiff.rgb.data_as<float>()[i], png.rgb.data_as<float>()[i]) << i;  // lossless
  const LoadedImage jpeg = read_image(kImages + "rgb.jpg");
  EXPECT_EQ(jpeg.source_format, "jpeg");
  double total_error = 0;
  for (int64_t i = 0; i < png.rgb.numel(); ++i)
    total_error += std::fabs(jpeg.rgb.data_as<float>()[i] - png.rgb.data_as<float>()[i]);
  EXPECT_LT(total_error / static_cast<double>(png.rgb.numel()), 0.03);  // quality 95, chroma subsampled
}

TEST(ImageRead, LinearExrIsConvertedToSrgbAndClipped) {
  CapturedLog log;
  const LoadedImage image = read_image(kImages + "linear.exr");
  EXPECT_EQ(image.source_format, "openexr");
  EXPECT_EQ(image.source_type, "half");
  EXPECT_TRUE(image.was_linear);
  EXPECT_NEAR(at(image.rgb, 1, 10, 10), model(linear_to_srgb(0.18f)), 2e-3);  // 0.18 in half
  EXPECT_NEAR(at(image.rgb, 2, 23, 0), 1.0f, 1e-6);
  EXPECT_NEAR(at(image.rgb, 0, 0, 0), -1.0f, 1e-6);
  EXPECT_NEAR(at(image.rgb, 0, 0, 4), model(linear_to_srgb(16.0f / 31)), 2e-3);
  EXPECT_EQ(at(image.rgb, 0, 0, 31), 1.0f);  // 4.0: beyond white, clipped
  EXPECT_TRUE(log.contains("clipped")) << log.text();
}

TEST(ImageRead, ManyChannelsUseRgbaByNameAndUnpremultiply) {
  CapturedLog log;
  const LoadedImage image = read_image(kImages + "rgbaz.exr");
  EXPECT_TRUE(log.contains("5 channels; using R,G,B,A")) << log.text();
  EXPECT_EQ(image.source_channels, 5);
  ASSERT_TRUE(image.alpha.defined());
  EXPECT_NEAR(at(image.alpha, 0, 2, 3), 0.5f, 1e-6);
  // Stored premultiplied (0.09 = 0.18 * 0.5); the colour itself comes back.
  EXPECT_NEAR(at(image.rgb, 1, 2, 3), model(linear_to_srgb(0.18f)), 2e-3);
  EXPECT_NEAR(at(image.rgb, 2, 23, 3), 1.0f, 1e-6);
}

TEST(ImageRead, AssumeLinearOverridesTheFile) {
  ReadOptions options;
  options.assume_linear = true;
  const LoadedImage image = read_image(kImages + "rgb8.png", options);
  EXPECT_TRUE(image.was_linear);
  EXPECT_NEAR(at(image.rgb, 0, 0, 7), model(linear_to_srgb(56.0f / 255)), 1e-6);
}

TEST(ImageRead, SizeLimitsAreEnforced) {
  ReadOptions options;
  options.max_side = 31;
  EXPECT_THROW(read_image(kImages + "rgb8.png", options), Error);
  options = ReadOptions{};
  options.max_pixels = 32 * 24 - 1;
  EXPECT_THROW(read_image(kImages + "rgb8.png", options), Error);
}

// Each malformed file: an inf::Error, on one line, naming the file.
TEST(ImageRead, BadFilesGiveOneLineErrorsNamingTheFile) {
  for (const char* name : {"img_truncated.png", "img_not_an_image.png", "img_zero_size.png",
                           "img_huge_dims.png", "img_does_not_exist.png"}) {
    const std::string file = kBad + name;
    try {
      read_image(file);
      ADD_FAILURE() << name << " was read without an error";
    } catch (const Error& error) {
      const std::string message = error.what();
      EXPECT_NE(message.find(file), std::string::npos) << message;
      EXPECT_EQ(message.find('\n'), std::string::npos) << message;
      if (std::string(name) == "img_huge_dims.png") {
        EXPECT_NE(message.find("100000x100000 exceeds"), std::string::npos) << message;
      }
    }
  }
  EXPECT_THROW(read_image(kBad), Error);  // a folder
}

// ---- writing -------------------------------------------------------------------------------

TEST_F(ImageFiles, EightBitPngRoundTripTruncates) {
  const Tensor rgb = random_image(3, 17, 23, -1.0f, 1.0f, 1);
  write_image(path("out.png"), rgb);
  const LoadedImage back = read_image(path("out.png"));
  EXPECT_EQ(back.source_type, "uint8");
  ASSERT_EQ(back.rgb.shape(), rgb.shape());
  for (int64_t i = 0; i < rgb.numel(); ++i) {
    const float written = rgb.data_as<float>()[i], read = back.rgb.data_as<float>()[i];
    ASSERT_NEAR(read, model_from_u8(model_to_u8(written)), 1e-6) << i;
    // Truncation only ever rounds down, by less than one step of 1/255 (2/255 in [-1, 1]).
    ASSERT_LE(read, written + 1e-6f) << i;
    ASSERT_GT(read, written - 2.0f / 255 - 1e-6f) << i;
  }
  EXPECT_EQ(listing(), std::vector<std::string>{"out.png"});  // no temporary left behind
}

TEST_F(ImageFiles, SixteenBitPngRoundTrip) {
  const Tensor rgb = random_image(3, 9, 14, -1.0f, 1.0f, 2);
  WriteOptions options;
  options.bits = 16;
  write_image(path("out16.png"), rgb, options);
  const LoadedImage back = read_image(path("out16.png"));
  EXPECT_EQ(back.source_type, "uint16");
  for (int64_t i = 0; i < rgb.numel(); ++i)
    ASSERT_NEAR(back.rgb.data_as<float>()[i], rgb.data_as<float>()[i], 1.0f / 65535 + 1e-6f) << i;
}

TEST_F(ImageFiles, LinearEncodingInAPngIsTaggedAndDecoded) {
  const Tensor rgb = random_image(3, 9, 14, -1.0f, 1.0f, 20);
  WriteOptions options;
  options.bits = 16;
  options.encoding = ColorEncoding::linear;
  write_image(path("linear16.png"), rgb, options);
  const LoadedImage back = read_image(path("linear16.png"));
  EXPECT_TRUE(back.was_linear);
  // 16-bit linear is coarse in the darkest sRGB steps: 1/65535 linear is ~4e-4 in sRGB.
  for (int64_t i = 0; i < rgb.numel(); ++i)
    ASSERT_NEAR(back.rgb.data_as<float>()[i], rgb.data_as<float>()[i], 2e-3) << i;
}

TEST_F(ImageFiles, ExrIsLinearHalfByDefaultAndRoundTrips) {
  const Tensor rgb = random_image(3, 8, 12, -1.0f, 1.0f, 3);
  write_image(path("out.exr"), rgb);
  // The file is tagged linear and decodes back to what was written, so it holds linear light:
  // sRGB values tagged linear, or the reverse, would come back converted once too often.
  const LoadedImage back = read_image(path("out.exr"));
  EXPECT_EQ(back.source_type, "half");
  EXPECT_TRUE(back.was_linear);
  for (int64_t i = 0; i < rgb.numel(); ++i)
    ASSERT_NEAR(back.rgb.data_as<float>()[i], rgb.data_as<float>()[i], 1e-3) << i;
}

TEST_F(ImageFiles, ExrCanHoldSrgbValuesAndFullFloats) {
  const Tensor rgb = random_image(3, 5, 6, -1.0f, 1.0f, 4);
  WriteOptions options;
  options.encoding = ColorEncoding::srgb;
  options.bits = 32;
  write_image(path("srgb.exr"), rgb, options);
  const LoadedImage back = read_image(path("srgb.exr"));
  EXPECT_EQ(back.source_type, "float");
  EXPECT_FALSE(back.was_linear);  // tagged sRGB, so not converted a second time
  for (int64_t i = 0; i < rgb.numel(); ++i)
    ASSERT_NEAR(back.rgb.data_as<float>()[i], rgb.data_as<float>()[i], 1e-6) << i;
}

TEST_F(ImageFiles, AlphaIsPreservedInPngAndExr) {
  const Tensor rgb = random_image(3, 6, 7, -1.0f, 1.0f, 5);
  const Tensor alpha = random_image(1, 6, 7, 0.05f, 1.0f, 6);
  WriteOptions options;
  options.alpha = &alpha;
  options.bits = 16;
  for (const char* name : {"alpha.png", "alpha.exr", "alpha.tif"}) {
    write_image(path(name), rgb, options);
    const LoadedImage back = read_image(path(name));
    ASSERT_TRUE(back.alpha.defined()) << name;
    EXPECT_EQ(back.source_channels, 4) << name;
    for (int64_t i = 0; i < alpha.numel(); ++i)
      ASSERT_NEAR(back.alpha.data_as<float>()[i], alpha.data_as<float>()[i], 1e-3) << name << " " << i;
    // Straight colour comes back whatever the file's convention (EXR stores it premultiplied).
    for (int64_t i = 0; i < rgb.numel(); ++i)
      ASSERT_NEAR(back.rgb.data_as<float>()[i], rgb.data_as<float>()[i], 1e-2) << name << " " << i;
  }
  CapturedLog log;
  write_image(path("alpha.jpg"), rgb, options);
  EXPECT_TRUE(log.contains("alpha dropped")) << log.text();
  EXPECT_EQ(read_image(path("alpha.jpg")).source_channels, 3);
}

TEST_F(ImageFiles, TextMetadataGoesToPngTextChunks) {
  const Tensor rgb = random_image(3, 4, 4, -1.0f, 1.0f, 7);
  WriteOptions options;
  options.text["parameters"] = "a red fox in snow; cfg 3; seed 42";
  write_image(path("meta.png"), rgb, options);
  const std::string bytes = file_bytes(path("meta.png"));
  const std::string chunk("tEXtparameters\0a red fox in snow; cfg 3; seed 42", 48);  // type, key, NUL, text
  EXPECT_NE(bytes.find(chunk), std::string::npos);
  EXPECT_EQ(read_image(path("meta.png")).text.at("parameters"), "a red fox in snow; cfg 3; seed 42");

  write_image(path("meta.exr"), rgb, options);
  EXPECT_EQ(read_image(path("meta.exr")).text.at("parameters"), "a red fox in snow; cfg 3; seed 42");

  options.text = {{"", "empty key"}};
  EXPECT_THROW(write_image(path("bad_key.png"), rgb, options), Error);
}

TEST_F(ImageFiles, FailedWritesLeaveExistingFilesAlone) {
  const Tensor rgb = random_image(3, 4, 5, -1.0f, 1.0f, 8);
  write_image(path("keep.png"), rgb);
  const std::string original = file_bytes(path("keep.png"));

  // Replacing works and leaves nothing else behind.
  write_image(path("keep.png"), random_image(3, 4, 5, -1.0f, 1.0f, 9));
  EXPECT_NE(file_bytes(path("keep.png")), original);
  write_image(path("keep.png"), rgb);
  EXPECT_EQ(file_bytes(path("keep.png")), original);

  const Tensor wrong_alpha = random_image(1, 3, 5, 0.0f, 1.0f, 10);
  WriteOptions mismatched;
  mismatched.alpha = &wrong_alpha;
  WriteOptions bad_bits;
  bad_bits.bits = 12;
  const Tensor grey = random_image(1, 4, 5, -1.0f, 1.0f, 11);
  for (auto attempt : std::vector<std::function<void()>>{
           [&] { write_image(path("no_such_folder/out.png"), rgb); },
           [&] { write_image(path("keep.notaformat"), rgb); },
           [&] { write_image(path("keep.png"), rgb, mismatched); },
           [&] { write_image(path("keep.png"), rgb, bad_bits); },
           [&] { write_image(path("keep.png"), grey); },
           // Beyond libjpeg's limit, where it would exit the process.
           [&] { write_image(path("keep.jpg"), random_image(3, 1, 65501, -1.0f, 1.0f, 19)); },
       }) {
    try {
      attempt();
      ADD_FAILURE() << "write did not fail";
    } catch (const Error& error) {
      EXPECT_NE(std::string(error.what()).find(folder_.string()), std::string::npos) << error.what();
      EXPECT_EQ(std::string(error.what()).find('\n'), std::string::npos) << error.what();
    }
  }
  EXPECT_EQ(file_bytes(path("keep.png")), original);
  EXPECT_EQ(listing(), std::vector<std::string>{"keep.png"});
}

// A write that fails half-way (here: the file-size limit, standing in for a full disk) must not
// leave a temporary behind nor replace the existing file with a truncated one, whichever way
// the format's writer handles the failure (OIIO 2.4's PNG writer hides it, libjpeg exits).
TEST_F(ImageFiles, FailureInsideTheWriterRemovesTheTemporary) {
  const Tensor small = random_image(3, 4, 5, -1.0f, 1.0f, 12);
  const Tensor noise = random_image(3, 256, 256, -1.0f, 1.0f, 13);  // incompressible: > 100 KB
  std::vector<std::string> names, originals;
  for (const char* name : {"keep.png", "keep.jpg", "keep.exr", "keep.tif"}) {
    write_image(path(name), small);
    names.push_back(name);
    originals.push_back(file_bytes(path(name)));
  }

  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  rlimit limited = saved;
  limited.rlim_cur = 16 * 1024;
  void (*saved_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of a fatal signal
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::vector<std::string> messages;
  for (const std::string& name : names) {
    try {
      write_image(path(name), noise);
      messages.push_back("");
    } catch (const Error& error) {
      messages.push_back(error.what());
    }
  }
  setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, saved_handler);

  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_NE(messages[i].find(path(names[i])), std::string::npos) << names[i] << ": " << messages[i];
    EXPECT_EQ(file_bytes(path(names[i])), originals[i]) << names[i];
  }
  EXPECT_EQ(listing().size(), names.size());  // no temporaries
}

// ---- fit_to_size ---------------------------------------------------------------------------

// Expected values from the reference's Python (run_infinity.transform) for the same sizes.
TEST(ImageFit, GeometryMatchesTheReference) {
  struct Case {
    int w, h, tw, th, rw, rh, cx, cy;
  };
  for (const Case& c : std::vector<Case>{{1000, 750, 1024, 1024, 1365, 1024, 170, 0},
                                         {750, 1000, 1024, 1024, 1024, 1365, 0, 170},
                                         {1024, 1024, 1024, 1024, 1024, 1024, 0, 0},
                                         {1920, 1080, 1216, 832, 1479, 832, 131, 0},
                                         {3024, 4032, 896, 1152, 896, 1194, 0, 21},
                                         {333, 777, 1152, 896, 1152, 2688, 0, 896},
                                         {1023, 1025, 1024, 1024, 1024, 1026, 0, 1},
                                         {1, 1000, 64, 64, 64, 64000, 0, 31968}}) {
    const FitResult fit = fit_geometry(c.w, c.h, c.tw, c.th);
    EXPECT_EQ(fit.resized_w, c.rw) << c.w << "x" << c.h;
    EXPECT_EQ(fit.resized_h, c.rh) << c.w << "x" << c.h;
    EXPECT_EQ(fit.crop_x, c.cx) << c.w << "x" << c.h;
    EXPECT_EQ(fit.crop_y, c.cy) << c.w << "x" << c.h;
  }
  EXPECT_THROW(fit_geometry(0, 10, 64, 64), Error);
  EXPECT_THROW(fit_geometry(10, 10, 64, 0), Error);
}

TEST(ImageFit, DescribesWhatHappened) {
  EXPECT_EQ(fit_geometry(1000, 750, 1024, 1024).describe(),
            "1000x750 -> resized 1365x1024 (lanczos3) -> centre crop 1024x1024 at (170, 0)");
  FitResult fit = fit_to_size(random_image(3, 75, 100, -1.0f, 1.0f, 14), 64, 64);
  EXPECT_EQ(fit.describe(), "100x75 -> resized 85x64 (lanczos3) -> centre crop 64x64 at (10, 0)");
  fit = fit_to_size(random_image(3, 20, 16, -1.0f, 1.0f, 15), 16, 16);
  EXPECT_EQ(fit.describe(), "16x20 -> centre crop 16x16 at (0, 2)");
  fit = fit_to_size(random_image(3, 16, 16, -1.0f, 1.0f, 16), 16, 16);
  EXPECT_EQ(fit.describe(), "16x16 (already the target size)");
}

TEST(ImageFit, CropOnlyCopiesTheCentre) {
  const Tensor rgb = random_image(3, 20, 16, -1.0f, 1.0f, 17);
  const FitResult fit = fit_to_size(rgb, 16, 16);
  ASSERT_EQ(fit.rgb.shape(), (Shape{3, 16, 16}));
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 16; ++x) ASSERT_EQ(at(fit.rgb, c, y, x), at(rgb, c, y + 2, x));
}

TEST(ImageFit, ConstantImagesStayConstantUpToTheEdges) {
  Tensor rgb = Tensor::host(DType::f32, {3, 30, 50});
  for (int64_t i = 0; i < rgb.numel(); ++i) rgb.data_as<float>()[i] = i < 1500 ? 0.25f : -0.5f;
  for (auto size : std::vector<std::pair<int, int>>{{16, 16}, {64, 48}, {200, 120}}) {
    const FitResult fit = fit_to_size(rgb, size.first, size.second);
    for (int y = 0; y < size.second; ++y)
      for (int x = 0; x < size.first; ++x) {
        ASSERT_NEAR(at(fit.rgb, 0, y, x), 0.25f, 1e-5);
        ASSERT_NEAR(at(fit.rgb, 2, y, x), -0.5f, 1e-5);
      }
  }
}

// PIL's LANCZOS (Resample.c) in float, for one axis: filter support 3 * max(in/out, 1) source
// pixels, pixel centres aligned, taps normalised over the pixels inside the image.
std::vector<double> pil_lanczos_axis(const std::vector<double>& in, int out_size) {
  const auto in_size = static_cast<int>(in.size());
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0), support = 3.0 * filter_scale;
  constexpr double kPi = 3.14159265358979323846;
  auto sinc = [](double x) { return x == 0.0 ? 1.0 : std::sin(kPi * x) / (kPi * x); };
  std::vector<double> out(static_cast<size_t>(out_size));
  for (int o = 0; o < out_size; ++o) {
    const double centre = (o + 0.5) * scale;
    const int first = std::max(static_cast<int>(centre - support + 0.5), 0);
    const int end = std::min(static_cast<int>(centre + support + 0.5), in_size);
    double sum = 0.0, weights = 0.0;
    for (int i = first; i < end; ++i) {
      const double t = (i - centre + 0.5) / filter_scale;
      const double w = std::fabs(t) < 3.0 ? sinc(t) * sinc(t / 3.0) : 0.0;
      sum += w * in[static_cast<size_t>(i)], weights += w;
    }
    out[static_cast<size_t>(o)] = sum / weights;
  }
  return out;
}

// OIIO's lanczos3 against PIL's on the interior, where both see the same taps (at the borders
// PIL renormalises over fewer taps, OIIO clamps: those pixels may differ slightly).
TEST(ImageFit, LanczosMatchesPilAwayFromTheBorder) {
  for (auto sizes : std::vector<std::array<int, 4>>{{40, 30, 16, 12}, {10, 8, 50, 40}}) {
    const int w = sizes[0], h = sizes[1], tw = sizes[2], th = sizes[3];
    const Tensor rgb = random_image(3, h, w, -0.6f, 0.6f, 18);
    const FitResult fit = fit_to_size(rgb, tw, th);
    ASSERT_EQ(fit.resized_w, tw);
    ASSERT_EQ(fit.resized_h, th);
    // Taps reach 3 source pixels, or 3 target pixels when shrinking.
    const int margin = 3 * std::max(1, (th + h - 1) / h) + 1;
    double worst = 0.0;
    for (int c = 0; c < 3; ++c) {
      // Separable: rows first, then columns, as PIL does.
      std::vector<std::vector<double>> rows(static_cast<size_t>(h));
      for (int y = 0; y < h; ++y) {
        std::vector<double> line(static_cast<size_t>(w));
        for (int x = 0; x < w; ++x) line[static_cast<size_t>(x)] = at(rgb, c, y, x);
        rows[static_cast<size_t>(y)] = pil_lanczos_axis(line, tw);
      }
      for (int x = margin; x < tw - margin; ++x) {
        std::vector<double> column(static_cast<size_t>(h));
        for (int y = 0; y < h; ++y)
          column[static_cast<size_t>(y)] = rows[static_cast<size_t>(y)][static_cast<size_t>(x)];
        const std::vector<double> expected = pil_lanczos_axis(column, th);
        for (int y = margin; y < th - margin; ++y)
          worst = std::max(worst, std::fabs(expected[static_cast<size_t>(y)] - at(fit.rgb, c, y, x)));
      }
    }
    EXPECT_LT(worst, 1e-4) << w << "x" << h << " -> " << tw << "x" << th;
  }
}

}  // namespace
}  // namespace inf
