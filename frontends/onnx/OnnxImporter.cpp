//===- OnnxImporter.cpp - ONNX graphs to the canonical dsc graph ----------===//

#include "frontends/onnx/OnnxImporter.h"

#include "dialects/dsc/DscOps.h"
#include "dialects/dsc/TensorMath.h"
#include "runtime/support/Safetensors.h"

#include "absl/strings/str_cat.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Arith/Utils/Utils.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"

#include "onnx/onnx_pb.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>

using namespace mlir;
using namespace mlir::dsc;

namespace dsc::onnx_frontend {
namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;
/// Int64 vectors up to this length are tracked element by element.
constexpr size_t kMaxKnown = 64;

// Half-precision floats decode with the safetensors reader's converters.
using st::bf16ToF32;
using st::f16ToF32;

/// An int64 vector (or scalar) known element by element: each a constant
/// or an `index` value computed from tensor sizes.
struct Known {
  SmallVector<OpFoldResult> elements;
  bool scalar = false;
};

/// A product of tensor sizes: a constant times sizes known only at run time
/// (SSA values, sorted), so that reshapes between tensors with run-time
/// sizes can be reasoned about: [B, S, 96] to [B, S, -1, 24] infers 4, not
/// (B * S * 96) / (B * S * 24). Sound as long as one run-time size is one
/// SSA value, which the importer's `sizes` keeps.
struct SizeProduct {
  int64_t fixed = 1;
  SmallVector<Value> symbols;

  void multiply(OpFoldResult size) {
    if (std::optional<int64_t> c = getConstantIntValue(size)) {
      fixed *= *c;
      return;
    }
    auto v = cast<Value>(size);
    if (auto mul = v.getDefiningOp<arith::MulIOp>()) {
      multiply(mul.getLhs());
      multiply(mul.getRhs());
      return;
    }
    symbols.insert(llvm::upper_bound(symbols, v, lessValue), v);
  }
  /// this / other, when it is exact: other's symbols are among this one's
  /// and its constant divides this one's.
  std::optional<SizeProduct> divide(const SizeProduct &other) const {
    if (other.fixed == 0 || fixed % other.fixed != 0)
      return std::nullopt;
    SizeProduct q{fixed / other.fixed, symbols};
    for (Value s : other.symbols) {
      auto *it = llvm::find(q.symbols, s);
      if (it == q.symbols.end())
        return std::nullopt;
      q.symbols.erase(it);
    }
    return q;
  }
  bool operator==(const SizeProduct &o) const {
    return fixed == o.fixed && symbols == o.symbols;
  }
  static bool lessValue(Value x, Value y) {
    return x.getAsOpaquePointer() < y.getAsOpaquePointer();
  }
};

class Importer {
public:
  Importer(MLIRContext &ctx, const OnnxModel &model, const std::string &path)
      : ctx(ctx), model(model), path(path), b(&ctx),
        loc(FileLineColLoc::get(&ctx, path, 0, 0)) {}

  absl::StatusOr<OwningOpRef<ModuleOp>> run();

private:
  //===--- values ---------------------------------------------------------===//

  /// The tensor of ONNX value `name` (materialising a known vector or an
  /// initializer on first use); null after an error.
  Value tensor(const std::string &name);
  /// The known int64 elements of `name`, if they are known.
  const Known *known(const std::string &name);
  void setTensor(const std::string &name, Value v) { values[name] = v; }
  void setKnown(const std::string &name, Known k) {
    knowns[name] = std::move(k);
  }
  Value materialize(const Known &k);
  Value initializer(const OnnxInitializer &init);

  //===--- building blocks ------------------------------------------------===//

  Value index(OpFoldResult v) {
    return getValueOrCreateConstantIndexOp(b, loc, v);
  }
  static std::optional<int64_t> constant(OpFoldResult v) {
    return getConstantIntValue(v);
  }
  /// Sizes of a ranked tensor, read from the op that made it where the op
  /// states them (one run-time size is one SSA value: see SizeProduct).
  SmallVector<OpFoldResult> sizes(Value v) {
    return TensorMath(b, loc).sizes(v);
  }
  RankedTensorType typeOf(Value v) {
    return cast<RankedTensorType>(v.getType());
  }
  /// A generic over `outSizes` with explicit maps (inputs then the output).
  Value generic(ValueRange inputs, ArrayRef<OpFoldResult> outSizes, Type outElt,
                ArrayRef<AffineMap> inputMaps,
                function_ref<Value(OpBuilder &, Location, ValueRange)> body);
  /// Numpy-broadcast elementwise op over `operands`.
  Value elementwise(ValueRange operands, Type outElt,
                    function_ref<Value(OpBuilder &, Location, ValueRange)> fn);
  /// `v` converted elementwise to `elt` (float/int/bool conversions).
  Value convert(Value v, Type elt);
  static Value convertScalar(OpBuilder &nb, Location l, Value v, Type elt);
  /// Inserts unit dimensions at `positions` of the result (sorted).
  Value insertUnitDims(Value v, ArrayRef<int64_t> positions);
  /// `v` reshaped to `target` (row-major, same element count): as
  /// expand_shape/collapse_shape where the sizes group, else tensor.reshape.
  Value reshape(Value v, ArrayRef<OpFoldResult> target);
  OpFoldResult arith(OpFoldResult a, OpFoldResult c, char op);
  /// When element q of `indices` (row-major) is start + q for a constant
  /// start: that start. Looks through shape-only views and unit-stride
  /// slices of a vector made by Range.
  std::optional<int64_t> contiguousStart(Value indices);

  //===--- nodes ----------------------------------------------------------===//

  absl::Status convert(const onnx::NodeProto &node);
  absl::Status fail(const onnx::NodeProto &node, const std::string &what) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": node '", node.name(), "' (op '", node.op_type(),
                     "', opset ", model.opset(), "): ", what));
  }
  /// Input `i` of `node`, empty when absent.
  static std::string input(const onnx::NodeProto &node, int i) {
    return i < node.input_size() ? node.input(i) : std::string();
  }
  /// Normalises a possibly negative axis of a rank-`rank` tensor.
  static std::optional<int64_t> axis(int64_t a, int64_t rank) {
    if (a < 0)
      a += rank;
    if (a < 0 || a >= rank)
      return std::nullopt;
    return a;
  }
  /// The int64 elements of input `i` (or attribute `attr` before the opset
  /// moved it to an input), which must be known at import time.
  std::optional<SmallVector<int64_t>> constInts(const onnx::NodeProto &node,
                                                int i, const char *attr);

  MLIRContext &ctx;
  const OnnxModel &model;
  std::string path;
  OpBuilder b;
  Location loc;
  llvm::StringMap<Value> values;
  llvm::StringMap<Known> knowns;
  /// Range results with a constant start and step 1: element i is
  /// start + i. A scatter through such indices is a slice insertion.
  DenseMap<Value, int64_t> rangeStarts;
  /// Set by the building blocks when operand shapes cannot agree; the node
  /// being converted fails with it.
  std::string shapeError;
};

//===----------------------------------------------------------------------===//
// Attributes and constant tensors
//===----------------------------------------------------------------------===//

const onnx::AttributeProto *attribute(const onnx::NodeProto &node,
                                      const char *name) {
  for (const onnx::AttributeProto &a : node.attribute())
    if (a.name() == name)
      return &a;
  return nullptr;
}

int64_t intAttr(const onnx::NodeProto &node, const char *name,
                int64_t fallback) {
  const onnx::AttributeProto *a = attribute(node, name);
  return a ? a->i() : fallback;
}

float floatAttr(const onnx::NodeProto &node, const char *name, float fallback) {
  const onnx::AttributeProto *a = attribute(node, name);
  return a ? a->f() : fallback;
}

/// A constant tensor's values as doubles (any numeric type), in row-major
/// order; nullopt for a type or layout this importer does not read.
std::optional<std::vector<double>> tensorValues(const onnx::TensorProto &t) {
  int64_t count = 1;
  for (int64_t d : t.dims())
    count *= d;
  std::vector<double> out;
  out.reserve(count);
  const std::string &raw = t.raw_data();
  auto fromRaw = [&](auto sample, auto convertOne) -> bool {
    using T = decltype(sample);
    if (raw.size() != size_t(count) * sizeof(T))
      return false;
    for (int64_t i = 0; i < count; ++i) {
      T v;
      std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
      out.push_back(convertOne(v));
    }
    return true;
  };
  auto same = [](auto v) { return double(v); };
  bool ok = true;
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT:
    if (!raw.empty())
      ok = fromRaw(float(), same);
    else
      out.assign(t.float_data().begin(), t.float_data().end());
    break;
  case onnx::TensorProto::DOUBLE:
    if (!raw.empty())
      ok = fromRaw(double(), same);
    else
      out.assign(t.double_data().begin(), t.double_data().end());
    break;
  case onnx::TensorProto::INT64:
    if (!raw.empty())
      ok = fromRaw(int64_t(), same);
    else
      out.assign(t.int64_data().begin(), t.int64_data().end());
    break;
  case onnx::TensorProto::INT32:
  case onnx::TensorProto::BOOL:
  case onnx::TensorProto::UINT8:
  case onnx::TensorProto::INT8:
    if (!raw.empty()) {
      if (t.data_type() == onnx::TensorProto::INT32)
        ok = fromRaw(int32_t(), same);
      else
        ok = fromRaw(uint8_t(), same);
    } else {
      out.assign(t.int32_data().begin(), t.int32_data().end());
    }
    break;
  case onnx::TensorProto::FLOAT16:
    if (!raw.empty())
      ok = fromRaw(uint16_t(), [](uint16_t v) { return double(f16ToF32(v)); });
    else
      for (int32_t v : t.int32_data())
        out.push_back(f16ToF32(uint16_t(v)));
    break;
  case onnx::TensorProto::BFLOAT16:
    if (!raw.empty())
      ok = fromRaw(uint16_t(), [](uint16_t v) { return double(bf16ToF32(v)); });
    else
      for (int32_t v : t.int32_data())
        out.push_back(bf16ToF32(uint16_t(v)));
    break;
  default:
    return std::nullopt;
  }
  if (!ok || int64_t(out.size()) != count)
    return std::nullopt;
  return out;
}

bool isIntegerType(int32_t code) {
  return code == onnx::TensorProto::INT64 || code == onnx::TensorProto::INT32 ||
         code == onnx::TensorProto::INT8 || code == onnx::TensorProto::UINT8;
}

