//===- FusionDriver.cpp - Run fusion patterns function by function --------===//

#include "passes/FusionDriver.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::dsc;

namespace {
/// Collects why candidates did not fuse.
struct MissCollector : RewriterBase::Listener {
  explicit MissCollector(StringRef notACandidate)
      : notACandidate(notACandidate) {}
  void
  notifyMatchFailure(Location loc,
                     function_ref<void(Diagnostic &)> reasonCallback) override {
    Diagnostic diag(loc, DiagnosticSeverity::Remark);
    reasonCallback(diag);
    std::string reason = diag.str();
    if (reason != notACandidate && !llvm::is_contained(reasons, reason))
      reasons.push_back(reason);
  }
  StringRef notACandidate;
  SmallVector<std::string> reasons;
};
} // namespace

FailureOr<unsigned>
mlir::dsc::applyFusionPatterns(Operation *root,
                               const FrozenRewritePatternSet &patterns,
                               const FusionSpec &spec, bool report) {
  SmallVector<FunctionOpInterface> functions;
  root->walk([&](FunctionOpInterface fn) { functions.push_back(fn); });
  unsigned total = 0;
  for (FunctionOpInterface fn : functions) {
    MissCollector misses(spec.notACandidate);
    GreedyRewriteConfig config;
    config.setListener(&misses);
    unsigned before = spec.countFused(fn);
    if (failed(applyPatternsGreedily(fn->getRegion(0), patterns, config)))
      return failure();
    unsigned fused = spec.countFused(fn) - before;
    total += fused;
    // An empty `none` means: no row for a function without candidates.
    if (!report || (!fused && misses.reasons.empty() && spec.none.empty()))
      continue;
    std::string status = fused ? std::string("fused")
                         : misses.reasons.empty()
                             ? spec.none.str()
                             : "not fused: " + llvm::join(misses.reasons, "; ");
    fn.emitRemark() << "fusion report: " << fn.getName() << ": " << spec.name
                    << ": " << status;
  }
  return total;
}
