//===- LinalgMatchers.cpp - Recognizing linalg.generic shapes -------------===//

#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

using namespace mlir;

bool mlir::dsc::hasStructure(linalg::GenericOp op, unsigned numLoops,
                             ArrayRef<SmallVector<unsigned>> maps,
                             ArrayRef<unsigned> reductions) {
  if (op.getNumLoops() != numLoops ||
      op.getIndexingMapsArray().size() != maps.size())
    return false;
  for (auto [map, dims] : llvm::zip_equal(op.getIndexingMapsArray(), maps)) {
    if (map.getNumResults() != dims.size())
      return false;
    for (auto [expr, d] : llvm::zip_equal(map.getResults(), dims))
      if (expr != getAffineDimExpr(d, op.getContext()))
        return false;
  }
  for (auto [i, type] : llvm::enumerate(op.getIteratorTypesArray()))
    if ((type == utils::IteratorType::reduction) !=
        llvm::is_contained(reductions, i))
      return false;
  return true;
}

bool mlir::dsc::isZeroFilled(Value value) {
  auto fill = value.getDefiningOp<linalg::FillOp>();
  if (!fill)
    return false;
  auto cst = fill.getInputs()[0].getDefiningOp<arith::ConstantOp>();
  auto attr = cst ? dyn_cast<FloatAttr>(cst.getValue()) : FloatAttr();
  return attr && attr.getValue().isZero();
}

linalg::GenericOp mlir::dsc::definingGeneric(Value value, unsigned numInputs) {
  auto op = value.getDefiningOp<linalg::GenericOp>();
  if (!op || op.getNumDpsInputs() != numInputs || op.getNumDpsInits() != 1)
    return {};
  return op;
}
