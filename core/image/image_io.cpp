#include "image/image_io.h"

#include <OpenImageIO/filesystem.h>
#include <OpenImageIO/imageio.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <limits>
#include <memory>
#include <sstream>
#include <system_error>
#include <vector>

#include "common/error.h"
#include "common/log.h"
#include "image/pixels.h"

namespace inf {
namespace {

namespace fs = std::filesystem;

// OIIO's messages may span lines (one per libpng/libtiff complaint); ours are one line.
std::string one_line(std::string message) {
  for (char& c : message)
    if (c == '\n' || c == '\r') c = ' ';
  message.erase(std::unique(message.begin(), message.end(),
                            [](char a, char b) { return a == ' ' && b == ' '; }),
                message.end());
  while (!message.empty() && message.back() == ' ') message.pop_back();
  return message.empty() ? std::string("no details from OpenImageIO") : message;
}

std::string lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_float_format(const std::string& oiio_format) {
  return oiio_format == "openexr" || oiio_format == "hdr";
}

// EXR and HDR have no standard tag for sRGB-encoded values (OIIO 2.4 reports every EXR as
// "Linear"), so write_image marks float files it fills with sRGB values with this attribute.
constexpr const char* kEncodingAttribute = "infinode:encoding";

// Whether the file's pixels are linear light: our own mark first, then OIIO's oiio:ColorSpace
// ("sRGB" for PNG/JPEG/TIFF, "Linear" for EXR, or what the file was tagged with), and when that
// names neither, the format's convention.
bool file_is_linear(const OIIO::ImageSpec& spec, const std::string& oiio_format) {
  const std::string mark = lower(spec.get_string_attribute(kEncodingAttribute));
  if (mark == "linear" || mark == "srgb") return mark == "linear";
  const std::string space = lower(spec.get_string_attribute("oiio:ColorSpace"));
  if (space.rfind("lin", 0) == 0 || space == "scene_linear" || space.find("acescg") != std::string::npos)
    return true;
  if (space.find("srgb") != std::string::npos || space.find("rec709") != std::string::npos ||
      space.find("gamma") != std::string::npos)
    return false;
  return is_float_format(oiio_format);
}

// Which file channels feed R, G, B and alpha (-1: none).
struct ChannelRoles {
  int red = 0, green = 0, blue = 0, alpha = -1;
  bool grey = false;
};

int find_channel(const OIIO::ImageSpec& spec, const char* name) {
  for (int c = 0; c < spec.nchannels; ++c)
    if (lower(spec.channel_name(c)) == lower(name)) return c;
  return -1;
}

ChannelRoles pick_channels(const OIIO::ImageSpec& spec, const std::string& path) {
  ChannelRoles roles;
  const int count = spec.nchannels;
  if (count <= 2) {
    roles.grey = true;
    if (count == 2) roles.alpha = spec.alpha_channel >= 0 ? spec.alpha_channel : 1;
    roles.red = roles.green = roles.blue = roles.alpha == 0 ? 1 : 0;
    log_warn(path, ": grey image", count == 2 ? " (with alpha)" : "", " used as RGB");
    return roles;
  }
  roles.alpha = spec.alpha_channel >= 0 ? spec.alpha_channel : find_channel(spec, "A");
  if (count == 3) roles.alpha = -1;  // three channels are colour, whatever the file claims
  const int red = find_channel(spec, "R"), green = find_channel(spec, "G"), blue = find_channel(spec, "B");
  if (red >= 0 && green >= 0 && blue >= 0) {
    roles.red = red, roles.green = green, roles.blue = blue;
  } else {
    // Unnamed channels: the first three that are not alpha, in file order.
    std::vector<int> colour;
    for (int c = 0; c < count && colour.size() < 3; ++c)
      if (c != roles.alpha) colour.push_back(c);
    roles.red = colour[0], roles.green = colour[1], roles.blue = colour[2];
  }
  // RGB plus one unnamed channel: the fourth is alpha, as every RGBA convention has it.
  if (count == 4 && roles.alpha < 0) roles.alpha = 6 - roles.red - roles.green - roles.blue;
  if (count > 4) {
    std::ostringstream used;
    used << spec.channel_name(roles.red) << ',' << spec.channel_name(roles.green) << ','
         << spec.channel_name(roles.blue);
    if (roles.alpha >= 0) used << ',' << spec.channel_name(roles.alpha);
    log_warn(path, ": ", count, " channels; using ", used.str(), " and ignoring the rest");
  }
  return roles;
}

void check_dimensions(const OIIO::ImageSpec& spec, const std::string& path, const ReadOptions& options) {
  INF_CHECK(spec.width > 0 && spec.height > 0 && spec.nchannels > 0, ErrorKind::invalid_data, path,
            ": image has no pixels (", spec.width, "x", spec.height, ", ", spec.nchannels, " channels)");
  INF_CHECK(spec.depth <= 1, ErrorKind::unsupported, path, ": volume images (depth ", spec.depth,
            ") are not supported");
  INF_CHECK(!spec.deep, ErrorKind::unsupported, path, ": deep images are not supported");
  const int64_t width = spec.width, height = spec.height;
  INF_CHECK(width <= options.max_side && height <= options.max_side, ErrorKind::invalid_data, path, ": ",
            width, "x", height, " exceeds the largest side allowed (", options.max_side, ")");
  INF_CHECK(width * height <= options.max_pixels, ErrorKind::invalid_data, path, ": ", width, "x", height,
            " exceeds the pixel limit (", options.max_pixels, ")");
}

}  // namespace

std::string LoadedImage::describe() const {
  std::ostringstream out;
  out << width() << 'x' << height() << ' ' << source_format << ", " << source_channels << " channel"
      << (source_channels == 1 ? "" : "s") << ' ' << source_type << ", "
      << (was_linear ? "linear (converted to sRGB)" : "sRGB");
  return out.str();
}

LoadedImage read_image(const std::string& path, const ReadOptions& options) {
  std::error_code error;
  INF_CHECK(fs::exists(path, error), ErrorKind::io, path, ": no such file");
  INF_CHECK(!fs::is_directory(path, error), ErrorKind::io, path, ": is a folder, not an image");

  // Ask for alpha as stored: OIIO would otherwise premultiply PNG/TIFF colour by alpha.
  OIIO::ImageSpec config;
  config.attribute("oiio:UnassociatedAlpha", 1);
  std::unique_ptr<OIIO::ImageInput> input = OIIO::ImageInput::open(path, &config);
  if (!input) fail(ErrorKind::invalid_data, path, ": cannot read image: ", one_line(OIIO::geterror()));
  const OIIO::ImageSpec spec = input->spec();
  check_dimensions(spec, path, options);

  LoadedImage image;
  image.source_channels = spec.nchannels;
  image.source_format = input->format_name();
  image.source_type = spec.format.c_str();
  for (const OIIO::ParamValue& attribute : spec.extra_attribs)
    // oiio:* are OIIO's own annotations (e.g. its colour space guess), not the file's text.
    if (attribute.type() == OIIO::TypeString && attribute.name().string().rfind("oiio:", 0) != 0)
      image.text[attribute.name().string()] = attribute.get_string();
  if (spec.get_int_attribute("oiio:subimages", 1) > 1)
    log_warn(path, ": has ", spec.get_int_attribute("oiio:subimages", 1), " subimages; reading the first");

  const ChannelRoles roles = pick_channels(spec, path);
  // Read only the channel span we use, as float (OIIO converts from any stored type; integer
  // types come out in [0, 1]).
  int first = std::min({roles.red, roles.green, roles.blue});
  int last = std::max({roles.red, roles.green, roles.blue, roles.alpha});
  if (roles.alpha >= 0) first = std::min(first, roles.alpha);
  const int span = last - first + 1;
  const auto pixels = static_cast<size_t>(spec.width) * static_cast<size_t>(spec.height);
  std::vector<float> interleaved(pixels * static_cast<size_t>(span));
  if (!input->read_image(0, 0, first, last + 1, OIIO::TypeFloat, interleaved.data()))
    fail(ErrorKind::invalid_data, path, ": cannot read pixels: ", one_line(input->geterror()));
  input->close();

  image.was_linear = options.assume_linear || file_is_linear(spec, image.source_format);
  // EXR (and TIFF unless marked unassociated) store colour premultiplied by alpha; the model
  // wants the colour itself.
  const bool premultiplied = roles.alpha >= 0 && spec.get_int_attribute("oiio:UnassociatedAlpha", 0) == 0;

  const int64_t height = spec.height, width = spec.width;
  image.rgb = Tensor(make_host_buffer(3 * pixels * sizeof(float), false), DType::f32,
                     {3, height, width});  // [3, H, W]
  if (roles.alpha >= 0)
    image.alpha = Tensor(make_host_buffer(pixels * sizeof(float), false), DType::f32,
                         {1, height, width});  // [1, H, W]
  float* planes[3] = {image.rgb.data_as<float>(), image.rgb.data_as<float>() + pixels,
                      image.rgb.data_as<float>() + 2 * pixels};
  float* alpha_plane = roles.alpha >= 0 ? image.alpha.data_as<float>() : nullptr;
  const int sources[3] = {roles.red - first, roles.green - first, roles.blue - first};
  size_t clipped = 0;
  for (size_t p = 0; p < pixels; ++p) {
    const float* pixel = &interleaved[p * static_cast<size_t>(span)];
    const float alpha = alpha_plane ? clamp_finite(pixel[roles.alpha - first], 0.0f, 1.0f) : 1.0f;
    if (alpha_plane) alpha_plane[p] = alpha;
    for (int c = 0; c < 3; ++c) {
      float value = pixel[sources[c]];
      if (premultiplied && alpha > 0.0f) value /= alpha;
      if (image.was_linear) value = value > 0.0f ? linear_to_srgb(value) : 0.0f;
      if (value > 1.0f) ++clipped;
      planes[c][p] = clamp_finite(value, 0.0f, 1.0f) * 2.0f - 1.0f;
    }
  }
  if (clipped > 0)
    log_warn(path, ": ", clipped, " channel values above 1.0 (highlights beyond white) clipped to 1.0");
  return image;
}

namespace {

// Where a write goes until it is complete: a hidden file beside the target, with the same
// extension (OIIO picks writers by extension) and a name unique to this process and call.
fs::path temporary_path_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  const std::string name = "." + target.stem().string() + ".tmp-" + std::to_string(getpid()) + "-" +
                           std::to_string(counter.fetch_add(1)) + target.extension().string();
  return target.parent_path() / name;
}

OIIO::TypeDesc file_type_for(int bits, bool float_format, const std::string& path) {
  if (float_format) {
    if (bits == 0 || bits == 16) return OIIO::TypeHalf;
    if (bits == 32) return OIIO::TypeFloat;
    fail(ErrorKind::invalid_argument, path, ": EXR/HDR files take 16 (half) or 32 (float) bits, not ", bits);
  }
  if (bits == 0 || bits == 8) return OIIO::TypeDesc::UINT8;
  if (bits == 16) return OIIO::TypeDesc::UINT16;
  if (bits == 32) return OIIO::TypeFloat;
  fail(ErrorKind::invalid_argument, path, ": bits per channel must be 8, 16 or 32, not ", bits);
}

void check_text_key(const std::string& key, const std::string& path) {
  // PNG's rule for tEXt keywords (1-79 Latin-1 characters), which suits every other format.
  const bool printable = std::all_of(key.begin(), key.end(), [](char c) {
    return static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  });
  INF_CHECK(!key.empty() && key.size() <= 79 && printable, ErrorKind::invalid_argument, path,
            ": metadata key '", key, "' must be 1-79 printable characters");
}

// Writes `bytes` to `file` and flushes them to disk, checking every step (a full disk shows up
// here, at the latest in fsync). Returns the problem, or an empty string.
std::string write_bytes_to_file(const fs::path& file, const std::vector<unsigned char>& bytes) {
  const int descriptor = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (descriptor < 0) return std::string("cannot create the file: ") + std::strerror(errno);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t written = ::write(descriptor, bytes.data() + done, bytes.size() - done);
    if (written < 0 && errno == EINTR) continue;
    if (written <= 0) {
      const int write_error = errno;
      ::close(descriptor);
      return std::string("cannot write the file: ") + std::strerror(write_error);
    }
    done += static_cast<size_t>(written);
  }
  const bool synced = ::fsync(descriptor) == 0;
  const int sync_error = errno;
  if (::close(descriptor) != 0 && synced)
    return std::string("cannot finish the file: ") + std::strerror(errno);
  if (!synced) return std::string("cannot flush the file to disk: ") + std::strerror(sync_error);
  return {};
}

