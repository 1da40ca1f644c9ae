//===- ApproximateMath.cpp - Inline approximations of math functions ------===//
//
// libm calls are opaque to LLVM's loop vectorizer: a softmax over a row runs
// one `expf` call per element. MLIR's polynomial approximations are plain
// arithmetic, which the vectorizer widens like any other loop body.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Math/Transforms/Approximation.h"
#include "mlir/Dialect/Math/Transforms/Passes.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"

#define DEBUG_TYPE "dsc-approximate-math"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCAPPROXIMATEMATH
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
struct DscApproximateMathPass
    : mlir::dsc::impl::DscApproximateMathBase<DscApproximateMathPass> {
  using Base::Base;

  LogicalResult initialize(MLIRContext *context) override {
    // The ops MLIR approximates with plain arith/math (its rsqrt needs the
    // x86vector dialect, which the CPU pipeline does not lower).
    static constexpr StringLiteral kKnown[] = {
        "acos", "asin",  "atan", "atan2", "cbrt", "cos", "erf", "erfc",
        "exp",  "expm1", "log",  "log1p", "log2", "sin", "tanh"};
    for (const std::string &name : opNames) {
      if (!llvm::is_contained(kKnown, name))
        return emitError(UnknownLoc::get(context))
               << "dsc-approximate-math: no approximation of 'math." << name
               << "' (known: "
               << llvm::join(ArrayRef<StringLiteral>(kKnown), ", ") << ")";
      names.insert("math." + name);
    }
    if (names.empty())
      names.insert(math::ExpOp::getOperationName());
    RewritePatternSet set(context);
    populateMathPolynomialApproximationPatterns(
        set, [&](StringRef name) { return names.contains(name); });
    patterns = std::move(set);
    return success();
  }

  void runOnOperation() override {
    if (failed(applyPatternsGreedily(getOperation(), patterns)))
      signalPassFailure();
  }

  llvm::StringSet<> names;
  FrozenRewritePatternSet patterns;
};
} // namespace
