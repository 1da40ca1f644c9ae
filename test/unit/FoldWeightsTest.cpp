//===- FoldWeightsTest.cpp - Host evaluation of weight-only computations --===//
//
// foldWeightComputations against values computed here by hand: a transpose
// read both by the graph and by a slice of it, two halves joined by slice
// insertions and reshaped, a gather at a constant index, a fill, and a
// computation whose weight has no data (left in the graph).
//
//===----------------------------------------------------------------------===//

#include "codegen/FoldWeights.h"

#include "dialects/dsc/DscDialect.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

constexpr const char *kModule = R"mlir(
#id = affine_map<(i, j) -> (i, j)>
#t = affine_map<(i, j) -> (j, i)>
module {
  func.func @forward(%x: tensor<4x2xf32>) -> (tensor<2x3xf32>, tensor<2x2xf32>, tensor<8x2xf32>, tensor<3x2xf32>, tensor<2x2xf32>, tensor<3x2xf32>) {
    %w = dsc.weight "w" : tensor<3x2xf32>
    // The transpose, read by the graph (returned) and by a slice of it.
    %e = tensor.empty() : tensor<2x3xf32>
    %wt = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%w : tensor<3x2xf32>) outs(%e : tensor<2x3xf32>) {
    ^bb0(%a: f32, %o: f32):
      linalg.yield %a : f32
    } -> tensor<2x3xf32>
    %s = tensor.extract_slice %wt[0, 1] [2, 2] [1, 1] : tensor<2x3xf32> to tensor<2x2xf32>
    // Two halves joined along dim 1 of a [2, 4, 2] view, then flattened.
    %a = dsc.weight "a" : tensor<2x2x2xf32>
    %b = dsc.weight "b" : tensor<2x2x2xf32>
    %je = tensor.empty() : tensor<2x4x2xf32>
    %j0 = tensor.insert_slice %a into %je[0, 0, 0] [2, 2, 2] [1, 1, 1] : tensor<2x2x2xf32> into tensor<2x4x2xf32>
    %j1 = tensor.insert_slice %b into %j0[0, 2, 0] [2, 2, 2] [1, 1, 1] : tensor<2x2x2xf32> into tensor<2x4x2xf32>
    %j = tensor.collapse_shape %j1 [[0, 1], [2]] : tensor<2x4x2xf32> into tensor<8x2xf32>
    // Matrix 1 of a stack, read at a constant index.
    %stack = dsc.weight "stack" : tensor<2x3x2xf32>
    %c1 = arith.constant 1 : index
    %ge = tensor.empty() : tensor<3x2xf32>
    %g = linalg.generic {indexing_maps = [#id], iterator_types = ["parallel", "parallel"]} outs(%ge : tensor<3x2xf32>) {
    ^bb0(%o: f32):
      %i = linalg.index 0 : index
      %k = linalg.index 1 : index
      %v = tensor.extract %stack[%c1, %i, %k] : tensor<2x3x2xf32>
      linalg.yield %v : f32
    } -> tensor<3x2xf32>
    // A fill inserted (rank-reduced) into a slice of a weight: reads a
    // weight, so folded.
    %half = arith.constant 0.5 : f32
    %fe = tensor.empty() : tensor<2xf32>
    %f = linalg.fill ins(%half : f32) outs(%fe : tensor<2xf32>) -> tensor<2xf32>
    %fw = tensor.insert_slice %f into %s[0, 0] [1, 2] [1, 1] : tensor<2xf32> into tensor<2x2xf32>
    // A weight without data: its transpose stays.
    %m = dsc.weight "missing" : tensor<2x3xf32>
    %me = tensor.empty() : tensor<3x2xf32>
    %mt = linalg.generic {indexing_maps = [#t, #id], iterator_types = ["parallel", "parallel"]} ins(%m : tensor<2x3xf32>) outs(%me : tensor<3x2xf32>) {
    ^bb0(%a2: f32, %o2: f32):
      linalg.yield %a2 : f32
    } -> tensor<3x2xf32>
    return %wt, %s, %j, %g, %fw, %mt : tensor<2x3xf32>, tensor<2x2xf32>, tensor<8x2xf32>, tensor<3x2xf32>, tensor<2x2xf32>, tensor<3x2xf32>
  }
}
)mlir";

/// Weight `name` holds 100 * k + i at flat position i, k its name's first
/// letter's position in "wabs" ("missing" has none).
bool testData(StringRef name, ArrayRef<int64_t> shape,
              std::vector<float> &data) {
  size_t k = StringRef("wabs").find(name.front());
  if (name == "missing" || k == StringRef::npos)
    return false;
  int64_t count = 1;
  for (int64_t extent : shape)
    count *= extent;
  data.resize(count);
  for (int64_t i = 0; i < count; ++i)
    data[i] = static_cast<float>(100 * k + i);
  return true;
}

TEST(FoldWeights, EvaluatesWhatTheGraphReads) {
  DialectRegistry registry;
  registry.insert<dsc::DscDialect, arith::ArithDialect, func::FuncDialect,
                  linalg::LinalgDialect, tensor::TensorDialect>();
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(kModule, ParserConfig(&context));
  ASSERT_TRUE(module);

  std::map<std::string, std::vector<float>> folded;
  unsigned count = mlir::dsc::foldWeightComputations(*module, testData, folded);
  // %wt, %s (read by the fill's insertion, which the graph reads), %j, %g,
  // %fw; not %mt.
  EXPECT_EQ(count, 5u);
  ASSERT_EQ(folded.size(), 5u);

  // w = [[0, 1], [2, 3], [4, 5]]: its transpose, and columns 1..2 of it.
  EXPECT_EQ(folded["w.folded.0"], (std::vector<float>{0, 2, 4, 1, 3, 5}));
  EXPECT_EQ(folded["w.folded.1"], (std::vector<float>{2, 4, 3, 5}));
  // a (100 + i) rows then b (200 + i) rows, per leading index (named
  // after b, the first weight the join reads).
  EXPECT_EQ(folded["b.folded.2"],
            (std::vector<float>{100, 101, 102, 103, 200, 201, 202, 203, 104,
                                105, 106, 107, 204, 205, 206, 207}));
  // stack = 300 + i, matrix 1 starts at 6.
  EXPECT_EQ(folded["stack.folded.3"],
            (std::vector<float>{306, 307, 308, 309, 310, 311}));
  // Row 0 filled with 0.5, row 1 that of the slice.
  EXPECT_EQ(folded["w.folded.4"], (std::vector<float>{0.5f, 0.5f, 3, 5}));

  // The graph reads the folded weights; the missing weight's transpose
  // stays, and nothing else is computed.
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  unsigned generics = 0;
  std::vector<std::string> weights;
  forward.walk([&](Operation *op) {
    if (auto weight = dyn_cast<dsc::WeightOp>(op))
      weights.push_back(weight.getName().str());
    generics += isa<linalg::GenericOp>(op);
  });
  std::sort(weights.begin(), weights.end());
  EXPECT_EQ(weights, (std::vector<std::string>{"b.folded.2", "missing",
                                               "stack.folded.3", "w.folded.0",
                                               "w.folded.1", "w.folded.4"}));
  EXPECT_EQ(generics, 1u);
}

} // namespace
