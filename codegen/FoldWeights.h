//===- FoldWeights.h - Weight-only computations at compile time -*- C++ -*-===//
//
// Some fusions leave work on the weights alone in the graph: a transpose of
// a weight stored the other way round, halves joined into one matrix, an
// expert's matrix read out of a stack. Compiled as they are, they copy the
// weight on every call (H (dn + dv) C values per layer for an exported
// kv_b: 16.8M at DeepSeek-V3's size). When the compiler holds the weights'
// data (ONNX initializers, embedded in the artifact), it evaluates such
// computations once, here, and the artifact packs their results as
// weights of their own.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_CODEGEN_FOLDWEIGHTS_H
#define DSC_CODEGEN_FOLDWEIGHTS_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LLVM.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace mlir::dsc {

/// The f32 data of the weight `name`, row-major, of `shape`; false when it
/// cannot be had.
using WeightData = std::function<bool(StringRef name, ArrayRef<int64_t> shape,
                                      std::vector<float> &data)>;

/// Replaces each weight-only value that the rest of the graph reads by a
/// `dsc.weight` named `<first weight read>.folded.<n>`, whose f32 data goes
/// to `folded`. Weight-only: f32 with static shapes, computed from
/// `dsc.weight`s and constants by copies (linalg.generic yielding an input,
/// read through projected permutations or constant indices: transposes,
/// broadcasts, gathers at constant indices), slices, slice insertions,
/// reshapes and fills. A value whose weights' data cannot be had stays in
/// the graph, computed on every call. The computations left unused are
/// erased. Returns how many values were folded.
unsigned
foldWeightComputations(ModuleOp module, const WeightData &data,
                       std::map<std::string, std::vector<float>> &folded);

} // namespace mlir::dsc

#endif // DSC_CODEGEN_FOLDWEIGHTS_H