/// The MLIR element type dsc computes an ONNX type in: floats in f32,
/// integers in i64, booleans in i1.
Type computeType(MLIRContext &ctx, int32_t code) {
  if (code == onnx::TensorProto::BOOL)
    return IntegerType::get(&ctx, 1);
  if (isIntegerType(code))
    return IntegerType::get(&ctx, 64);
  return Float32Type::get(&ctx);
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

const Known *Importer::known(const std::string &name) {
  auto it = knowns.find(name);
  if (it != knowns.end())
    return &it->second;
  // Small int64 initializers are known too.
  if (const OnnxInitializer *init = model.findInitializer(name)) {
    if (init->type != onnx::TensorProto::INT64 || init->shape.size() > 1)
      return nullptr;
    size_t count = init->bytes.size() / 8;
    if (count > kMaxKnown)
      return nullptr;
    Known k;
    k.scalar = init->shape.empty();
    for (size_t i = 0; i < count; ++i) {
      int64_t v;
      std::memcpy(&v, init->bytes.data() + 8 * i, 8);
      k.elements.push_back(b.getIndexAttr(v));
    }
    return &(knowns[name] = std::move(k));
  }
  return nullptr;
}

Value Importer::materialize(const Known &k) {
  SmallVector<Value> elements;
  for (OpFoldResult e : k.elements)
    elements.push_back(
        arith::IndexCastOp::create(b, loc, b.getI64Type(), index(e)));
  auto type = k.scalar ? RankedTensorType::get({}, b.getI64Type())
                       : RankedTensorType::get({int64_t(elements.size())},
                                               b.getI64Type());
  return tensor::FromElementsOp::create(b, loc, type, elements);
}

Value Importer::initializer(const OnnxInitializer &init) {
  SmallVector<int64_t> shape(init.shape.begin(), init.shape.end());
  int64_t count = 1;
  for (int64_t d : shape)
    count *= d;
  bool isFloat =
      !isIntegerType(init.type) && init.type != onnx::TensorProto::BOOL;
  // Float tensors of more than a handful of values are weights, bound from
  // the artifact; the rest are constants in the code.
  if (isFloat && count > 16)
    return WeightOp::create(b, loc,
                            RankedTensorType::get(shape, b.getF32Type()),
                            b.getStringAttr(init.name), IntegerAttr());
  Type elt = computeType(ctx, init.type);
  auto type = RankedTensorType::get(shape, elt);
  if (isFloat) {
    std::vector<float> data(count);
    initializerToF32(init, data.data());
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(type, ArrayRef<float>(data)));
  }
  int64_t size = onnxTypeSize(init.type);
  SmallVector<APInt> data;
  for (int64_t i = 0; i < count; ++i) {
    int64_t v = 0;
    if (init.type == onnx::TensorProto::INT64) {
      std::memcpy(&v, init.bytes.data() + 8 * i, 8);
    } else if (init.type == onnx::TensorProto::INT32) {
      int32_t w;
      std::memcpy(&w, init.bytes.data() + 4 * i, 4);
      v = w;
    } else {
      v = uint8_t(init.bytes[size * i]);
    }
    data.push_back(APInt(elt.getIntOrFloatBitWidth(), v, /*isSigned=*/true,
                         /*implicitTrunc=*/true));
  }
  return arith::ConstantOp::create(b, loc, DenseElementsAttr::get(type, data));
}

Value Importer::tensor(const std::string &name) {
  auto it = values.find(name);
  if (it != values.end())
    return it->second;
  Value v;
  if (auto k = knowns.find(name); k != knowns.end())
    v = materialize(k->second);
  else if (const OnnxInitializer *init = model.findInitializer(name))
    v = initializer(*init);
  if (v)
    values[name] = v;
  return v;
}

//===----------------------------------------------------------------------===//
// Building blocks
//===----------------------------------------------------------------------===//

/// An int64 index into a dimension of `extent` elements as an `index`:
/// negative ones count from the end, and the result is clamped into the
/// dimension so that a bad index can never read or write outside.
Value clampIndex(OpBuilder &nb, Location l, Value i64Index, Value extent) {
  Value i = arith::IndexCastOp::create(nb, l, nb.getIndexType(), i64Index);
  Value zero = arith::ConstantIndexOp::create(nb, l, 0);
  Value negative =
      arith::CmpIOp::create(nb, l, arith::CmpIPredicate::slt, i, zero);
  i = arith::SelectOp::create(nb, l, negative,
                              arith::AddIOp::create(nb, l, i, extent), i);
  Value last = arith::SubIOp::create(nb, l, extent,
                                     arith::ConstantIndexOp::create(nb, l, 1));
  return arith::MinSIOp::create(nb, l, arith::MaxSIOp::create(nb, l, i, zero),
                                last);
}

Value Importer::generic(
    ValueRange inputs, ArrayRef<OpFoldResult> outSizes, Type outElt,
    ArrayRef<AffineMap> inputMaps,
    function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
  unsigned rank = outSizes.size();
  Value init = TensorMath(b, loc).empty(outSizes, outElt);
  SmallVector<AffineMap> maps(inputMaps.begin(), inputMaps.end());
  maps.push_back(b.getMultiDimIdentityMap(rank));
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  return linalg::GenericOp::create(
             b, loc, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
             iterators,
             [&](OpBuilder &nb, Location l, ValueRange args) {
               linalg::YieldOp::create(nb, l, body(nb, l, args.drop_back()));
             })
      .getResult(0);
}

Value Importer::elementwise(
    ValueRange operands, Type outElt,
    function_ref<Value(OpBuilder &, Location, ValueRange)> fn) {
  unsigned rank = 0;
  for (Value v : operands)
    rank = std::max<unsigned>(rank, typeOf(v).getRank());
  // Result sizes: a static size other than 1 wins, then a dynamic one
  // (broadcasting against a dynamic size assumes they agree).
  SmallVector<OpFoldResult> out(rank, b.getIndexAttr(1));
  for (unsigned d = 0; d < rank; ++d) {
    bool fixed = false;
    for (Value v : operands) {
      auto t = typeOf(v);
      int64_t offset = int64_t(rank) - t.getRank();
      if (int64_t(d) < offset)
        continue;
      int64_t size = t.getDimSize(d - offset);
      if (size != kDyn && size != 1) {
        if (fixed && constant(out[d]) != std::optional<int64_t>(size))
          shapeError = absl::StrCat("operand sizes ", *constant(out[d]),
                                    " and ", size, " do not broadcast");
        out[d] = b.getIndexAttr(size);
        fixed = true;
      } else if (size == kDyn && !fixed &&
                 constant(out[d]) == std::optional<int64_t>(1)) {
        out[d] = sizes(v)[d - offset];
      }
    }
  }
  SmallVector<AffineMap> maps;
  for (Value v : operands) {
    auto t = typeOf(v);
    int64_t offset = int64_t(rank) - t.getRank();
    SmallVector<AffineExpr> exprs;
    for (int64_t d = offset; d < int64_t(rank); ++d) {
      bool broadcast = t.getDimSize(d - offset) == 1 &&
                       constant(out[d]) != std::optional<int64_t>(1);
      exprs.push_back(broadcast ? b.getAffineConstantExpr(0)
                                : b.getAffineDimExpr(d));
    }
    maps.push_back(AffineMap::get(rank, 0, exprs, &ctx));
  }
  return generic(operands, out, outElt, maps, fn);
}

Value Importer::convertScalar(OpBuilder &nb, Location l, Value v, Type elt) {
  Type from = v.getType();
  if (from == elt)
    return v;
  if (isa<FloatType>(from) && isa<FloatType>(elt))
    return from.getIntOrFloatBitWidth() < elt.getIntOrFloatBitWidth()
               ? Value(arith::ExtFOp::create(nb, l, elt, v))
               : Value(arith::TruncFOp::create(nb, l, elt, v));
  if (isa<FloatType>(from)) {
    if (elt.isInteger(1))
      return arith::CmpFOp::create(
          nb, l, arith::CmpFPredicate::UNE, v,
          arith::ConstantOp::create(nb, l, nb.getFloatAttr(from, 0.0)));
    return arith::FPToSIOp::create(nb, l, elt, v);
  }
  if (isa<FloatType>(elt))
    return from.isInteger(1) ? Value(arith::UIToFPOp::create(nb, l, elt, v))
                             : Value(arith::SIToFPOp::create(nb, l, elt, v));
  if (elt.isInteger(1))
    return arith::CmpIOp::create(
        nb, l, arith::CmpIPredicate::ne, v,
        arith::ConstantOp::create(nb, l, nb.getIntegerAttr(from, 0)));
  if (from.getIntOrFloatBitWidth() >= elt.getIntOrFloatBitWidth())
    return arith::TruncIOp::create(nb, l, elt, v);
  if (from.isInteger(1))
    return arith::ExtUIOp::create(nb, l, elt, v);
  return arith::ExtSIOp::create(nb, l, elt, v);
}

Value Importer::convert(Value v, Type elt) {
  if (typeOf(v).getElementType() == elt)
    return v;
  return elementwise(v, elt, [&](OpBuilder &nb, Location l, ValueRange a) {
    return convertScalar(nb, l, a[0], elt);
  });
}

Value Importer::insertUnitDims(Value v, ArrayRef<int64_t> positions) {
  auto type = typeOf(v);
  int64_t rank = type.getRank() + positions.size();
  SmallVector<OpFoldResult> in = sizes(v), out;
  SmallVector<int64_t> shape;
  SmallVector<ReassociationIndices> groups;
  size_t next = 0;
  for (int64_t d = 0; d < rank; ++d) {
    bool unit = llvm::is_contained(positions, d);
    out.push_back(unit ? OpFoldResult(b.getIndexAttr(1)) : in[next]);
    shape.push_back(unit ? 1 : type.getDimSize(next));
    if (!unit)
      ++next;
  }
  if (type.getRank() == 0)
    return tensor::ExpandShapeOp::create(
        b, loc, RankedTensorType::get(shape, type.getElementType()), v,
        SmallVector<ReassociationIndices>{}, out);
  // Each unit dimension joins the group of the next source dimension (or
  // the last group, after the last one).
  ReassociationIndices pending;
  for (int64_t d = 0; d < rank; ++d) {
    pending.push_back(d);
    if (!llvm::is_contained(positions, d)) {
      groups.push_back(pending);
      pending.clear();
    }
  }
  groups.back().append(pending.begin(), pending.end());
  return tensor::ExpandShapeOp::create(
      b, loc, RankedTensorType::get(shape, type.getElementType()), v, groups,
      out);
}

Value Importer::reshape(Value v, ArrayRef<OpFoldResult> target) {
  auto type = typeOf(v);
  SmallVector<int64_t> shape;
  for (OpFoldResult t : target)
    shape.push_back(constant(t).value_or(kDyn));
  auto resultType = RankedTensorType::get(shape, type.getElementType());
  if (resultType == type && type.hasStaticShape())
    return v;

  // Group the source and target dimensions so that each group has the same
  // size: then the reshape only merges and splits dimensions, which later
  // passes see through (tensor.reshape hides that). Greedy: a group grows
  // on the side whose product is a divisor of the other side's.
  SmallVector<OpFoldResult> source = sizes(v);
  SmallVector<ReassociationIndices> sourceGroups, targetGroups;
  size_t i = 0, j = 0;
  bool grouped = !source.empty() && !target.empty();
  while (grouped && i < source.size() && j < target.size()) {
    SizeProduct ps, pt;
    ReassociationIndices sg{int64_t(i)}, tg{int64_t(j)};
    ps.multiply(source[i++]);
    pt.multiply(target[j++]);
    while (!(ps == pt)) {
      if (pt.divide(ps) && i < source.size()) {
        sg.push_back(i);
        ps.multiply(source[i++]);
      } else if (ps.divide(pt) && j < target.size()) {
        tg.push_back(j);
        pt.multiply(target[j++]);
      } else {
        grouped = false;
        break;
      }
    }
    sourceGroups.push_back(sg);
    targetGroups.push_back(tg);
  }
  // Trailing unit dimensions join the last group.
  for (; grouped && i < source.size(); ++i)
    if (constant(source[i]) == 1)
      sourceGroups.back().push_back(i);
    else
      grouped = false;
  for (; grouped && j < target.size(); ++j)
    if (constant(target[j]) == 1)
      targetGroups.back().push_back(j);
    else
      grouped = false;
  // Keep tensor.reshape where a static group size has a run-time size on
  // the other side (the verifier would want a cast), and where a group
  // splits into more than one run-time size (MLIR 22's
  // expand-strided-metadata crashes on such an expand_shape).
  for (size_t g = 0; grouped && g < sourceGroups.size(); ++g) {
    auto dynamic = [](ArrayRef<int64_t> sizes, ArrayRef<int64_t> dims) {
      return llvm::count_if(dims, [&](int64_t d) { return sizes[d] == kDyn; });
    };
    grouped = (dynamic(type.getShape(), sourceGroups[g]) == 0) ==
                  (dynamic(shape, targetGroups[g]) == 0) &&
              dynamic(shape, targetGroups[g]) <= 1;
  }
  if (grouped) {
    auto single = [](ArrayRef<ReassociationIndices> groups) {
      return llvm::all_of(groups, [](auto &g) { return g.size() == 1; });
    };
    Value collapsed = v;
    if (!single(sourceGroups))
      collapsed = tensor::CollapseShapeOp::create(b, loc, v, sourceGroups);
    if (single(targetGroups))
      return tensor::CastOp::create(b, loc, resultType, collapsed);
    return tensor::ExpandShapeOp::create(b, loc, resultType, collapsed,
                                         targetGroups, target);
  }

  SmallVector<Value> dims;
  for (OpFoldResult t : target)
    dims.push_back(index(t));
  Value shapeTensor = tensor::FromElementsOp::create(
      b, loc, RankedTensorType::get({int64_t(dims.size())}, b.getIndexType()),
      dims);
  return tensor::ReshapeOp::create(b, loc, resultType, v, shapeTensor);
}

std::optional<int64_t> Importer::contiguousStart(Value indices) {
  int64_t shift = 0;
  for (Value v = indices; v;) {
    if (auto it = rangeStarts.find(v); it != rangeStarts.end())
      return it->second + shift;
    if (auto expand = v.getDefiningOp<tensor::ExpandShapeOp>()) {
      v = expand.getSrc();
    } else if (auto collapse = v.getDefiningOp<tensor::CollapseShapeOp>()) {
      v = collapse.getSrc();
    } else if (auto slice = v.getDefiningOp<tensor::ExtractSliceOp>();
               slice && slice.getSourceType().getRank() == 1 &&
               slice.hasUnitStride() &&
               !ShapedType::isDynamic(slice.getStaticOffsets()[0])) {
      shift += slice.getStaticOffsets()[0];
      v = slice.getSource();
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

OpFoldResult Importer::arith(OpFoldResult x, OpFoldResult y, char op) {
  std::optional<int64_t> cx = constant(x), cy = constant(y);
  if (cx && cy) {
    switch (op) {
    case '+':
      return b.getIndexAttr(*cx + *cy);
    case '-':
      return b.getIndexAttr(*cx - *cy);
    case '*':
      return b.getIndexAttr(*cx * *cy);
    default:
      if (*cy != 0)
        return b.getIndexAttr(*cx / *cy);
    }
  }
  Value vx = index(x), vy = index(y);
  switch (op) {
  case '+':
    return arith::AddIOp::create(b, loc, vx, vy).getResult();
  case '-':
    return arith::SubIOp::create(b, loc, vx, vy).getResult();
  case '*':
    return arith::MulIOp::create(b, loc, vx, vy).getResult();
  default:
    return arith::DivSIOp::create(b, loc, vx, vy).getResult();
  }
}

std::optional<SmallVector<int64_t>>
Importer::constInts(const onnx::NodeProto &node, int i, const char *attr) {
  if (attr)
    if (const onnx::AttributeProto *a = attribute(node, attr))
      return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  std::string name = input(node, i);
  if (name.empty())
    return std::nullopt;
  const Known *k = known(name);
  if (!k)
    return std::nullopt;
  SmallVector<int64_t> out;
  for (OpFoldResult e : k->elements) {
    std::optional<int64_t> c = constant(e);
    if (!c)
      return std::nullopt;
    out.push_back(*c);
  }
  return out;
}

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

absl::Status Importer::convert(const onnx::NodeProto &node) {
  const std::string &op = node.op_type();
  // Every op dsc converts has an output; the converters read output(0).
  if (node.output_size() < 1 || node.output(0).empty())
    return fail(node, "the node has no output");
  auto out = [&](int i) { return node.output(i); };
  // Every input a tensor, or an error naming the missing one.
  SmallVector<Value> in;
  auto needInputs = [&](int count) -> absl::Status {
    for (int i = 0; i < count; ++i) {
      std::string name = input(node, i);
      Value v = name.empty() ? Value() : tensor(name);
      if (!v)
        return fail(node, absl::StrCat("input ", i, " ('", name,
                                       "') is not defined before the node"));
      in.push_back(v);
    }
    return absl::OkStatus();
  };
  Type f32 = b.getF32Type(), i1 = b.getI1Type();

  //--- shape arithmetic on known int64 vectors --------------------------===//
  if (op == "Shape") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    SmallVector<OpFoldResult> all = sizes(in[0]);
    int64_t rank = all.size();
    int64_t start = intAttr(node, "start", 0), end = intAttr(node, "end", rank);
    start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
    end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
    Known k;
    for (int64_t d = start; d < end; ++d)
      k.elements.push_back(all[d]);
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }
  if (op == "Constant") {
    const onnx::AttributeProto *value = attribute(node, "value");
    if (!value || !value->has_t())
      return fail(node, "only a tensor 'value' is supported");
    const onnx::TensorProto &t = value->t();
    std::optional<std::vector<double>> data = tensorValues(t);
    if (!data)
      return fail(node, "cannot read its value tensor");
    SmallVector<int64_t> shape(t.dims().begin(), t.dims().end());
    if (isIntegerType(t.data_type()) && shape.size() <= 1 &&
        data->size() <= kMaxKnown) {
      Known k;
      k.scalar = shape.empty();
      for (double v : *data)
        k.elements.push_back(b.getIndexAttr(int64_t(v)));
      setKnown(out(0), std::move(k));
      return absl::OkStatus();
    }
    Type elt = computeType(ctx, t.data_type());
    auto type = RankedTensorType::get(shape, elt);
    DenseElementsAttr attr;
    if (isa<FloatType>(elt)) {
      std::vector<float> f(data->begin(), data->end());
      attr = DenseElementsAttr::get(type, ArrayRef<float>(f));
    } else {
      SmallVector<APInt> ints;
      for (double v : *data)
        ints.push_back(
            APInt(elt.getIntOrFloatBitWidth(), int64_t(v), true, true));
      attr = DenseElementsAttr::get(type, ints);
    }
    setTensor(out(0), arith::ConstantOp::create(b, loc, attr));
    return absl::OkStatus();
  }
  // Ops on known vectors stay known.
  auto allKnown = [&](int count) {
    for (int i = 0; i < count; ++i)
      if (input(node, i).empty() || !known(input(node, i)))
        return false;
    return true;
  };
  if ((op == "Gather" && allKnown(2) && intAttr(node, "axis", 0) == 0)) {
    const Known &data = *known(input(node, 0));
    const Known &idx = *known(input(node, 1));
    Known k;
    k.scalar = idx.scalar;
    for (OpFoldResult e : idx.elements) {
      std::optional<int64_t> i = constant(e);
      int64_t n = data.elements.size();
      if (!i || *i < -n || *i >= n)
        return fail(node, "index into a shape vector out of range");
      k.elements.push_back(data.elements[*i < 0 ? *i + n : *i]);
    }
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }
  if ((op == "Unsqueeze" || op == "Squeeze") && allKnown(1) &&
      known(input(node, 0))->elements.size() == 1) {
    Known k = *known(input(node, 0));
    k.scalar = op == "Squeeze";
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }
  if (op == "Reshape" && allKnown(2) &&
      known(input(node, 1))->elements.size() <= 1) {
    // A known vector (or scalar) reshaped to a vector or a scalar.
    Known k = *known(input(node, 0));
    k.scalar = known(input(node, 1))->elements.empty();
    if (k.scalar && k.elements.size() != 1)
      return fail(node, "cannot reshape a vector to a scalar");
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }
  if (op == "Concat" && allKnown(node.input_size())) {
    Known k;
    for (int i = 0; i < node.input_size(); ++i)
      llvm::append_range(k.elements, known(input(node, i))->elements);
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }
  if (op == "Cast" && allKnown(1) &&
      isIntegerType(int32_t(intAttr(node, "to", 0)))) {
    setKnown(out(0), *known(input(node, 0)));
    return absl::OkStatus();
  }
  if ((op == "Add" || op == "Sub" || op == "Mul" || op == "Div") &&
      allKnown(2)) {
    const Known &x = *known(input(node, 0)), &y = *known(input(node, 1));
    size_t n = std::max(x.elements.size(), y.elements.size());
    if ((x.elements.size() != n && x.elements.size() != 1) ||
        (y.elements.size() != n && y.elements.size() != 1))
      return fail(node, "shape arithmetic on vectors of different lengths");
    Known k;
    k.scalar = x.scalar && y.scalar;
    char sym = op == "Add" ? '+' : op == "Sub" ? '-' : op == "Mul" ? '*' : '/';
    for (size_t i = 0; i < n; ++i)
      k.elements.push_back(arith(x.elements[x.elements.size() == 1 ? 0 : i],
                                 y.elements[y.elements.size() == 1 ? 0 : i],
                                 sym));
    setKnown(out(0), std::move(k));
    return absl::OkStatus();
  }

  //--- elementwise -------------------------------------------------------===//
  using Body = std::function<Value(OpBuilder &, Location, ValueRange)>;
  auto unaryFloat = [&](Body fn) -> absl::Status {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    setTensor(out(0), elementwise(convert(in[0], f32), f32, fn));
    return absl::OkStatus();
  };
  if (op == "Sqrt")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return math::SqrtOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Exp")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return math::ExpOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Cos")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return math::CosOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Sin")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return math::SinOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Tanh")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return math::TanhOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Neg")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      return arith::NegFOp::create(nb, l, a[0]).getResult();
    });
  if (op == "Reciprocal")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1.0));
      return arith::DivFOp::create(nb, l, one, a[0]).getResult();
    });
  if (op == "Sigmoid")
    return unaryFloat([](OpBuilder &nb, Location l, ValueRange a) {
      Value one = arith::ConstantOp::create(nb, l, nb.getF32FloatAttr(1.0));
      Value e = math::ExpOp::create(nb, l, arith::NegFOp::create(nb, l, a[0]));
      return arith::DivFOp::create(nb, l, one,
                                   arith::AddFOp::create(nb, l, one, e))
          .getResult();
    });
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow" ||
      op == "Max" || op == "Min") {
    if (absl::Status s = needInputs(2); !s.ok())
      return s;
    Type elt = typeOf(in[0]).getElementType();
    bool isFloat =
        isa<FloatType>(elt) || isa<FloatType>(typeOf(in[1]).getElementType());
    if (isFloat)
      elt = f32;
    Value x = convert(in[0], elt), y = convert(in[1], elt);
    setTensor(
        out(0),
        elementwise(
            {x, y}, elt, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
              if (op == "Add")
                return isFloat
                           ? Value(arith::AddFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::AddIOp::create(nb, l, a[0], a[1]));
              if (op == "Sub")
                return isFloat
                           ? Value(arith::SubFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::SubIOp::create(nb, l, a[0], a[1]));
              if (op == "Mul")
                return isFloat
                           ? Value(arith::MulFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::MulIOp::create(nb, l, a[0], a[1]));
              if (op == "Div")
                return isFloat
                           ? Value(arith::DivFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::DivSIOp::create(nb, l, a[0], a[1]));
              if (op == "Max")
                return isFloat
                           ? Value(arith::MaximumFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::MaxSIOp::create(nb, l, a[0], a[1]));
              if (op == "Min")
                return isFloat
                           ? Value(arith::MinimumFOp::create(nb, l, a[0], a[1]))
                           : Value(arith::MinSIOp::create(nb, l, a[0], a[1]));
              return math::PowFOp::create(nb, l, a[0], a[1]);
            }));
    return absl::OkStatus();
  }
  if (op == "Equal" || op == "Less" || op == "LessOrEqual" || op == "Greater" ||
      op == "GreaterOrEqual") {
    if (absl::Status s = needInputs(2); !s.ok())
      return s;
    bool isFloat = isa<FloatType>(typeOf(in[0]).getElementType()) ||
                   isa<FloatType>(typeOf(in[1]).getElementType());
    Type elt = isFloat ? f32 : typeOf(in[0]).getElementType();
    Value x = convert(in[0], elt), y = convert(in[1], elt);
    setTensor(
        out(0),
        elementwise(
            {x, y}, i1, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
              if (isFloat) {
                auto p = op == "Equal"         ? arith::CmpFPredicate::OEQ
                         : op == "Less"        ? arith::CmpFPredicate::OLT
                         : op == "LessOrEqual" ? arith::CmpFPredicate::OLE
                         : op == "Greater"     ? arith::CmpFPredicate::OGT
                                               : arith::CmpFPredicate::OGE;
                return arith::CmpFOp::create(nb, l, p, a[0], a[1]);
              }
              auto p = op == "Equal"         ? arith::CmpIPredicate::eq
                       : op == "Less"        ? arith::CmpIPredicate::slt
                       : op == "LessOrEqual" ? arith::CmpIPredicate::sle
                       : op == "Greater"     ? arith::CmpIPredicate::sgt
                                             : arith::CmpIPredicate::sge;
              return arith::CmpIOp::create(nb, l, p, a[0], a[1]);
            }));
    return absl::OkStatus();
  }
  if (op == "Not" || op == "And" || op == "Or") {
    int count = op == "Not" ? 1 : 2;
    if (absl::Status s = needInputs(count); !s.ok())
      return s;
    SmallVector<Value> bools;
    for (Value v : in)
      bools.push_back(convert(v, i1));
    setTensor(
        out(0),
        elementwise(
            bools, i1, [&](OpBuilder &nb, Location l, ValueRange a) -> Value {
              if (op == "Not") {
                Value t =
                    arith::ConstantOp::create(nb, l, nb.getBoolAttr(true));
                return arith::XOrIOp::create(nb, l, a[0], t);
              }
              return op == "And"
                         ? Value(arith::AndIOp::create(nb, l, a[0], a[1]))
                         : Value(arith::OrIOp::create(nb, l, a[0], a[1]));
            }));
    return absl::OkStatus();
  }
  if (op == "Where") {
    if (absl::Status s = needInputs(3); !s.ok())
      return s;
    Type elt = typeOf(in[1]).getElementType();
    if (isa<FloatType>(elt) || isa<FloatType>(typeOf(in[2]).getElementType()))
      elt = f32;
    setTensor(out(0),
              elementwise({convert(in[0], i1), convert(in[1], elt),
                           convert(in[2], elt)},
                          elt, [](OpBuilder &nb, Location l, ValueRange a) {
                            return arith::SelectOp::create(nb, l, a[0], a[1],
                                                           a[2])
                                .getResult();
                          }));
    return absl::OkStatus();
  }
  if (op == "Cast") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    setTensor(
        out(0),
        convert(in[0], computeType(ctx, int32_t(intAttr(node, "to", 1)))));
    return absl::OkStatus();
  }
  if (op == "Identity") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    setTensor(out(0), in[0]);
    return absl::OkStatus();
  }

  //--- contractions and reductions ---------------------------------------===//
  if (op == "MatMul" || op == "Gemm") {
    if (absl::Status s = needInputs(2); !s.ok())
      return s;
    Value x = convert(in[0], f32), y = convert(in[1], f32);
    auto xt = typeOf(x), yt = typeOf(y);
    bool transA = op == "Gemm" && intAttr(node, "transA", 0);
    bool transB = op == "Gemm" && intAttr(node, "transB", 0);
    if (xt.getRank() < 2 || yt.getRank() < 2 ||
        (op == "Gemm" && (xt.getRank() != 2 || yt.getRank() != 2)))
      return fail(node, "operands of rank < 2 are not supported");
    // Loops: batch..., m, n, k.
    unsigned batch = std::max(xt.getRank(), yt.getRank()) - 2;
    unsigned rank = batch + 3;
    SmallVector<OpFoldResult> xs = sizes(x), ys = sizes(y), outSizes;
    for (unsigned d = 0; d < batch; ++d) {
      int64_t xo = int64_t(batch) - (xt.getRank() - 2),
              yo = int64_t(batch) - (yt.getRank() - 2);
      OpFoldResult size = b.getIndexAttr(1);
      if (int64_t(d) >= xo && xt.getDimSize(d - xo) != 1)
        size = xs[d - xo];
      else if (int64_t(d) >= yo)
        size = ys[d - yo];
      outSizes.push_back(size);
    }
    int64_t kx = xt.getDimSize(xt.getRank() - (transA ? 2 : 1)),
            ky = yt.getDimSize(yt.getRank() - (transB ? 1 : 2));
    if (kx != kDyn && ky != kDyn && kx != ky)
      return fail(
          node, absl::StrCat("contracted sizes ", kx, " and ", ky, " differ"));
    OpFoldResult m = xs[xt.getRank() - (transA ? 1 : 2)];
    OpFoldResult n = ys[yt.getRank() - (transB ? 2 : 1)];
    outSizes.push_back(m);
    outSizes.push_back(n);
    auto operandMap = [&](RankedTensorType t, bool isX, bool trans) {
      SmallVector<AffineExpr> exprs;
      int64_t offset = int64_t(batch) - (t.getRank() - 2);
      for (int64_t d = offset; d < int64_t(batch); ++d)
        exprs.push_back(t.getDimSize(d - offset) == 1 &&
                                constant(outSizes[d]) !=
                                    std::optional<int64_t>(1)
                            ? b.getAffineConstantExpr(0)
                            : b.getAffineDimExpr(d));
      AffineExpr row = b.getAffineDimExpr(isX ? batch : batch + 2);
      AffineExpr col = b.getAffineDimExpr(isX ? batch + 2 : batch + 1);
      if (trans)
        std::swap(row, col);
      exprs.push_back(row);
      exprs.push_back(col);
      return AffineMap::get(rank, 0, exprs, &ctx);
    };
    SmallVector<AffineExpr> outExprs;
    for (unsigned d = 0; d < rank - 1; ++d)
      outExprs.push_back(b.getAffineDimExpr(d));
    TensorMath tm(b, loc);
    Value init = tm.filled(outSizes, f32, 0.0);
    SmallVector<utils::IteratorType> iterators(rank,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    Value product =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{x, y},
            ValueRange{init},
            ArrayRef<AffineMap>{operandMap(xt, true, transA),
                                operandMap(yt, false, transB),
                                AffineMap::get(rank, 0, outExprs, &ctx)},
            iterators,
            [](OpBuilder &nb, Location l, ValueRange a) {
              Value p = arith::MulFOp::create(nb, l, a[0], a[1]);
              linalg::YieldOp::create(
                  nb, l, arith::AddFOp::create(nb, l, p, a[2]).getResult());
            })
            .getResult(0);
    if (op == "Gemm") {
      float alpha = floatAttr(node, "alpha", 1.0f),
            beta = floatAttr(node, "beta", 1.0f);
      Value c = input(node, 2).empty() ? Value() : tensor(input(node, 2));
      product = c ? elementwise(
                        {product, convert(c, f32)}, f32,
                        [&](OpBuilder &nb, Location l, ValueRange a) {
                          Value s = arith::MulFOp::create(
                              nb, l, a[0],
                              arith::ConstantOp::create(
                                  nb, l, nb.getF32FloatAttr(alpha)));
                          Value t = arith::MulFOp::create(
                              nb, l, a[1],
                              arith::ConstantOp::create(
                                  nb, l, nb.getF32FloatAttr(beta)));
                          return arith::AddFOp::create(nb, l, s, t).getResult();
                        })
                  : product;
    }
    setTensor(out(0), product);
    return absl::OkStatus();
  }
  if (op == "ReduceMean" || op == "ReduceSum" || op == "ReduceMax") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    Value x = convert(in[0], f32);
    int64_t rank = typeOf(x).getRank();
    // Axes: an attribute before opset 18 (ReduceSum: 13), then an input.
    std::optional<SmallVector<int64_t>> axesList = constInts(node, 1, "axes");
    SmallVector<int64_t> axes;
    if (!axesList || axesList->empty()) {
      if (!input(node, 1).empty() && !axesList)
        return fail(node, "axes must be known when the graph is imported");
      if (intAttr(node, "noop_with_empty_axes", 0)) {
        setTensor(out(0), x);
        return absl::OkStatus();
      }
      for (int64_t d = 0; d < rank; ++d)
        axes.push_back(d);
    } else {
      for (int64_t a : *axesList) {
        std::optional<int64_t> ax = axis(a, rank);
        if (!ax)
          return fail(node, absl::StrCat("axis ", a, " out of range"));
        axes.push_back(*ax);
      }
    }
    llvm::sort(axes);
    SmallVector<OpFoldResult> all = sizes(x), kept;
    SmallVector<AffineExpr> outExprs;
    SmallVector<utils::IteratorType> iterators;
    OpFoldResult count = b.getIndexAttr(1);
    for (int64_t d = 0; d < rank; ++d) {
      if (llvm::is_contained(axes, d)) {
        iterators.push_back(utils::IteratorType::reduction);
        count = arith(count, all[d], '*');
      } else {
        iterators.push_back(utils::IteratorType::parallel);
        kept.push_back(all[d]);
        outExprs.push_back(b.getAffineDimExpr(d));
      }
    }
    bool isMax = op == "ReduceMax";
    Value init = TensorMath(b, loc).filled(
        kept, f32, isMax ? -std::numeric_limits<double>::infinity() : 0.0);
    Value reduced =
        linalg::GenericOp::create(
            b, loc, TypeRange{init.getType()}, ValueRange{x}, ValueRange{init},
            ArrayRef<AffineMap>{b.getMultiDimIdentityMap(rank),
                                AffineMap::get(rank, 0, outExprs, &ctx)},
            iterators,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value r =
                  isMax ? Value(arith::MaximumFOp::create(nb, l, a[0], a[1]))
                        : Value(arith::AddFOp::create(nb, l, a[0], a[1]));
              linalg::YieldOp::create(nb, l, r);
            })
            .getResult(0);
    bool keepDims = intAttr(node, "keepdims", 1);
    if (op != "ReduceMean" && !keepDims) {
      setTensor(out(0), reduced);
      return absl::OkStatus();
    }
    // The mean's division and keepdims' unit dimensions in one elementwise
    // generic (not an expand_shape), so that elementwise fusion carries the
    // reduction's consumers through it.
    Value n = op == "ReduceMean"
                  ? Value(arith::SIToFPOp::create(
                        b, loc, f32,
                        arith::IndexCastOp::create(b, loc, b.getI64Type(),
                                                   index(count))))
                  : Value();
    SmallVector<OpFoldResult> outSizes;
    SmallVector<AffineExpr> readKept;
    int64_t outRank = keepDims ? rank : rank - int64_t(axes.size());
    for (int64_t d = 0, next = 0; d < rank; ++d) {
      bool reducedDim = llvm::is_contained(axes, d);
      if (reducedDim && keepDims)
        outSizes.push_back(b.getIndexAttr(1));
      if (reducedDim)
        continue;
      readKept.push_back(b.getAffineDimExpr(keepDims ? d : next));
      ++next;
      outSizes.push_back(all[d]);
    }
    setTensor(out(0),
              generic(reduced, outSizes, f32,
                      AffineMap::get(outRank, 0, readKept, &ctx),
                      [&](OpBuilder &nb, Location l, ValueRange a) {
                        return n ? Value(arith::DivFOp::create(nb, l, a[0], n))
                                 : a[0];
                      }));
    return absl::OkStatus();
  }
  if (op == "Softmax") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    Value x = convert(in[0], f32);
    int64_t rank = typeOf(x).getRank();
    if (axis(intAttr(node, "axis", -1), rank) != rank - 1)
      return fail(node, "only softmax over the last axis is supported");
    setTensor(out(0), TensorMath(b, loc).softmaxLastDim(x));
    return absl::OkStatus();
  }

  //--- data movement -----------------------------------------------------===//
  if (op == "Gather") {
    if (absl::Status s = needInputs(2); !s.ok())
      return s;
    Value data = in[0], idx = convert(in[1], b.getI64Type());
    auto dt = typeOf(data);
    std::optional<int64_t> ax = axis(intAttr(node, "axis", 0), dt.getRank());
    if (!ax)
      return fail(node, "axis out of range");
    SmallVector<OpFoldResult> ds = sizes(data), is = sizes(idx), outSizes;
    int64_t ir = typeOf(idx).getRank();
    outSizes.append(ds.begin(), ds.begin() + *ax);
    outSizes.append(is.begin(), is.end());
    outSizes.append(ds.begin() + *ax + 1, ds.end());
    unsigned rank = outSizes.size();
    SmallVector<AffineExpr> idxExprs;
    for (int64_t d = 0; d < ir; ++d)
      idxExprs.push_back(b.getAffineDimExpr(*ax + d));
    Value extent = index(ds[*ax]);
    setTensor(
        out(0),
        generic(idx, outSizes, dt.getElementType(),
                AffineMap::get(rank, 0, idxExprs, &ctx),
                [&](OpBuilder &nb, Location l, ValueRange a) {
                  Value i = clampIndex(nb, l, a[0], extent);
                  SmallVector<Value> at;
                  for (int64_t d = 0; d < *ax; ++d)
                    at.push_back(linalg::IndexOp::create(nb, l, d));
                  at.push_back(i);
                  for (int64_t d = *ax + 1; d < dt.getRank(); ++d)
                    at.push_back(linalg::IndexOp::create(nb, l, d + ir - 1));
                  return tensor::ExtractOp::create(nb, l, data, at).getResult();
                }));
    return absl::OkStatus();
  }
  if (op == "Transpose") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    int64_t rank = typeOf(in[0]).getRank();
    SmallVector<int64_t> perm;
    if (const onnx::AttributeProto *a = attribute(node, "perm"))
      perm.assign(a->ints().begin(), a->ints().end());
    else
      for (int64_t d = rank - 1; d >= 0; --d)
        perm.push_back(d);
    if (int64_t(perm.size()) != rank)
      return fail(node, "perm does not match the input rank");
    SmallVector<OpFoldResult> is = sizes(in[0]), outSizes;
    // out[d] = in[perm[d]]: the input is indexed by the inverse.
    SmallVector<AffineExpr> exprs(rank);
    for (int64_t d = 0; d < rank; ++d) {
      std::optional<int64_t> p = axis(perm[d], rank);
      if (!p || exprs[*p])
        return fail(node, "perm is not a permutation of the dimensions");
      outSizes.push_back(is[*p]);
      exprs[*p] = b.getAffineDimExpr(d);
    }
    setTensor(out(0), generic(in[0], outSizes, typeOf(in[0]).getElementType(),
                              AffineMap::get(rank, 0, exprs, &ctx),
                              [](OpBuilder &, Location, ValueRange a) {
                                return a[0];
                              }));
    return absl::OkStatus();
  }
  if (op == "Reshape") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    const Known *shape = known(input(node, 1));
    if (!shape)
      return fail(node, "the target shape must be computable when the graph "
                        "is imported (from constants and input sizes)");
    SmallVector<OpFoldResult> is = sizes(in[0]), target;
    bool allowZero = intAttr(node, "allowzero", 0);
    int inferred = -1;
    SizeProduct total, product;
    for (OpFoldResult s : is)
      total.multiply(s);
    for (auto [i, e] : llvm::enumerate(shape->elements)) {
      std::optional<int64_t> c = constant(e);
      if (c == 0 && !allowZero) {
        if (i >= is.size())
          return fail(node, "a 0 in the shape past the input's rank");
        target.push_back(is[i]);
      } else if (c == -1) {
        if (inferred >= 0)
          return fail(node, "more than one -1 in the shape");
        inferred = i;
        target.push_back(b.getIndexAttr(1));
        continue;
      } else {
        target.push_back(e);
      }
      product.multiply(target.back());
    }
    // Compare the element counts where they are comparable: the constant
    // parts, when both sides have the same run-time sizes.
    std::optional<SizeProduct> quotient = total.divide(product);
    if (total.symbols == product.symbols && !quotient && inferred >= 0)
      return fail(node, absl::StrCat("cannot infer the -1 of the shape: ",
                                     total.fixed, " elements ",
                                     total.symbols.empty() ? "" : "per row ",
                                     "are not a multiple of ", product.fixed));
    if (total.symbols == product.symbols && !(total == product) && inferred < 0)
      return fail(node,
                  absl::StrCat("cannot reshape ", total.fixed, " elements ",
                               total.symbols.empty() ? "" : "per row ", "to ",
                               product.fixed));
    if (inferred >= 0 && quotient) {
      OpFoldResult size = b.getIndexAttr(quotient->fixed);
      for (Value symbol : quotient->symbols)
        size = arith(size, symbol, '*');
      target[inferred] = size;
    } else if (inferred >= 0) {
      OpFoldResult all = b.getIndexAttr(1), known = b.getIndexAttr(1);
      for (OpFoldResult s : is)
        all = arith(all, s, '*');
      for (OpFoldResult t : target)
        known = arith(known, t, '*');
      target[inferred] = arith(all, known, '/');
    }
    setTensor(out(0), reshape(in[0], target));
    return absl::OkStatus();
  }
  if (op == "Unsqueeze" || op == "Squeeze" || op == "Flatten") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    auto t = typeOf(in[0]);
    int64_t rank = t.getRank();
    SmallVector<OpFoldResult> is = sizes(in[0]), target;
    if (op == "Flatten") {
      std::optional<int64_t> ax = intAttr(node, "axis", 1) == rank
                                      ? std::optional<int64_t>(rank)
                                      : axis(intAttr(node, "axis", 1), rank);
      if (!ax)
        return fail(node, "axis out of range");
      OpFoldResult outer = b.getIndexAttr(1), inner = b.getIndexAttr(1);
      for (int64_t d = 0; d < rank; ++d)
        (d < *ax ? outer : inner) = arith(d < *ax ? outer : inner, is[d], '*');
      setTensor(out(0), reshape(in[0], {outer, inner}));
      return absl::OkStatus();
    }
    std::optional<SmallVector<int64_t>> axes = constInts(node, 1, "axes");
    if (op == "Unsqueeze") {
      if (!axes)
        return fail(node, "axes must be known when the graph is imported");
      int64_t outRank = rank + axes->size();
      SmallVector<int64_t> positions;
      for (int64_t a : *axes) {
        std::optional<int64_t> ax = axis(a, outRank);
        if (!ax || llvm::is_contained(positions, *ax))
          return fail(node, "axes out of range or repeated");
        positions.push_back(*ax);
      }
      llvm::sort(positions);
      setTensor(out(0), insertUnitDims(in[0], positions));
      return absl::OkStatus();
    }
    SmallVector<int64_t> drop;
    for (int64_t d = 0; d < rank; ++d) {
      bool listed = !axes || axes->empty();
      if (axes)
        for (int64_t a : *axes)
          listed |= axis(a, rank) == d;
      if (!listed)
        continue;
      if (t.getDimSize(d) == 1)
        drop.push_back(d);
      else if (axes && !axes->empty())
        return fail(node,
                    absl::StrCat("dimension ", d, " is not statically 1"));
    }
    for (int64_t d = 0; d < rank; ++d)
      if (!llvm::is_contained(drop, d))
        target.push_back(is[d]);
    setTensor(out(0), reshape(in[0], target));
    return absl::OkStatus();
  }
  if (op == "Concat") {
    if (absl::Status s = needInputs(node.input_size()); !s.ok())
      return s;
    int64_t rank = typeOf(in[0]).getRank();
    std::optional<int64_t> ax = axis(intAttr(node, "axis", 0), rank);
    if (!ax)
      return fail(node, "axis out of range");
    Type elt = typeOf(in[0]).getElementType();
    SmallVector<OpFoldResult> outSizes = sizes(in[0]);
    for (size_t i = 1; i < in.size(); ++i)
      outSizes[*ax] = arith(outSizes[*ax], sizes(in[i])[*ax], '+');
    Value result = TensorMath(b, loc).empty(outSizes, elt);
    OpFoldResult offset = b.getIndexAttr(0);
    for (Value part : in) {
      SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
      offsets[*ax] = offset;
      result = tensor::InsertSliceOp::create(
          b, loc, convert(part, elt), result, offsets, sizes(part),
          SmallVector<OpFoldResult>(rank, b.getIndexAttr(1)));
      offset = arith(offset, sizes(part)[*ax], '+');
    }
    setTensor(out(0), result);
    return absl::OkStatus();
  }
  if (op == "Slice" || op == "Split") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    Value data = in[0];
    int64_t rank = typeOf(data).getRank();
    SmallVector<OpFoldResult> ds = sizes(data);
    auto slice = [&](ArrayRef<OpFoldResult> offsets,
                     ArrayRef<OpFoldResult> lengths,
                     ArrayRef<OpFoldResult> strides) -> Value {
      return tensor::ExtractSliceOp::create(b, loc, data, offsets, lengths,
                                            strides);
    };
    if (op == "Split") {
      std::optional<int64_t> ax = axis(intAttr(node, "axis", 0), rank);
      if (!ax)
        return fail(node, "axis out of range");
      SmallVector<OpFoldResult> parts;
      if (std::optional<SmallVector<int64_t>> split =
              constInts(node, 1, "split");
          split && !split->empty()) {
        for (int64_t p : *split)
          parts.push_back(b.getIndexAttr(p));
      } else {
        int64_t n = intAttr(node, "num_outputs", node.output_size());
        std::optional<int64_t> extent = constant(ds[*ax]);
        if (!extent || n <= 0)
          return fail(node, "an even split needs a static axis size");
        int64_t chunk = (*extent + n - 1) / n;
        for (int64_t i = 0; i < n; ++i)
          parts.push_back(b.getIndexAttr(std::min(chunk, *extent - i * chunk)));
      }
      if (int64_t(parts.size()) != node.output_size())
        return fail(node, "the split sizes do not match the outputs");
      OpFoldResult offset = b.getIndexAttr(0);
      for (int i = 0; i < node.output_size(); ++i) {
        SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
            lengths = ds;
        offsets[*ax] = offset;
        lengths[*ax] = parts[i];
        setTensor(out(i),
                  slice(offsets, lengths,
                        SmallVector<OpFoldResult>(rank, b.getIndexAttr(1))));
        offset = arith(offset, parts[i], '+');
      }
      return absl::OkStatus();
    }
    // Starts and ends may be symbolic (a sequence length from Shape, never
    // negative); axes and steps must be constants.
    const Known *starts = known(input(node, 1)), *ends = known(input(node, 2));
    if (!starts || !ends || starts->elements.size() != ends->elements.size())
      return fail(node, "starts and ends must be known when the graph is "
                        "imported");
    std::optional<SmallVector<int64_t>> axesList = constInts(node, 3, nullptr),
                                        steps = constInts(node, 4, nullptr);
    SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0)),
        lengths = ds, strides(rank, b.getIndexAttr(1));
    for (size_t i = 0; i < starts->elements.size(); ++i) {
      std::optional<int64_t> ax =
          axis(axesList ? (*axesList)[i] : int64_t(i), rank);
      int64_t step = steps ? (*steps)[i] : 1;
      if (!ax || step <= 0)
        return fail(node, "only positive steps on valid axes are supported");
      // Clamp start and end into [0, size]; negative ones count from the
      // end. With a static size this folds to constants.
      auto bound = [&](OpFoldResult bound) -> OpFoldResult {
        OpFoldResult size = ds[*ax];
        std::optional<int64_t> v = constant(bound);
        if (!v || *v >= 0) {
          std::optional<int64_t> s = constant(size);
          if (v && s)
            return b.getIndexAttr(std::min(*v, *s));
          return arith::MinSIOp::create(b, loc, index(bound), index(size))
              .getResult();
        }
        OpFoldResult shifted = arith(size, b.getIndexAttr(*v), '+');
        if (std::optional<int64_t> s = constant(shifted))
          return b.getIndexAttr(std::max<int64_t>(*s, 0));
        return arith::MaxSIOp::create(b, loc, index(shifted),
                                      index(b.getIndexAttr(0)))
            .getResult();
      };
      OpFoldResult begin = bound(starts->elements[i]),
                   end = bound(ends->elements[i]);
      OpFoldResult span = arith(end, begin, '-');
      // ceil(span / step), and never negative.
      OpFoldResult count = arith(arith(span, b.getIndexAttr(step - 1), '+'),
                                 b.getIndexAttr(step), '/');
      if (std::optional<int64_t> c = constant(count))
        count = b.getIndexAttr(std::max<int64_t>(*c, 0));
      else
        count = arith::MaxSIOp::create(b, loc, index(count),
                                       index(b.getIndexAttr(0)))
                    .getResult();
      offsets[*ax] = begin;
      lengths[*ax] = count;
      strides[*ax] = b.getIndexAttr(step);
    }
    setTensor(out(0), slice(offsets, lengths, strides));
    return absl::OkStatus();
  }
  if (op == "Expand" || op == "ConstantOfShape") {
    bool constantOfShape = op == "ConstantOfShape";
    const Known *shape = known(input(node, constantOfShape ? 0 : 1));
    if (!shape)
      return fail(node, "the target shape must be computable when the graph "
                        "is imported");
    if (constantOfShape) {
      double fill = 0.0;
      Type elt = f32;
      if (const onnx::AttributeProto *a = attribute(node, "value")) {
        std::optional<std::vector<double>> v = tensorValues(a->t());
        if (!v || v->size() != 1)
          return fail(node, "value must be a one-element tensor");
        fill = (*v)[0];
        elt = computeType(ctx, a->t().data_type());
      }
      setTensor(out(0), TensorMath(b, loc).filled(shape->elements, elt, fill));
      return absl::OkStatus();
    }
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    // Broadcast the input against a tensor of the target shape.
    Value target = TensorMath(b, loc).empty(shape->elements,
                                            typeOf(in[0]).getElementType());
    setTensor(
        out(0),
        elementwise({in[0], target}, typeOf(in[0]).getElementType(),
                    [](OpBuilder &, Location, ValueRange a) { return a[0]; }));
    return absl::OkStatus();
  }
  if (op == "Range") {
    if (!allKnown(3) || known(input(node, 0))->elements.size() != 1 ||
        known(input(node, 1))->elements.size() != 1 ||
        known(input(node, 2))->elements.size() != 1)
      return fail(node, "start, limit and delta must be scalars known when "
                        "the graph is imported");
    OpFoldResult start = known(input(node, 0))->elements[0],
                 limit = known(input(node, 1))->elements[0],
                 delta = known(input(node, 2))->elements[0];
    std::optional<int64_t> step = constant(delta);
    if (!step || *step <= 0)
      return fail(node, "only a constant positive delta is supported");
    OpFoldResult count =
        arith(arith(arith(limit, start, '-'), b.getIndexAttr(*step - 1), '+'),
              b.getIndexAttr(*step), '/');
    // An empty range when the limit is below the start.
    if (std::optional<int64_t> c = constant(count))
      count = b.getIndexAttr(std::max<int64_t>(*c, 0));
    else
      count =
          arith::MaxSIOp::create(b, loc, index(count), index(b.getIndexAttr(0)))
              .getResult();
    Value first = index(start);
    Value range = generic(
        {}, {count}, b.getI64Type(), {},
        [&](OpBuilder &nb, Location l, ValueRange) {
          Value i = linalg::IndexOp::create(nb, l, 0);
          Value v = arith::AddIOp::create(
              nb, l, first,
              arith::MulIOp::create(
                  nb, l, i, arith::ConstantIndexOp::create(nb, l, *step)));
          return arith::IndexCastOp::create(nb, l, nb.getI64Type(), v)
              .getResult();
        });
    if (std::optional<int64_t> c = constant(start); c && *step == 1)
      rangeStarts[range] = *c;
    setTensor(out(0), range);
    return absl::OkStatus();
  }
  if (op == "Trilu") {
    if (absl::Status s = needInputs(1); !s.ok())
      return s;
    int64_t k = 0;
    if (!input(node, 1).empty()) {
      std::optional<SmallVector<int64_t>> kv = constInts(node, 1, nullptr);
      if (!kv || kv->size() != 1)
        return fail(node, "k must be known when the graph is imported");
      k = (*kv)[0];
    }
    bool upper = intAttr(node, "upper", 1);
    int64_t rank = typeOf(in[0]).getRank();
    if (rank < 2)
      return fail(node, "the input must have rank >= 2");
    Type elt = typeOf(in[0]).getElementType();
    setTensor(
        out(0),
        elementwise(in[0], elt, [&](OpBuilder &nb, Location l, ValueRange a) {
          // Keep (i, j) when j - i >= k (upper) or j - i <= k (lower).
          Value i = linalg::IndexOp::create(nb, l, rank - 2);
          Value j = linalg::IndexOp::create(nb, l, rank - 1);
          Value diff = arith::SubIOp::create(nb, l, j, i);
          Value kk = arith::ConstantIndexOp::create(nb, l, k);
          Value keep = arith::CmpIOp::create(nb, l,
                                             upper ? arith::CmpIPredicate::sge
                                                   : arith::CmpIPredicate::sle,
                                             diff, kk);
          Value zero =
              arith::ConstantOp::create(nb, l, nb.getZeroAttr(a[0].getType()));
          return arith::SelectOp::create(nb, l, keep, a[0], zero).getResult();
        }));
    return absl::OkStatus();
  }
  //--- selection and scatter (routers, masks, key assembly)
  //---------------===//
  if (op == "TopK") {
    if (absl::Status st = needInputs(1); !st.ok())
      return st;
    std::optional<SmallVector<int64_t>> kv = constInts(node, 1, nullptr);
    if (!kv || kv->size() != 1 || (*kv)[0] < 1)
      return fail(node, "k must be a known positive number");
    int64_t k = (*kv)[0];
    Value x = in[0];
    auto xt = typeOf(x);
    int64_t rank = xt.getRank();
    if (axis(intAttr(node, "axis", -1), rank) != rank - 1)
      return fail(node, "only the last axis is supported");
    bool largest = intAttr(node, "largest", 1);
    if (!xt.isDynamicDim(rank - 1) && k > xt.getDimSize(rank - 1))
      return fail(node, "k exceeds the row width");
    SmallVector<int64_t> shape(xt.getShape());
    shape.back() = k;
    auto topk = TopkOp::create(
        b, loc, RankedTensorType::get(shape, xt.getElementType()),
        RankedTensorType::get(shape, b.getI64Type()), x, b.getI64IntegerAttr(k),
        largest ? UnitAttr() : b.getUnitAttr());
    setTensor(out(0), topk.getValues());
    if (node.output_size() > 1)
      setTensor(out(1), topk.getIndices());
    return absl::OkStatus();
  }
  if (op == "GatherElements") {
    if (absl::Status st = needInputs(2); !st.ok())
      return st;
    Value data = in[0], idx = convert(in[1], b.getI64Type());
    int64_t rank = typeOf(data).getRank();
    std::optional<int64_t> ax = axis(intAttr(node, "axis", 0), rank);
    if (!ax || typeOf(idx).getRank() != rank)
      return fail(node, "indices must have the data's rank and a valid axis");
    Value extent = index(sizes(data)[*ax]);
    setTensor(
        out(0),
        generic(idx, sizes(idx), typeOf(data).getElementType(),
                b.getMultiDimIdentityMap(rank),
                [&](OpBuilder &nb, Location l, ValueRange a) {
                  SmallVector<Value> at;
                  for (int64_t d = 0; d < rank; ++d)
                    at.push_back(
                        d == *ax ? clampIndex(nb, l, a[0], extent)
                                 : Value(linalg::IndexOp::create(nb, l, d)));
                  return tensor::ExtractOp::create(nb, l, data, at).getResult();
                }));
    return absl::OkStatus();
  }
  if (op == "GatherND") {
    if (absl::Status st = needInputs(2); !st.ok())
      return st;
    if (intAttr(node, "batch_dims", 0) != 0)
      return fail(node, "only batch_dims = 0 is supported");
    Value data = in[0], idx = convert(in[1], b.getI64Type());
    auto dt = typeOf(data), it = typeOf(idx);
    if (it.getRank() < 1)
      return fail(node, "indices must have rank >= 1");
    int64_t r = it.getDimSize(it.getRank() - 1);
    if (r == kDyn || r < 1 || r > dt.getRank())
      return fail(node, "the index tuple length must be static and at most "
                        "the data's rank");
    SmallVector<OpFoldResult> ds = sizes(data), is = sizes(idx), outSizes;
    outSizes.append(is.begin(), is.end() - 1);
    outSizes.append(ds.begin() + r, ds.end());
    int64_t outRank = outSizes.size(), lead = it.getRank() - 1;
    setTensor(
        out(0),
        generic({}, outSizes, dt.getElementType(), {},
                [&](OpBuilder &nb, Location l, ValueRange) {
                  SmallVector<Value> q, at;
                  for (int64_t d = 0; d < lead; ++d)
                    q.push_back(linalg::IndexOp::create(nb, l, d));
                  for (int64_t c = 0; c < r; ++c) {
                    SmallVector<Value> where = q;
                    where.push_back(arith::ConstantIndexOp::create(nb, l, c));
                    Value i = tensor::ExtractOp::create(nb, l, idx, where);
                    at.push_back(clampIndex(nb, l, i, index(ds[c])));
                  }
                  for (int64_t d = lead; d < outRank; ++d)
                    at.push_back(linalg::IndexOp::create(nb, l, d));
                  return tensor::ExtractOp::create(nb, l, data, at).getResult();
                }));
    return absl::OkStatus();
  }
  if (op == "ScatterElements" || op == "ScatterND") {
    if (absl::Status st = needInputs(3); !st.ok())
      return st;
    std::string reduction = "none";
    if (const onnx::AttributeProto *a = attribute(node, "reduction"))
      reduction = a->s();
    if (reduction != "none" && reduction != "add")
      return fail(node, "only reduction none or add is supported");
    bool add = reduction == "add";
    Value data = in[0], idx = convert(in[1], b.getI64Type()), updates = in[2];
    Type elt = typeOf(data).getElementType();
    updates = convert(updates, elt);
    int64_t rank = typeOf(data).getRank();
    // Written as a gather: each output element looks through the updates
    // aimed at it (later ones win, or add up), starting from the data.
    SmallVector<AffineExpr> outExprs;
    for (int64_t d = 0; d < rank; ++d)
      outExprs.push_back(b.getAffineDimExpr(d));
    auto combine = [&](OpBuilder &nb, Location l, Value hit, Value update,
                       Value acc) -> Value {
      Value next = !add ? update
                   : isa<FloatType>(elt)
                       ? Value(arith::AddFOp::create(nb, l, acc, update))
                       : Value(arith::AddIOp::create(nb, l, acc, update));
      return arith::SelectOp::create(nb, l, hit, next, acc);
    };
    if (op == "ScatterElements") {
      std::optional<int64_t> ax = axis(intAttr(node, "axis", 0), rank);
      auto it = typeOf(idx);
      if (!ax || it.getRank() != rank)
        return fail(node, "indices must have the data's rank and a valid axis");
      // Loops: the output's, then j along the axis of the indices.
      SmallVector<AffineExpr> readExprs;
      for (int64_t d = 0; d < rank; ++d)
        readExprs.push_back(b.getAffineDimExpr(d == *ax ? rank : d));
      for (int64_t d = 0; d < rank; ++d)
        if (d != *ax && it.getDimSize(d) != typeOf(data).getDimSize(d))
          return fail(node, "indices must span the data in every dimension "
                            "but the axis");
      SmallVector<utils::IteratorType> iterators(rank + 1,
                                                 utils::IteratorType::parallel);
      iterators.back() = utils::IteratorType::reduction;
      Value extent = index(sizes(data)[*ax]);
      setTensor(
          out(0),
          linalg::GenericOp::create(
              b, loc, TypeRange{data.getType()}, ValueRange{idx, updates},
              ValueRange{data},
              ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, readExprs, &ctx),
                                  AffineMap::get(rank + 1, 0, readExprs, &ctx),
                                  AffineMap::get(rank + 1, 0, outExprs, &ctx)},
              iterators,
              [&](OpBuilder &nb, Location l, ValueRange a) {
                Value target = clampIndex(nb, l, a[0], extent);
                Value hit = arith::CmpIOp::create(
                    nb, l, arith::CmpIPredicate::eq, target,
                    linalg::IndexOp::create(nb, l, *ax));
                linalg::YieldOp::create(nb, l, combine(nb, l, hit, a[1], a[2]));
              })
              .getResult(0));
      return absl::OkStatus();
    }
    // ScatterND: indices [q..., r], updates [q..., data dims r...].
    auto it = typeOf(idx);
    if (it.getRank() < 1)
      return fail(node, "indices must have rank >= 1");
    int64_t r = it.getDimSize(it.getRank() - 1), lead = it.getRank() - 1;
    if (r == kDyn || r < 1 || r > rank)
      return fail(node, "the index tuple length must be static and at most "
                        "the data's rank");
    // Indices [n, 1] that are start, start + 1, ... (an exporter's spelling
    // of a concatenation into a buffer): the updates are a slice of the
    // result, at `start` along the first dimension.
    auto ut = typeOf(updates);
    if (!add && r == 1 && lead == 1 && !it.isDynamicDim(0) &&
        ut.getRank() == rank && ut.getDimSize(0) == it.getDimSize(0)) {
      // Only where the slice provably fits: the general form below is
      // safe for any sizes the graph meets at run time, a slice is not.
      std::optional<int64_t> start = contiguousStart(idx);
      int64_t extent = typeOf(data).getDimSize(0);
      SmallVector<OpFoldResult> dataSizes = sizes(data);
      SmallVector<OpFoldResult> updateSizes = sizes(updates);
      bool fits = start && *start >= 0 && extent != kDyn &&
                  *start + it.getDimSize(0) <= extent;
      for (int64_t d = 1; fits && d < rank; ++d)
        fits = isEqualConstantIntOrValue(dataSizes[d], updateSizes[d]);
      if (fits) {
        SmallVector<OpFoldResult> offsets(rank, b.getIndexAttr(0));
        offsets[0] = b.getIndexAttr(*start);
        setTensor(out(0),
                  tensor::InsertSliceOp::create(
                      b, loc, updates, data, offsets, sizes(updates),
                      SmallVector<OpFoldResult>(rank, b.getIndexAttr(1))));
        return absl::OkStatus();
      }
    }
    // Loops: the output's, then the update index q (reductions).
    int64_t loops = rank + lead;
    SmallVector<AffineExpr> updExprs, idxExprs;
    for (int64_t d = 0; d < lead; ++d) {
      updExprs.push_back(b.getAffineDimExpr(rank + d));
      idxExprs.push_back(b.getAffineDimExpr(rank + d));
    }
    for (int64_t d = r; d < rank; ++d)
      updExprs.push_back(b.getAffineDimExpr(d));
    SmallVector<utils::IteratorType> iterators(loops,
                                               utils::IteratorType::parallel);
    for (int64_t d = rank; d < loops; ++d)
      iterators[d] = utils::IteratorType::reduction;
    SmallVector<OpFoldResult> ds = sizes(data);
    // The index tuple of update q: read through a 1-component view per
    // component, all in the body.
    setTensor(
        out(0),
        linalg::GenericOp::create(
            b, loc, TypeRange{data.getType()}, ValueRange{updates},
            ValueRange{data},
            ArrayRef<AffineMap>{AffineMap::get(loops, 0, updExprs, &ctx),
                                AffineMap::get(loops, 0, outExprs, &ctx)},
            iterators,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              SmallVector<Value> q;
              for (int64_t d = 0; d < lead; ++d)
                q.push_back(linalg::IndexOp::create(nb, l, rank + d));
              Value hit =
                  arith::ConstantOp::create(nb, l, nb.getBoolAttr(true));
              for (int64_t c = 0; c < r; ++c) {
                SmallVector<Value> where = q;
                where.push_back(arith::ConstantIndexOp::create(nb, l, c));
                Value target = clampIndex(
                    nb, l, tensor::ExtractOp::create(nb, l, idx, where),
                    index(ds[c]));
                hit = arith::AndIOp::create(
                    nb, l, hit,
                    arith::CmpIOp::create(nb, l, arith::CmpIPredicate::eq,
                                          target,
                                          linalg::IndexOp::create(nb, l, c)));
              }
              linalg::YieldOp::create(nb, l, combine(nb, l, hit, a[0], a[1]));
            })
            .getResult(0));
    return absl::OkStatus();
  }
  if (op == "CumSum") {
    if (absl::Status st = needInputs(1); !st.ok())
      return st;
    std::optional<SmallVector<int64_t>> axv = constInts(node, 1, nullptr);
    Value x = in[0];
    int64_t rank = typeOf(x).getRank();
    std::optional<int64_t> ax =
        axv && axv->size() == 1 ? axis((*axv)[0], rank) : std::nullopt;
    if (!ax)
      return fail(node, "the axis must be known and valid");
    bool exclusive = intAttr(node, "exclusive", 0),
         reverse = intAttr(node, "reverse", 0);
    Type elt = typeOf(x).getElementType();
    // out[..i..] = sum over m of x[..m..] where m <= i (m < i exclusive;
    // reversed: m >= i).
    SmallVector<AffineExpr> readExprs, outExprs;
    for (int64_t d = 0; d < rank; ++d) {
      readExprs.push_back(b.getAffineDimExpr(d == *ax ? rank : d));
      outExprs.push_back(b.getAffineDimExpr(d));
    }
    SmallVector<utils::IteratorType> iterators(rank + 1,
                                               utils::IteratorType::parallel);
    iterators.back() = utils::IteratorType::reduction;
    setTensor(
        out(0),
        linalg::GenericOp::create(
            b, loc, TypeRange{RankedTensorType::get(typeOf(x).getShape(), elt)},
            ValueRange{x},
            ValueRange{TensorMath(b, loc).filled(sizes(x), elt, 0.0)},
            ArrayRef<AffineMap>{AffineMap::get(rank + 1, 0, readExprs, &ctx),
                                AffineMap::get(rank + 1, 0, outExprs, &ctx)},
            iterators,
            [&](OpBuilder &nb, Location l, ValueRange a) {
              Value i = linalg::IndexOp::create(nb, l, *ax);
              Value m = linalg::IndexOp::create(nb, l, rank);
              auto pred = reverse ? (exclusive ? arith::CmpIPredicate::ugt
                                               : arith::CmpIPredicate::uge)
                                  : (exclusive ? arith::CmpIPredicate::ult
                                               : arith::CmpIPredicate::ule);
              Value take = arith::CmpIOp::create(nb, l, pred, m, i);
              Value sum = isa<FloatType>(elt)
                              ? Value(arith::AddFOp::create(nb, l, a[1], a[0]))
                              : Value(arith::AddIOp::create(nb, l, a[1], a[0]));
              linalg::YieldOp::create(
                  nb, l,
                  arith::SelectOp::create(nb, l, take, sum, a[1]).getResult());
            })
            .getResult(0));
    return absl::OkStatus();
  }
  //--- Einsum and If
  //------------------------------------------------------===//
  if (op == "Einsum") {
    const onnx::AttributeProto *eq = attribute(node, "equation");
    if (!eq)
      return fail(node, "no equation");
    std::string equation;
    for (char c : eq->s())
      if (c != ' ')
        equation += c;
    if (equation.find("...") != std::string::npos)
      return fail(node, "equations with '...' are not supported");
    if (absl::Status st = needInputs(node.input_size()); !st.ok())
      return st;
    size_t arrow = equation.find("->");
    std::string lhs = equation.substr(0, arrow);
    std::vector<std::string> terms;
    for (size_t start = 0;;) {
      size_t comma = lhs.find(',', start);
      terms.push_back(lhs.substr(start, comma - start));
      if (comma == std::string::npos)
        break;
      start = comma + 1;
    }
    if (terms.size() != in.size())
      return fail(node, "the equation's terms do not match the inputs");
    std::string result;
    if (arrow != std::string::npos) {
      result = equation.substr(arrow + 2);
    } else {
      // Implicit output: the letters that appear once, in alphabetical order.
      std::map<char, int> seen;
      for (const std::string &t : terms)
        for (char c : t)
          ++seen[c];
      for (auto [c, n] : seen)
        if (n == 1)
          result += c;
    }
    // Loops: the output's letters, then the summed ones.
    std::string letters = result;
    for (const std::string &t : terms)
      for (char c : t)
        if (letters.find(c) == std::string::npos)
          letters += c;
    std::map<char, OpFoldResult> extent;
    SmallVector<AffineMap> maps;
    SmallVector<Value> operands;
    for (auto [t, v] : llvm::zip_equal(terms, in)) {
      Value x = convert(v, f32);
      if (int64_t(t.size()) != typeOf(x).getRank())
        return fail(node, absl::StrCat("term '", t,
                                       "' does not match its input's rank"));
      SmallVector<AffineExpr> exprs;
      SmallVector<OpFoldResult> xs = sizes(x);
      for (auto [i, c] : llvm::enumerate(t)) {
        if (std::count(t.begin(), t.end(), c) != 1)
          return fail(node, "repeated letters in one term (diagonals) are "
                            "not supported");
        exprs.push_back(b.getAffineDimExpr(letters.find(c)));
        auto [it, inserted] = extent.try_emplace(c, xs[i]);
        if (!inserted) {
          std::optional<int64_t> a = constant(it->second), bb = constant(xs[i]);
          if (a && bb && *a != *bb)
            return fail(node, absl::StrCat("letter '", std::string(1, c),
                                           "' has sizes ", *a, " and ", *bb));
        }
      }
      maps.push_back(AffineMap::get(letters.size(), 0, exprs, &ctx));
      operands.push_back(x);
    }
    SmallVector<OpFoldResult> outSizes;
    SmallVector<AffineExpr> outExprs;
    for (auto [i, c] : llvm::enumerate(result)) {
      if (!extent.count(c))
        return fail(node, absl::StrCat("output letter '", std::string(1, c),
                                       "' is in no input"));
      outSizes.push_back(extent[c]);
      outExprs.push_back(b.getAffineDimExpr(i));
    }
    maps.push_back(AffineMap::get(letters.size(), 0, outExprs, &ctx));
    SmallVector<utils::IteratorType> iterators(letters.size(),
                                               utils::IteratorType::parallel);
    for (size_t d = result.size(); d < letters.size(); ++d)
      iterators[d] = utils::IteratorType::reduction;
    Value init = TensorMath(b, loc).filled(outSizes, f32, 0.0);
    setTensor(out(0),
              linalg::GenericOp::create(
                  b, loc, TypeRange{init.getType()}, operands, ValueRange{init},
                  maps, iterators,
                  [](OpBuilder &nb, Location l, ValueRange a) {
                    Value p = a[0];
                    for (Value f : a.drop_front().drop_back())
                      p = arith::MulFOp::create(nb, l, p, f);
                    linalg::YieldOp::create(
                        nb, l,
                        arith::AddFOp::create(nb, l, p, a.back()).getResult());
                  })
                  .getResult(0));
    return absl::OkStatus();
  }
  if (op == "If") {
    // Only a condition known when the graph is imported: its branch is
    // imported in place of the node.
    const Known *cond = known(input(node, 0));
    std::optional<int64_t> value = cond && cond->elements.size() == 1
                                       ? constant(cond->elements[0])
                                       : std::nullopt;
    if (!value) {
      // A boolean constant tensor works as well.
      if (Value c = tensor(input(node, 0)))
        if (auto cst = c.getDefiningOp<arith::ConstantOp>())
          if (auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
              dense && dense.getNumElements() == 1)
            value = dense.getSplatValue<APInt>().getZExtValue();
    }
    if (!value)
      return fail(node, "the condition must fold to a constant when the graph "
                        "is imported");
    const onnx::AttributeProto *branch =
        attribute(node, *value ? "then_branch" : "else_branch");
    if (!branch || !branch->has_g())
      return fail(node, "the taken branch is missing");
    const onnx::GraphProto &g = branch->g();
    if (g.initializer_size())
      return fail(node, "branches with initializers are not supported");
    if (g.output_size() != node.output_size())
      return fail(node, "the branch's outputs do not match the node's");
    for (const onnx::NodeProto &inner : g.node())
      if (absl::Status st = convert(inner); !st.ok())
        return st;
    for (int i = 0; i < g.output_size(); ++i) {
      const std::string &name = g.output(i).name();
      if (const Known *k = known(name))
        setKnown(out(i), *k);
      Value v = tensor(name);
      if (!v)
        return fail(node,
                    absl::StrCat("the branch does not compute '", name, "'"));
      setTensor(out(i), v);
    }
    return absl::OkStatus();
  }
  return fail(node, "not converted to the dsc graph yet (the ONNX importer "
                    "handles a subset of the ops it reads; issue #4)");
}

absl::StatusOr<OwningOpRef<ModuleOp>> Importer::run() {
  const std::vector<OnnxValueInfo> &inputs = model.inputs();
  const std::vector<OnnxValueInfo> &outputs = model.outputs();
  // Graph inputs that are initializers are not runtime inputs.
  std::vector<const OnnxValueInfo *> runtimeInputs;
  for (const OnnxValueInfo &v : inputs)
    if (!model.findInitializer(v.name))
      runtimeInputs.push_back(&v);
  auto signatureError = [&](const std::string &what) {
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", what,
        "; dsc runs graphs of one int64 input [batch, seq] (token ids) and "
        "one float output [batch, seq, vocab] (logits)"));
  };
  if (runtimeInputs.size() != 1 || outputs.size() != 1)
    return signatureError(absl::StrCat("the graph has ", runtimeInputs.size(),
                                       " inputs and ", outputs.size(),
                                       " outputs"));
  const OnnxValueInfo &tokens = *runtimeInputs[0];
  if (!isIntegerType(tokens.type) || tokens.dims.size() != 2)
    return signatureError(absl::StrCat("input '", tokens.name,
                                       "' is not an integer [batch, seq]"));
  const OnnxValueInfo &logits = outputs[0];
  if (logits.dims.size() != 3 || logits.dims[2].size < 1)
    return signatureError(absl::StrCat("output '", logits.name,
                                       "' is not [batch, seq, vocab] with a "
                                       "static vocab"));
  int64_t vocab = logits.dims[2].size;

  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  module->getOperation()->setAttr("dsc.model", b.getStringAttr("onnx"));
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<int64_t> tokenShape;
  for (const OnnxDim &d : tokens.dims)
    tokenShape.push_back(d.size > 0 ? d.size : kDyn);
  auto tokensType = RankedTensorType::get(tokenShape, b.getI64Type());
  auto logitsType = RankedTensorType::get({kDyn, kDyn, vocab}, b.getF32Type());
  auto forward = func::FuncOp::create(
      b, loc, "forward", b.getFunctionType({tokensType}, {logitsType}));
  Block *entry = forward.addEntryBlock();
  b.setInsertionPointToStart(entry);
  setTensor(tokens.name, entry->getArgument(0));

  Location fileLoc = loc;
  for (const onnx::NodeProto &node : model.graph().node()) {
    // Ops carry their node's name: diagnostics and IR dumps name it.
    loc = NameLoc::get(b.getStringAttr(node.name()), fileLoc);
    shapeError.clear();
    absl::Status s = convert(node);
    if (s.ok() && !shapeError.empty())
      s = fail(node, shapeError);
    if (!s.ok())
      return s;
  }
  loc = fileLoc;
  Value result = tensor(logits.name);
  if (!result)
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": output '", logits.name, "' is not computed by any node"));
  result = convert(result, b.getF32Type());
  auto resultType = typeOf(result);
  if (resultType.getRank() != 3 ||
      (resultType.getDimSize(2) != kDyn && resultType.getDimSize(2) != vocab))
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": output '", logits.name, "' computes to a tensor of rank ",
        resultType.getRank(), ", not [batch, seq, ", vocab, "]"));
  if (resultType != logitsType)
    result = tensor::CastOp::create(b, loc, logitsType, result);
  func::ReturnOp::create(b, loc, result);
  if (failed(verify(*module)))
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": the imported graph does not verify: the diagnostic above "
              "names the node whose shapes or types do not agree"));
  return module;
}

} // namespace

void initializerToF32(const OnnxInitializer &init, float *out) {
  int64_t size = onnxTypeSize(init.type);
  int64_t count = size ? int64_t(init.bytes.size()) / size : 0;
  const char *data = init.bytes.data();
  for (int64_t i = 0; i < count; ++i) {
    switch (init.type) {
    case onnx::TensorProto::FLOAT:
      std::memcpy(&out[i], data + 4 * i, 4);
      break;
    case onnx::TensorProto::DOUBLE: {
      double d;
      std::memcpy(&d, data + 8 * i, 8);
      out[i] = float(d);
      break;
    }
    case onnx::TensorProto::FLOAT16:
    case onnx::TensorProto::BFLOAT16: {
      uint16_t h;
      std::memcpy(&h, data + 2 * i, 2);
      out[i] =
          init.type == onnx::TensorProto::FLOAT16 ? f16ToF32(h) : bf16ToF32(h);
      break;
    }
    default:
      out[i] = 0.0f;
    }
  }
}

absl::StatusOr<OwningOpRef<ModuleOp>> importOnnx(MLIRContext &context,
                                                 const OnnxModel &model,
                                                 const std::string &path) {
  context.loadDialect<DscDialect, func::FuncDialect, arith::ArithDialect,
                      linalg::LinalgDialect, tensor::TensorDialect,
                      math::MathDialect>();
  Importer importer(context, model, path);
  return importer.run();
}

} // namespace dsc::onnx_frontend
