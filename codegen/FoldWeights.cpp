//===- FoldWeights.cpp - Weight-only computations at compile time ---------===//

#include "codegen/FoldWeights.h"

#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Interfaces/ViewLikeInterface.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace {

/// A tensor's f32 data on the host, row-major.
struct HostTensor {
  SmallVector<int64_t> shape;
  std::vector<float> data;
};

SmallVector<int64_t> stridesOf(ArrayRef<int64_t> shape) {
  SmallVector<int64_t> strides(shape.size(), 1);
  for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d)
    strides[d] = strides[d + 1] * shape[d + 1];
  return strides;
}

/// Calls `body(index)` for every index of `shape`, in row-major order.
void forEachIndex(ArrayRef<int64_t> shape,
                  function_ref<void(ArrayRef<int64_t>)> body) {
  for (int64_t extent : shape)
    if (extent == 0)
      return;
  SmallVector<int64_t> index(shape.size(), 0);
  while (true) {
    body(index);
    int64_t d = static_cast<int64_t>(shape.size()) - 1;
    for (; d >= 0; --d) {
      if (++index[d] < shape[d])
        break;
      index[d] = 0;
    }
    if (d < 0)
      return;
  }
}

/// Calls `body(offset)` with the flat offset, in a tensor of `strides`, of
/// every element of a static slice (offsets, sizes, strides), in row-major
/// order of the slice.
void forEachSliceElement(OffsetSizeAndStrideOpInterface slice,
                         ArrayRef<int64_t> strides,
                         function_ref<void(int64_t)> body) {
  forEachIndex(slice.getStaticSizes(), [&](ArrayRef<int64_t> index) {
    int64_t offset = 0;
    for (auto [d, i] : llvm::enumerate(index))
      offset +=
          (slice.getStaticOffsets()[d] + i * slice.getStaticStrides()[d]) *
          strides[d];
    body(offset);
  });
}

bool allStatic(ArrayRef<int64_t> values) {
  return llvm::none_of(values, ShapedType::isDynamic);
}

/// The loop index an affine result reads: a loop dimension or a constant.
std::optional<int64_t> evalExpr(AffineExpr expr, ArrayRef<int64_t> loops) {
  if (auto dim = dyn_cast<AffineDimExpr>(expr))
    return loops[dim.getPosition()];
  if (auto cst = dyn_cast<AffineConstantExpr>(expr))
    return cst.getValue();
  return std::nullopt;
}

bool readsDimsOrConstants(AffineMap map) {
  return llvm::all_of(map.getResults(), [](AffineExpr e) {
    return isa<AffineDimExpr, AffineConstantExpr>(e);
  });
}

class WeightFolder {
public:
  explicit WeightFolder(const mlir::dsc::WeightData &data) : data(data) {}

  /// Whether `v` is computed from weights and constants alone, by ops this
  /// folder evaluates.
  bool isWeightOnly(Value v) {
    auto [it, inserted] = weightOnly.try_emplace(v, false);
    if (!inserted)
      return it->second;
    bool result = computeWeightOnly(v);
    weightOnly[v] = result;
    return result;
  }

  /// The name of a weight `v` is computed from, or empty.
  std::string sourceName(Value v) {
    Operation *op = v.getDefiningOp();
    if (!op)
      return "";
    if (auto weight = dyn_cast<dsc::WeightOp>(op))
      return weight.getName().str();
    for (Value operand : op->getOperands())
      if (std::string name = sourceName(operand); !name.empty())
        return name;
    if (auto generic = dyn_cast<linalg::GenericOp>(op))
      for (Operation &inner : generic.getRegion().front())
        if (auto extract = dyn_cast<tensor::ExtractOp>(inner))
          if (std::string name = sourceName(extract.getTensor()); !name.empty())
            return name;
    return "";
  }

