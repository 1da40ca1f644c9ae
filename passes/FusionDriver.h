//===- FusionDriver.h - Run fusion patterns function by function -*- C++
//-*-===//
//
// The fusion passes share how they run: each function's patterns are applied
// greedily, misses are collected from `notifyMatchFailure`, and with
// `report` each function gets one remark
//   fusion report: <function>: <pattern>: fused | not fused: <why> | <none>
// which `dsc-compile --fusion-report` prints as a table.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_PASSES_FUSIONDRIVER_H
#define DSC_PASSES_FUSIONDRIVER_H

#include "mlir/IR/Operation.h"
#include "mlir/Rewrite/FrozenRewritePatternSet.h"

namespace mlir::dsc {

struct FusionSpec {
  /// The pattern's name in the report ("moe", "mla").
  StringRef name;
  /// The status when a function holds no candidate ("no experts"); empty:
  /// such functions get no report remark.
  StringRef none;
  /// The failure reason that means "not a candidate at all": not a miss.
  StringRef notACandidate;
  /// Counts the fused ops under an operation.
  function_ref<unsigned(Operation *)> countFused;
};

/// The number of `OpTy` ops under `root`.
template <typename OpTy> unsigned countOps(Operation *root) {
  unsigned count = 0;
  root->walk([&](OpTy) { ++count; });
  return count;
}

/// Applies `patterns` to every function under `root`. Returns the number of
/// fusions, or failure when the rewrite driver fails.
FailureOr<unsigned> applyFusionPatterns(Operation *root,
                                        const FrozenRewritePatternSet &patterns,
                                        const FusionSpec &spec, bool report);

} // namespace mlir::dsc

#endif // DSC_PASSES_FUSIONDRIVER_H