// For files OIIO wrote itself, which may be incomplete without OIIO saying so (see write_image):
// the temporary is flushed and decoded in full (in strips, to bound memory) before it may
// replace anything. Returns the problem, or an empty string.
std::string check_written_file(const fs::path& file, const OIIO::ImageSpec& written) {
  const int descriptor = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (descriptor < 0) return std::string("cannot reopen it: ") + std::strerror(errno);
  const bool synced = ::fsync(descriptor) == 0;
  const int sync_error = errno;
  ::close(descriptor);
  if (!synced) return std::string("cannot flush it to disk: ") + std::strerror(sync_error);

  std::unique_ptr<OIIO::ImageInput> input = OIIO::ImageInput::open(file.string());
  if (!input) return "the written file does not read back: " + OIIO::geterror();
  const OIIO::ImageSpec& spec = input->spec();
  if (spec.width != written.width || spec.height != written.height || spec.nchannels != written.nchannels)
    return "the written file reads back with a different size or channel count";
  constexpr int kStripRows = 64;
  std::vector<float> strip(static_cast<size_t>(spec.width) * static_cast<size_t>(spec.nchannels) *
                           kStripRows);
  for (int row = spec.y; row < spec.y + spec.height; row += kStripRows) {
    const int end = std::min(row + kStripRows, spec.y + spec.height);
    if (!input->read_scanlines(0, 0, row, end, 0, 0, spec.nchannels, OIIO::TypeFloat, strip.data()))
      return "the written file does not read back (disk full?): " + input->geterror();
  }
  return {};
}