  /// `v`'s data, evaluated once (until `forget`); null when it cannot be
  /// had. The pointer stays valid until `forget`.
  HostTensor *evaluate(Value v) {
    auto it = values.find(v);
    if (it != values.end())
      return it->second.get();
    std::optional<HostTensor> result = compute(v);
    if (!result)
      return nullptr;
    return values
        .try_emplace(v, std::make_unique<HostTensor>(std::move(*result)))
        .first->second.get();
  }
  /// Drops the evaluated intermediates (a weight's worth of memory each).
  void forget() { values.clear(); }

private:
  bool computeWeightOnly(Value v) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    Operation *op = v.getDefiningOp();
    if (!type || !type.hasStaticShape() || !type.getElementType().isF32() ||
        !op)
      return false;
    auto allWeightOnly = [&](ValueRange operands) {
      return llvm::all_of(operands, [&](Value o) { return isWeightOnly(o); });
    };
    return TypeSwitch<Operation *, bool>(op)
        .Case([](dsc::WeightOp weight) { return !weight.getStack(); })
        .Case([](arith::ConstantOp cst) {
          return isa<DenseFPElementsAttr>(cst.getValue());
        })
        .Case([](tensor::EmptyOp) { return true; })
        .Case([&](linalg::FillOp fill) {
          FloatAttr value;
          return matchPattern(fill.getInputs()[0], m_Constant(&value)) &&
                 allWeightOnly(fill.getOutputs());
        })
        .Case([&](tensor::ExtractSliceOp slice) {
          return allStatic(slice.getStaticOffsets()) &&
                 allStatic(slice.getStaticSizes()) &&
                 allStatic(slice.getStaticStrides()) &&
                 isWeightOnly(slice.getSource());
        })
        .Case([&](tensor::InsertSliceOp slice) {
          return allStatic(slice.getStaticOffsets()) &&
                 allStatic(slice.getStaticSizes()) &&
                 allStatic(slice.getStaticStrides()) &&
                 isWeightOnly(slice.getSource()) &&
                 isWeightOnly(slice.getDest());
        })
        .Case([&](tensor::ExpandShapeOp reshape) {
          return isWeightOnly(reshape.getSrc());
        })
        .Case([&](tensor::CollapseShapeOp reshape) {
          return isWeightOnly(reshape.getSrc());
        })
        .Case([&](linalg::GenericOp generic) {
          return isFoldableCopy(generic) &&
                 allWeightOnly(generic.getDpsInputs()) &&
                 allWeightOnly(generic.getDpsInits());
        })
        .Default([](Operation *) { return false; });
  }

  /// A generic that copies: one result, all loops parallel, the result
  /// written in loop order, and the body yielding an input (read through
  /// dims and constants) or an element of a weight-only tensor at loop
  /// indices and constants (a gather at constant indices).
  bool isFoldableCopy(linalg::GenericOp op) {
    if (op.getNumDpsInits() != 1 ||
        op.getNumLoops() != op.getNumParallelLoops() ||
        !op.getMatchingIndexingMap(op.getDpsInitOperand(0)).isIdentity())
      return false;
    for (OpOperand *input : op.getDpsInputOperands())
      if (!readsDimsOrConstants(op.getMatchingIndexingMap(input)))
        return false;
    Block &body = op.getRegion().front();
    Value yielded = body.getTerminator()->getOperand(0);
    if (auto arg = dyn_cast<BlockArgument>(yielded))
      return arg.getOwner() == &body &&
             arg.getArgNumber() < op.getNumDpsInputs();
    auto extract = yielded.getDefiningOp<tensor::ExtractOp>();
    if (!extract || extract->getBlock() != &body ||
        extract.getTensor().getParentRegion() == &op.getRegion() ||
        !isWeightOnly(extract.getTensor()))
      return false;
    for (Value index : extract.getIndices())
      if (!index.getDefiningOp<linalg::IndexOp>() &&
          !matchPattern(index, m_Constant()))
        return false;
    return true;
  }

  std::optional<HostTensor> compute(Value v) {
    auto type = cast<RankedTensorType>(v.getType());
    HostTensor out{SmallVector<int64_t>(type.getShape()), {}};
    int64_t count = type.getNumElements();
    Operation *op = v.getDefiningOp();
    if (auto weight = dyn_cast<dsc::WeightOp>(op)) {
      if (!data(weight.getName(), out.shape, out.data))
        return std::nullopt;
      return out;
    }
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      auto elements =
          cast<DenseFPElementsAttr>(cst.getValue()).getValues<float>();
      out.data.assign(elements.begin(), elements.end());
      return out;
    }
    if (isa<tensor::EmptyOp>(op)) {
      out.data.assign(count, 0.0f);
      return out;
    }
    if (auto fill = dyn_cast<linalg::FillOp>(op)) {
      FloatAttr value;
      if (!matchPattern(fill.getInputs()[0], m_Constant(&value)))
        return std::nullopt;
      out.data.assign(count, static_cast<float>(value.getValueAsDouble()));
      return out;
    }
    if (isa<tensor::ExpandShapeOp, tensor::CollapseShapeOp>(op)) {
      const HostTensor *in = evaluate(op->getOperand(0));
      if (!in)
        return std::nullopt;
      out.data = in->data;
      return out;
    }
    if (auto slice = dyn_cast<tensor::ExtractSliceOp>(op)) {
      const HostTensor *in = evaluate(slice.getSource());
      if (!in)
        return std::nullopt;
      out.data.reserve(count);
      forEachSliceElement(slice, stridesOf(in->shape), [&](int64_t offset) {
        out.data.push_back(in->data[offset]);
      });
      return out;
    }
    if (auto slice = dyn_cast<tensor::InsertSliceOp>(op)) {
      const HostTensor *source = evaluate(slice.getSource());
      const HostTensor *dest = evaluate(slice.getDest());
      if (!source || !dest)
        return std::nullopt;
      out.data = dest->data;
      int64_t next = 0;
      forEachSliceElement(slice, stridesOf(out.shape), [&](int64_t offset) {
        out.data[offset] = source->data[next++];
      });
      return out;
    }
    auto generic = cast<linalg::GenericOp>(op);
    Block &body = generic.getRegion().front();
    Value yielded = body.getTerminator()->getOperand(0);
    out.data.reserve(count);
    if (auto arg = dyn_cast<BlockArgument>(yielded)) {
      OpOperand *input = generic.getDpsInputOperand(arg.getArgNumber());
      const HostTensor *in = evaluate(input->get());
      if (!in)
        return std::nullopt;
      AffineMap map = generic.getMatchingIndexingMap(input);
      SmallVector<int64_t> inStrides = stridesOf(in->shape);
      forEachIndex(out.shape, [&](ArrayRef<int64_t> loops) {
        int64_t offset = 0;
        for (auto [r, expr] : llvm::enumerate(map.getResults()))
          offset += *evalExpr(expr, loops) * inStrides[r];
        out.data.push_back(in->data[offset]);
      });
      return out;
    }
    auto extract = yielded.getDefiningOp<tensor::ExtractOp>();
    const HostTensor *in = evaluate(extract.getTensor());
    if (!in)
      return std::nullopt;
    SmallVector<int64_t> inStrides = stridesOf(in->shape);
    bool inBounds = true;
    forEachIndex(out.shape, [&](ArrayRef<int64_t> loops) {
      int64_t offset = 0;
      for (auto [d, index] : llvm::enumerate(extract.getIndices())) {
        APInt constant;
        int64_t i =
            matchPattern(index, m_ConstantInt(&constant))
                ? constant.getSExtValue()
                : loops[index.getDefiningOp<linalg::IndexOp>().getDim()];
        inBounds &= i >= 0 && i < in->shape[d];
        offset += i * inStrides[d];
      }
      out.data.push_back(inBounds ? in->data[offset] : 0.0f);
    });
    // Out of bounds (a graph would clamp or fault at run time): leave it.
    if (!inBounds)
      return std::nullopt;
    return out;
  }

  const mlir::dsc::WeightData &data;
  llvm::DenseMap<Value, bool> weightOnly;
  llvm::DenseMap<Value, std::unique_ptr<HostTensor>> values;
};

} // namespace

