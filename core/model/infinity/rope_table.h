// The 2-D RoPE table of a scale schedule (spec §5.5, rope2d_normalized_by_hw = 2).
//
// Token (i, j) of a scale with grid (ph, pw) sits at position
//   row = rint_half_even(fp32(i) * fp32(U / ph)),  col = rint_half_even(fp32(j) * fp32(W / pw))
// on the template's 1M grid (U, W) = schedule.rope_grid. Its hd/2 angles are
//   angle[p] = fp32(row) * inv_freq[p]            for p < hd/4
//   angle[p] = fp32(col) * inv_freq[p - hd/4]     for hd/4 <= p < hd/2
// with inv_freq[j] = 1 / theta^(2j / (hd/2)), and pair p of a head is (x[2p], x[2p+1]).
#pragma once

#include "model/infinity/scale_schedule.h"
#include "tensor/tensor.h"

namespace inf {

struct RopeTable {
  Tensor cos, sin;  // f32 [total_tokens, head_dim/2], rows in schedule order (scale 0 first, raster inside)
  Tensor positions;  // i32 [total_tokens, 2]: (row, col) on the rope grid
};

// Throws inf::Error(invalid_argument) when head_dim is not a positive multiple of 4 or theta
// is not positive.
RopeTable make_rope_table(const ScaleSchedule& schedule, int head_dim, double theta = 10000.0);

// The rows of one scale: a narrow view of `table` ([total_tokens, ...] -> [tokens(scale), ...]).
Tensor rows_for_scale(const Tensor& table, const ScaleSchedule& schedule, int scale);

// The rounded position of index `index` on an axis of `grid_size` cells rescaled to
// `rope_size` cells (exposed for tests).
int rope_axis_position(int index, int grid_size, int rope_size);

}  // namespace inf
