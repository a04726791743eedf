#include "model/infinity/rope_table.h"

#include <cfenv>
#include <cmath>
#include <vector>

#include "common/error.h"

namespace inf {
namespace {

// inv_freq[j] = 1 / theta^(2j / half) for j < half/2, rounded the way the reference's fp32
// tensor ops round each step: the exponent arange(0, half, 2).float() / half in fp32, the power
// rounded to fp32 (computed in double, so it is the correctly rounded value), then an fp32
// reciprocal.
std::vector<float> inverse_frequencies(int head_dim, double theta) {
  const int half = head_dim / 2;
  std::vector<float> inv_freq(static_cast<size_t>(half / 2));
  for (int j = 0; j < half / 2; ++j) {
    const float exponent = static_cast<float>(2 * j) / static_cast<float>(half);
    const float power = static_cast<float>(std::pow(theta, static_cast<double>(exponent)));
    inv_freq[static_cast<size_t>(j)] = 1.0f / power;
  }
  return inv_freq;
}

}  // namespace

int rope_axis_position(int index, int grid_size, int rope_size) {
  // Python's rope_size / grid_size is a double; the tensor op rounds it to fp32 and multiplies in
  // fp32. torch.round is half-to-even, which nearbyint gives under the default rounding mode.
  const float step = static_cast<float>(static_cast<double>(rope_size) / grid_size);
  const float scaled = static_cast<float>(index) * step;
  return static_cast<int>(std::nearbyint(scaled));
}

RopeTable make_rope_table(const ScaleSchedule& schedule, int head_dim, double theta) {
  INF_CHECK(head_dim > 0 && head_dim % 4 == 0, ErrorKind::invalid_argument,
            "2-D RoPE needs a head dim divisible by 4 (row and column pairs), got ", head_dim);
  INF_CHECK(std::isfinite(theta) && theta > 0.0, ErrorKind::invalid_argument, "RoPE theta must be positive, got ",
            theta);
  schedule_from_grids(schedule.grids, schedule.rope_grid);  // the same checks as any schedule (throws)
  INF_CHECK(std::fegetround() == FE_TONEAREST, ErrorKind::internal,
            "RoPE positions need the default rounding mode (round to nearest even)");

  const int half = head_dim / 2;     // angles per token
  const int quarter = head_dim / 4;  // angles per axis
  const std::vector<float> inv_freq = inverse_frequencies(head_dim, theta);
  const int64_t total = schedule.total_tokens();

  RopeTable table;
  table.cos = Tensor::host(DType::f32, {total, half});        // [total_tokens, hd/2]
  table.sin = Tensor::host(DType::f32, {total, half});        // [total_tokens, hd/2]
  table.positions = Tensor::host(DType::i32, {total, 2});     // [total_tokens, (row, col)]
  float* cos_out = table.cos.data_as<float>();
  float* sin_out = table.sin.data_as<float>();
  int32_t* pos_out = table.positions.data_as<int32_t>();

  std::vector<float> angles(static_cast<size_t>(half));
  int64_t token = 0;
  for (const ScaleGrid& grid : schedule.grids) {
    for (int i = 0; i < grid.h; ++i) {
      const int row = rope_axis_position(i, grid.h, schedule.rope_grid.h);
      for (int j = 0; j < grid.w; ++j, ++token) {
        const int col = rope_axis_position(j, grid.w, schedule.rope_grid.w);
        pos_out[2 * token] = row;
        pos_out[2 * token + 1] = col;
        for (int p = 0; p < quarter; ++p) {
          angles[static_cast<size_t>(p)] = static_cast<float>(row) * inv_freq[static_cast<size_t>(p)];
          angles[static_cast<size_t>(quarter + p)] = static_cast<float>(col) * inv_freq[static_cast<size_t>(p)];
        }
        // cos/sin of the fp32 angle evaluated in double and rounded once: the correctly rounded
        // fp32 value, independent of the libm's float routines.
        for (int p = 0; p < half; ++p) {
          const double angle = angles[static_cast<size_t>(p)];
          cos_out[token * half + p] = static_cast<float>(std::cos(angle));
          sin_out[token * half + p] = static_cast<float>(std::sin(angle));
        }
      }
    }
  }
  return table;
}

Tensor rows_for_scale(const Tensor& table, const ScaleSchedule& schedule, int scale) {
  INF_CHECK(table.ndim() >= 1 && table.dim(0) == schedule.total_tokens(), ErrorKind::invalid_argument,
            "table ", table.describe(), " does not have one row per token of the schedule (",
            schedule.total_tokens(), ")");
  return table.narrow(0, schedule.offset(scale), schedule.tokens(scale));
}

}  // namespace inf