unsigned mlir::dsc::foldWeightComputations(
    ModuleOp module, const WeightData &data,
    std::map<std::string, std::vector<float>> &folded) {
  WeightFolder folder(data);
  unsigned count = 0;
  for (auto func : module.getOps<func::FuncOp>()) {
    if (func.isExternal() || !func.getBody().hasOneBlock())
      continue;
    Block &block = func.getBody().front();
    // Roots: weight-only values that something else reads (an op inside a
    // generic's body reads for the generic).
    auto readsFor = [](Operation *user) {
      if (auto generic = user->getParentOfType<linalg::GenericOp>())
        return generic.getOperation();
      return user;
    };
    SmallVector<Value> roots;
    for (Operation &op : block) {
      if (isa<WeightOp, arith::ConstantOp, tensor::EmptyOp>(op))
        continue;
      for (Value result : op.getResults()) {
        if (!folder.isWeightOnly(result) || folder.sourceName(result).empty())
          continue;
        if (llvm::any_of(result.getUsers(), [&](Operation *user) {
              Operation *reader = readsFor(user);
              return reader->getNumResults() == 0 ||
                     llvm::any_of(reader->getResults(), [&](Value r) {
                       return !folder.isWeightOnly(r);
                     });
            }))
          roots.push_back(result);
      }
    }
    // Evaluate every root before replacing any (a root may read another),
    // one at a time so that only one weight's intermediates are held. A
    // value that cannot be evaluated stays in the graph, computed per call.
    SmallVector<std::pair<Value, std::string>> replaced;
    for (Value root : roots) {
      HostTensor *value = folder.evaluate(root);
      if (value) {
        std::string name = folder.sourceName(root) + ".folded." +
                           std::to_string(folded.size());
        folded[name] = std::move(value->data);
        replaced.emplace_back(root, std::move(name));
      }
      folder.forget();
    }
    for (auto &[root, name] : replaced) {
      OpBuilder b(root.getDefiningOp());
      auto weight = WeightOp::create(b, root.getLoc(), root.getType(),
                                     b.getStringAttr(name), IntegerAttr());
      root.replaceAllUsesWith(weight.getResult());
      ++count;
    }
    // The computations no one reads any more.
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(block)))
      if (isOpTriviallyDead(&op))
        op.erase();
  }
  return count;
}
