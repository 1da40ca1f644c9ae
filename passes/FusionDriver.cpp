//===- FusionDriver.cpp - Run fusion patterns function by function --------===//

#include "passes/FusionDriver.h"

#include "dialects/dsc/DscOps.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/Interfaces/CallInterfaces.h"
#include "mlir/Interfaces/FunctionInterfaces.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/StringExtras.h"

using namespace mlir;
using namespace mlir::dsc;

namespace {
/// Collects why candidates did not fuse, and where.
struct MissCollector : RewriterBase::Listener {
  explicit MissCollector(StringRef notACandidate)
      : notACandidate(notACandidate) {}
  void
  notifyMatchFailure(Location loc,
                     function_ref<void(Diagnostic &)> reasonCallback) override {
    Diagnostic diag(loc, DiagnosticSeverity::Remark);
    reasonCallback(diag);
    std::string reason = diag.str();
    if (reason != notACandidate)
      misses.push_back({loc, reason});
  }
  StringRef notACandidate;
  SmallVector<std::pair<Location, std::string>> misses;
};

/// "model.layers.3" of "model.layers.3.mlp.gate.weight": the name up to the
/// layer number, or "" when the name has none.
StringRef layerPrefix(StringRef weightName) {
  size_t at = weightName.find("layers.");
  if (at == StringRef::npos)
    return "";
  size_t end = at + strlen("layers.");
  size_t digits = end;
  while (digits < weightName.size() && llvm::isDigit(weightName[digits]))
    ++digits;
  return digits == end ? "" : weightName.take_front(digits);
}

/// One report row's worth of a function: a layer function, or the ops of
/// one layer of a whole-model function.
struct ReportUnit {
  Location loc;
  unsigned before = 0, after = 0;
  SmallVector<std::string> reasons;
};

/// The report units of `fn` by name, in order. A function whose location
/// names it (the HF importer's layer functions) is one unit; in any other
/// (a whole-model graph, as the ONNX importer makes) each top-level op
/// belongs to the layer of the last `dsc.weight` named `...layers.N....`
/// before it, and the ops before any such weight to the function itself
/// (the unit named "").
class ReportUnits {
public:
  // Split: not a layer function, and no caller of layer functions (whose
  // weights it holds, named after their layers).
  explicit ReportUnits(FunctionOpInterface fn)
      : fn(fn), split(!isa<NameLoc>(fn->getLoc()) &&
                      !fn->walk([](CallOpInterface) {
                           return WalkResult::interrupt();
                         }).wasInterrupted()) {}

  /// Calls `visit(unitName, op)` for every top-level op.
  void forEachOp(function_ref<void(StringRef, Operation &)> visit) {
    StringRef current;
    if (fn->getRegion(0).empty())
      return;
    for (Operation &op : fn->getRegion(0).front()) {
      if (auto weight = dyn_cast<WeightOp>(op); weight && split)
        if (StringRef layer = layerPrefix(weight.getName()); !layer.empty())
          current = layer;
      visit(current, op);
    }
  }
  /// Counts the fused ops per unit, into `before` or `after`.
  void count(const FusionSpec &spec, bool after) {
    forEachOp([&](StringRef name, Operation &op) {
      ReportUnit &u = unit(name, op.getLoc());
      (after ? u.after : u.before) += spec.countFused(&op);
      locations.try_emplace(op.getLoc(), name.str());
    });
  }
  /// Files each miss under the unit of the op it was reported at.
  void addMisses(ArrayRef<std::pair<Location, std::string>> misses) {
    for (const auto &[loc, reason] : misses) {
      auto it = locations.find(loc);
      ReportUnit &u = unit(it == locations.end() ? "" : it->second, loc);
      if (!llvm::is_contained(u.reasons, reason))
        u.reasons.push_back(reason);
    }
  }
  ArrayRef<std::string> names() const { return order; }
  ReportUnit &unit(StringRef name, Location loc) {
    auto [it, inserted] = units.try_emplace(name, ReportUnit{loc, 0, 0, {}});
    if (inserted)
      order.push_back(name.str());
    return it->second;
  }

private:
  FunctionOpInterface fn;
  /// Whether the function is split by layer.
  bool split;
  llvm::StringMap<ReportUnit> units;
  std::vector<std::string> order;
  DenseMap<Location, std::string> locations;
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
    ReportUnits units(fn);
    if (report)
      units.count(spec, /*after=*/false);
    if (failed(applyPatternsGreedily(fn->getRegion(0), patterns, config)))
      return failure();
    unsigned fused = spec.countFused(fn) - before;
    total += fused;
    if (!report)
      continue;
    units.count(spec, /*after=*/true);
    units.addMisses(misses.misses);
    for (const std::string &name : units.names()) {
      ReportUnit &u = units.unit(name, fn->getLoc());
      bool fusedHere = u.after > u.before;
      // An empty `none` means: no row for a unit without candidates; the
      // ops outside any layer of a whole-model function only get a row
      // when they held a candidate.
      if (!fusedHere && u.reasons.empty() &&
          (spec.none.empty() || (name.empty() && units.names().size() > 1)))
        continue;
      std::string status = fusedHere ? std::string("fused")
                           : u.reasons.empty()
                               ? spec.none.str()
                               : "not fused: " + llvm::join(u.reasons, "; ");
      Location at =
          name.empty()
              ? fn->getLoc()
              : NameLoc::get(StringAttr::get(fn->getContext(), name), u.loc);
      emitRemark(at) << "fusion report: " << fn.getName() << ": " << spec.name
                     << ": " << status;
    }
  }
  return total;
}
