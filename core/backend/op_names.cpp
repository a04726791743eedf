#include "backend/backend.h"

namespace inf {

const char* unary_op_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::gelu_tanh: return "gelu_tanh";
    case UnaryOp::silu: return "silu";
    case UnaryOp::neg: return "neg";
    case UnaryOp::exp: return "exp";
  }
  return "?";
}

const char* binary_op_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::add: return "add";
    case BinaryOp::sub: return "sub";
    case BinaryOp::mul: return "mul";
  }
  return "?";
}

}  // namespace inf