// Fills `out` (interleaved, `channels` per pixel) from the planes, converting each value
// from the [0, 1] range it was mapped to with `to_file`.
template <typename T, typename Convert>
void interleave(std::vector<T>& out, const float* const* planes, int channels, size_t pixels,
                Convert to_file) {
  out.resize(pixels * static_cast<size_t>(channels));
  for (size_t p = 0; p < pixels; ++p)
    for (int c = 0; c < channels; ++c) out[p * static_cast<size_t>(channels) + c] = to_file(planes[c][p], c);
}

}  // namespace

void write_image(const std::string& path, const Tensor& rgb_input, const WriteOptions& options) {
  const Tensor rgb = contiguous_planar_image(rgb_input, 3, "write_image " + path + ": rgb");
  const int64_t height = rgb.dim(1), width = rgb.dim(2);
  constexpr int64_t largest = std::numeric_limits<int>::max();
  INF_CHECK(width <= largest && height <= largest, ErrorKind::invalid_argument, path, ": ", rgb.describe(),
            " is too large for an image file");
  Tensor alpha;
  if (options.alpha != nullptr) {
    alpha = contiguous_planar_image(*options.alpha, 1, "write_image " + path + ": alpha");
    INF_CHECK(alpha.dim(1) == height && alpha.dim(2) == width, ErrorKind::invalid_argument, path, ": alpha ",
              alpha.describe(), " does not match rgb ", rgb.describe());
  }
  for (const auto& entry : options.text) check_text_key(entry.first, path);

  const fs::path target(path);
  std::error_code error;
  const fs::path folder = target.parent_path().empty() ? fs::path(".") : target.parent_path();
  INF_CHECK(fs::is_directory(folder, error), ErrorKind::io, path, ": cannot write: folder '", folder.string(),
            "' does not exist");
  INF_CHECK(!fs::is_directory(target, error), ErrorKind::io, path, ": cannot write: it is a folder");

  std::unique_ptr<OIIO::ImageOutput> output = OIIO::ImageOutput::create(path);
  if (!output)
    fail(ErrorKind::unsupported, path, ": cannot write this file type (extension '",
         target.extension().string(), "'): ", one_line(OIIO::geterror()));
  const std::string format = output->format_name();
  // libjpeg's limit; beyond it libjpeg (through OIIO 2.4) exits the process instead of failing.
  constexpr int64_t kJpegLargestSide = 65500;
  INF_CHECK(format != "jpeg" || (width <= kJpegLargestSide && height <= kJpegLargestSide),
            ErrorKind::invalid_argument, path, ": JPEG images are at most ", kJpegLargestSide,
            " pixels on a side; this one is ", width, "x", height);
  const bool float_format = is_float_format(format);
  const bool linear = options.encoding.value_or(float_format ? ColorEncoding::linear : ColorEncoding::srgb) ==
                      ColorEncoding::linear;
  bool with_alpha = alpha.defined();
  if (with_alpha && !output->supports("alpha")) {
    log_warn(path, ": ", format, " files have no alpha channel; alpha dropped");
    with_alpha = false;
  }
  // EXR is premultiplied by definition; elsewhere we hand OIIO straight alpha and say so, or
  // it would divide the colour by alpha on the way out.
  const bool premultiply = with_alpha && format == "openexr";

  const int channels = with_alpha ? 4 : 3;
  OIIO::ImageSpec spec(static_cast<int>(width), static_cast<int>(height), channels,
                       file_type_for(options.bits, float_format, path));
  spec.channelnames = {"R", "G", "B"};
  if (with_alpha) {
    spec.channelnames.push_back("A");
    spec.alpha_channel = 3;
    if (!premultiply) spec.attribute("oiio:UnassociatedAlpha", 1);
  }
  spec.attribute("oiio:ColorSpace", linear ? "Linear" : "sRGB");
  if (float_format) spec.attribute(kEncodingAttribute, linear ? "linear" : "sRGB");
  for (const auto& entry : options.text) spec.attribute(entry.first, entry.second);

  const auto pixels = static_cast<size_t>(width) * static_cast<size_t>(height);
  const float* planes[4] = {rgb.data_as<float>(), rgb.data_as<float>() + pixels,
                            rgb.data_as<float>() + 2 * pixels, with_alpha ? alpha.data_as<float>() : nullptr};
  // Model range -> [0, 1], then into the file's encoding; alpha is already [0, 1].
  auto unit_value = [&](float value, int channel) {
    if (channel == 3) return clamp_finite(value, 0.0f, 1.0f);
    float unit = (clamp_finite(value, -1.0f, 1.0f) + 1.0f) / 2.0f;
    if (linear) unit = srgb_to_linear(unit);
    return unit;
  };
  std::vector<uint8_t> bytes;
  std::vector<uint16_t> words;
  std::vector<float> floats;
  const void* data = nullptr;
  OIIO::TypeDesc data_type = spec.format;
  if (spec.format == OIIO::TypeDesc::UINT8) {
    // Truncation, as model_to_u8 and the reference do.
    interleave(bytes, planes, channels, pixels,
               [&](float v, int c) { return static_cast<uint8_t>(unit_value(v, c) * 255.0f); });
    data = bytes.data();
  } else if (spec.format == OIIO::TypeDesc::UINT16) {
    interleave(words, planes, channels, pixels, [&](float v, int c) {
      return static_cast<uint16_t>(std::lround(unit_value(v, c) * 65535.0f));
    });
    data = words.data();
  } else {
    interleave(floats, planes, channels, pixels, unit_value);
    if (premultiply)
      for (size_t p = 0; p < pixels; ++p)
        for (size_t c = 0; c < 3; ++c) floats[p * 4 + c] *= floats[p * 4 + 3];
    data = floats.data();
    data_type = OIIO::TypeFloat;  // OIIO narrows to half itself
  }

  // OIIO 2.4 does not pass on every failed file write: on a full disk the PNG writer reports
  // success with a truncated file, and libjpeg exits the process. PNG and JPEG are therefore
  // encoded into memory and written by us, checking every error. (Not every format: the TIFF
  // writer produces broken files through a memory proxy in 2.4.) Other formats write their
  // file directly and are read back before they count as written.
  std::vector<unsigned char> encoded;
  OIIO::Filesystem::IOVecOutput memory(encoded);
  const bool in_memory = (format == "png" || format == "jpeg") && output->supports("ioproxy") &&
                         output->set_ioproxy(&memory);
  const fs::path temporary = temporary_path_for(target);
  auto abandon = [&](const std::string& what, const std::string& why) {
    output.reset();  // closes the file before it is removed
    if (!fs::is_directory(temporary, error)) fs::remove(temporary, error);
    fail(ErrorKind::io, path, ": ", what, ": ", one_line(why));
  };
  if (!output->open(temporary.string(), spec)) abandon("cannot create the file", output->geterror());
  if (!output->write_image(data_type, data)) abandon("cannot write the pixels", output->geterror());
  if (!output->close()) abandon("cannot finish the file", output->geterror());
  output.reset();
  const std::string problem = in_memory ? write_bytes_to_file(temporary, encoded)
                                        : check_written_file(temporary, spec);
  if (!problem.empty()) abandon("write failed", problem);
  fs::rename(temporary, target, error);
  if (error) abandon("cannot move the finished file into place", error.message());
}

}  // namespace inf
