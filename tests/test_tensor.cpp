// Tensor views: shapes, strides, narrow/reshape/permute, and bounds checks.
#include <gtest/gtest.h>

#include "common/error.h"
#include "tensor/tensor.h"

namespace inf {
namespace {

Tensor iota(const Shape& shape) {
  Tensor t = Tensor::host(DType::f32, shape);
  for (int64_t i = 0; i < t.numel(); ++i) t.data_as<float>()[i] = static_cast<float>(i);
  return t;
}

float at(const Tensor& t, std::initializer_list<int64_t> index) {
  int64_t offset = 0;
  size_t d = 0;
  for (int64_t i : index) offset += i * t.strides()[d++];
  return t.data_as<float>()[offset];
}

TEST(Tensor, ContiguousBasics) {
  const Tensor t = iota({2, 3, 4});
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_EQ(t.strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_EQ(t.dim(-1), 4);
  EXPECT_EQ(t.describe(), "f32[2, 3, 4]");
  EXPECT_THROW(t.dim(3), Error);
  EXPECT_THROW(t.data_as<int32_t>(), Error);
}

TEST(Tensor, NarrowSharesTheBuffer) {
  const Tensor t = iota({4, 5});
  const Tensor rows = t.narrow(0, 1, 2);
  EXPECT_EQ(rows.shape(), (Shape{2, 5}));
  EXPECT_EQ(at(rows, {0, 0}), 5.0f);
  EXPECT_TRUE(rows.is_contiguous());
  const Tensor columns = t.narrow(1, 3, 2);
  EXPECT_FALSE(columns.is_contiguous());
  EXPECT_EQ(at(columns, {2, 1}), 14.0f);
  EXPECT_EQ(columns.buffer(), t.buffer());
  EXPECT_EQ(t.narrow(1, 5, 0).numel(), 0);
  EXPECT_THROW(t.narrow(0, 3, 2), Error);
  EXPECT_THROW(t.narrow(0, -1, 1), Error);
}

TEST(Tensor, PermuteTransposeReshape) {
  const Tensor t = iota({2, 3, 4});
  const Tensor p = t.permute({2, 0, 1});
  EXPECT_EQ(p.shape(), (Shape{4, 2, 3}));
  EXPECT_EQ(at(p, {3, 1, 2}), at(t, {1, 2, 3}));
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_THROW(p.reshape({24}), Error);  // views that are not contiguous cannot be reshaped
  EXPECT_THROW(t.permute({0, 0, 1}), Error);
  const Tensor r = t.reshape({6, -1});
  EXPECT_EQ(r.shape(), (Shape{6, 4}));
  EXPECT_THROW(t.reshape({5, -1}), Error);
  EXPECT_THROW(t.reshape({-1, -1}), Error);
  EXPECT_EQ(t.transpose(0, 2).shape(), (Shape{4, 3, 2}));
  EXPECT_EQ(t.flatten_to_2d().shape(), (Shape{6, 4}));
}

TEST(Tensor, SizeOneDimsDoNotBreakContiguity) {
  const Tensor t = iota({3, 1, 4});
  EXPECT_TRUE(t.permute({1, 0, 2}).is_contiguous());
}

TEST(Tensor, ViewsMustFitTheirBuffer) {
  auto buffer = make_host_buffer(16);
  EXPECT_NO_THROW(Tensor(buffer, DType::f32, {4}));
  EXPECT_THROW(Tensor(buffer, DType::f32, {5}), Error);
  EXPECT_THROW(Tensor(buffer, DType::f32, {4}, 4), Error);
  EXPECT_THROW(Tensor(buffer, DType::f32, {2}, {3}, 8), Error);  // element 1 at byte 20
  EXPECT_NO_THROW(Tensor(buffer, DType::f32, {0}, {1}, 16));     // empty views may sit at the end
}

TEST(Tensor, AbsurdShapesAreRejected) {
  EXPECT_THROW(shape_numel({-1, 2}), Error);
  EXPECT_THROW(shape_numel({int64_t{1} << 40, int64_t{1} << 40}), Error);
  EXPECT_THROW(Tensor::host(DType::f32, {int64_t{1} << 40, int64_t{1} << 40}), Error);
}

}  // namespace
}  // namespace inf

namespace inf {
namespace {

TEST(Tensor, UnflattenSplitsStridedAxes) {
  const Tensor t = iota({2, 3, 8});
  const Tensor heads = t.narrow(2, 4, 4).unflatten(-1, {2, 2});  // a strided slice split into [2, 2]
  EXPECT_EQ(heads.shape(), (Shape{2, 3, 2, 2}));
  EXPECT_EQ(heads.strides(), (std::vector<int64_t>{24, 8, 2, 1}));
  EXPECT_EQ(at(heads, {1, 2, 1, 0}), at(t, {1, 2, 6}));
  EXPECT_THROW(t.unflatten(2, {3, 3}), Error);
}

}  // namespace
}  // namespace inf
