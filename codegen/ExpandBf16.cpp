//===- ExpandBf16.cpp - bf16 conversions as integer ops ------------------===//
//
// The host CPU code converts to and from bf16 with integer ops: LLVM would
// lower `fptrunc` to bf16 as a call to libgcc's __truncsfbf2, which the
// host object (linked without libgcc) cannot resolve. Only MLIR's bf16
// expansions apply (round to nearest even, NaN kept quiet): the rest of
// arith-expand would also turn float min/max into compare-and-select
// chains, which this pipeline has no reason to change.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Transforms/Passes.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCEXPANDBF16
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;

namespace {
struct DscExpandBf16Pass
    : mlir::dsc::impl::DscExpandBf16Base<DscExpandBf16Pass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    arith::populateExpandBFloat16Patterns(patterns);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace
