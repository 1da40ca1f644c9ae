//===- KvCache.cpp - KV-cached prefill and decode entry points ------------===//
//
// Generation without recomputation: `@prefill` runs the prompt and returns
// each token's latent cache entry, `@decode` runs new tokens against the
// cached entries. See the pass description in Passes.td.
//
//===----------------------------------------------------------------------===//

#include "passes/Passes.h"

#include "dialects/dsc/DscOps.h"
#include "dialects/dsc/TensorMath.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"

#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringSwitch.h"

#define DEBUG_TYPE "dsc-kv-cache"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCKVCACHE
#include "passes/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

/// The names the runtime finds entry-point arguments and results by.
constexpr StringLiteral kInputAttr = "dsc.input";
constexpr StringLiteral kOutputAttr = "dsc.output";

SmallVector<MlaOp> mlaOpsOf(func::FuncOp fn) {
  SmallVector<MlaOp> ops;
  fn.walk([&](MlaOp op) { ops.push_back(op); });
  return ops;
}

/// A token's cache entry: its latent then its rope key, [B, S, C + dr].
Value cacheEntry(OpBuilder &b, Location loc, Value latent, Value kPe) {
  TensorMath m(b, loc);
  SmallVector<OpFoldResult> sizes = m.sizes(latent);
  int64_t c = cast<RankedTensorType>(latent.getType()).getDimSize(2);
  int64_t dr = cast<RankedTensorType>(kPe.getType()).getDimSize(2);
  sizes.back() = b.getIndexAttr(c + dr);
  Value entry = m.empty(sizes, b.getF32Type());
  SmallVector<OpFoldResult> ones(3, b.getIndexAttr(1));
  auto insert = [&](Value part, int64_t offset) {
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), b.getIndexAttr(0),
                                         b.getIndexAttr(offset)};
    entry = tensor::InsertSliceOp::create(b, loc, part, entry, offsets,
                                          m.sizes(part), ones);
  };
  insert(latent, 0);
  insert(kPe, c);
  return entry;
}

/// Appends `values` to the results of `fn` (single block, one return).
void appendResults(func::FuncOp fn, ValueRange values) {
  auto ret = cast<func::ReturnOp>(fn.getBody().front().getTerminator());
  SmallVector<Value> operands(ret.getOperands());
  for (Value v : values) {
    (void)fn.insertResult(fn.getNumResults(), v.getType(), DictionaryAttr());
    operands.push_back(v);
  }
  ret->setOperands(operands);
}

/// Appends an argument of `type` to `fn`.
Value appendArgument(func::FuncOp fn, Type type) {
  unsigned index = fn.getNumArguments();
  (void)fn.insertArgument(index, type, DictionaryAttr(), fn.getLoc());
  return fn.getArgument(index);
}

/// Stacks per-layer [B, S, W] entries into [L, B, S, W].
Value stackLayers(OpBuilder &b, Location loc, ArrayRef<Value> entries) {
  TensorMath m(b, loc);
  SmallVector<OpFoldResult> sizes = m.sizes(entries.front());
  sizes.insert(sizes.begin(), b.getIndexAttr(entries.size()));
  Value all = m.empty(sizes, b.getF32Type());
  for (auto [layer, entry] : llvm::enumerate(entries)) {
    SmallVector<OpFoldResult> offsets(4, b.getIndexAttr(0));
    offsets[0] = b.getIndexAttr(layer);
    SmallVector<OpFoldResult> entrySizes = m.sizes(entry);
    entrySizes.insert(entrySizes.begin(), b.getIndexAttr(1));
    all = tensor::InsertSliceOp::create(
        b, loc, entry, all, offsets, entrySizes,
        SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
  }
  return all;
}

/// Rows `positions[b]` (clamped to [0, S)) of `x` [B, S, ...], as
/// [B, 1, ...].
Value gatherRows(OpBuilder &b, Location loc, Value x, Value positions) {
  TensorMath m(b, loc);
  auto type = cast<RankedTensorType>(x.getType());
  const unsigned rank = type.getRank();
  // x's type with one row: the ops after it keep their types but dim 1.
  SmallVector<int64_t> shape(type.getShape());
  shape[1] = 1;
  SmallVector<Value> dynamic;
  for (unsigned d = 0; d < rank; ++d)
    if (ShapedType::isDynamic(shape[d]))
      dynamic.push_back(tensor::DimOp::create(b, loc, x, d));
  Value init = tensor::EmptyOp::create(b, loc, type.clone(shape), dynamic);
  Value last = arith::SubIOp::create(
      b, loc, tensor::DimOp::create(b, loc, x, 1), m.index(1));
  MLIRContext *ctx = b.getContext();
  SmallVector<AffineMap> maps = {
      AffineMap::get(rank, 0, b.getAffineDimExpr(0), ctx),
      AffineMap::getMultiDimIdentityMap(rank, ctx)};
  SmallVector<utils::IteratorType> iterators(rank,
                                             utils::IteratorType::parallel);
  auto gather = linalg::GenericOp::create(
      b, loc, init.getType(), ValueRange{positions}, ValueRange{init}, maps,
      iterators, [&](OpBuilder &nb, Location l, ValueRange args) {
        Value p = arith::IndexCastOp::create(nb, l, nb.getIndexType(), args[0]);
        p = arith::MaxSIOp::create(nb, l,
                                   arith::MinSIOp::create(nb, l, p, last),
                                   arith::ConstantIndexOp::create(nb, l, 0));
        SmallVector<Value> at;
        for (unsigned d = 0; d < rank; ++d)
          at.push_back(d == 1 ? p
                              : linalg::IndexOp::create(nb, l, d).getResult());
        linalg::YieldOp::create(
            nb, l, tensor::ExtractOp::create(nb, l, x, at).getResult());
      });
  return gather.getResult(0);
}

/// Has `entry` (a copy of @forward) return its logits at `positions` only,
/// [B, 1, ...]: the rows are gathered before the ops that end the graph
/// row by row (its final RMSNorm and output head, when they do), so those
/// run on B rows, not B x S. A prompt needs only its last token's logits.
void returnRowsAt(func::FuncOp entry, Value positions) {
  auto ret = cast<func::ReturnOp>(entry.getBody().front().getTerminator());
  // The row-wise tail: each op takes the rows as operand 0, and only the
  // next one (or the return) reads its result.
  SmallVector<Operation *> tail;
  Value rows = ret.getOperand(0);
  const int64_t rank = cast<RankedTensorType>(rows.getType()).getRank();
  while (Operation *def = rows.getDefiningOp()) {
    if (!isa<LinearOp, RmsNormOp>(def) || !def->hasOneUse() ||
        cast<RankedTensorType>(def->getOperand(0).getType()).getRank() != rank)
      break;
    tail.push_back(def);
    rows = def->getOperand(0);
  }
  // Before the return, where every operand of the tail is defined.
  OpBuilder b(ret);
  Value value = gatherRows(b, ret.getLoc(), rows, positions);
  // The tail again, on the gathered rows.
  for (Operation *op : llvm::reverse(tail)) {
    IRMapping mapping;
    mapping.map(op->getOperand(0), value);
    Operation *copy = b.clone(*op, mapping);
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    SmallVector<int64_t> shape(type.getShape());
    shape[1] = 1;
    copy->getResult(0).setType(type.clone(shape));
    value = copy->getResult(0);
  }
  ret.setOperand(0, value);
  for (Operation *op : tail)
    op->erase();
  entry.setFunctionType(FunctionType::get(
      entry.getContext(), entry.getArgumentTypes(), ret.getOperandTypes()));
}

struct DscKvCachePass : mlir::dsc::impl::DscKvCacheBase<DscKvCachePass> {
  using DscKvCacheBase::DscKvCacheBase;

  void runOnOperation() override;

private:
  /// Checks that `@forward` reaches its attention only through layer
  /// functions with top-level f32 `dsc.mla` ops of one cache width. Returns
  /// the number of attention layers, 0 to leave the module alone.
  FailureOr<int64_t> analyze(func::FuncOp forward);
  /// `fn` returning each of its attention's cache entries as well.
  func::FuncOp makePrefillVariant(func::FuncOp fn);
  /// `fn` attending over the cache: extra arguments (cache, block table,
  /// past, first layer), and the new entries returned.
  func::FuncOp makeDecodeVariant(func::FuncOp fn);
  /// `@prefill` or `@decode` from `@forward`.
  void makeEntryPoint(func::FuncOp forward, bool decode);
  /// Replaces `fn`'s calls of layer functions with calls of their prefill
  /// variants, or of their decode variants (`cache`, `table` and `past`
  /// appended to the operands, then the first layer's index). Returns the
  /// cache entries the variants return, in layer order.
  SmallVector<Value> callVariants(func::FuncOp fn, bool decode, Value cache,
                                  Value table, Value past);

  SymbolTable *symbols = nullptr;
  /// The layer functions holding attention, in first-call order, and the
  /// number of dsc.mla each holds.
  llvm::MapVector<func::FuncOp, int64_t> layers;
  llvm::DenseMap<func::FuncOp, func::FuncOp> prefillOf, decodeOf;
  int64_t totalLayers = 0;
  /// Cache entry width C + dr.
  int64_t width = 0;
  RankedTensorType cacheTensorType, tableType, pastType;
};

FailureOr<int64_t> DscKvCachePass::analyze(func::FuncOp forward) {
  // A mask the graph computed says nothing about tokens to come.
  MlaOp masked;
  getOperation().walk([&](MlaOp op) {
    if (op.getMask() && !masked)
      masked = op;
  });
  if (masked) {
    masked.emitWarning("dsc-kv-cache: latent attention masked by the graph "
                       "(not causal by construction) cannot attend over a "
                       "cache; the artifact gets no KV-cache entry points");
    return 0;
  }
  // Each sequence's positions are offset by its own past.
  RopeOp shared;
  getOperation().walk([&](RopeOp op) {
    auto positions = op.getPositions().getType();
    if (!shared && (positions.getRank() == 0 ||
                    (positions.getDimSize(0) == 1 &&
                     op.getInput().getType().getDimSize(0) != 1)))
      shared = op;
  });
  if (shared) {
    shared.emitWarning("dsc-kv-cache: rope positions shared by the whole "
                       "batch cannot count from each sequence's past; the "
                       "artifact gets no KV-cache entry points");
    return 0;
  }
  if (!mlaOpsOf(forward).empty()) {
    forward.emitError("dsc-kv-cache: latent attention directly in @forward; "
                      "it must be in layer functions");
    return failure();
  }
  std::optional<func::CallOp> withoutAttention;
  int64_t total = 0;
  WalkResult walk = forward.walk([&](func::CallOp call) {
    auto callee = symbols->lookup<func::FuncOp>(call.getCallee());
    if (!callee || callee.isExternal())
      return WalkResult::advance();
    SmallVector<MlaOp> ops = mlaOpsOf(callee);
    if (ops.empty()) {
      withoutAttention = withoutAttention.value_or(call);
      return WalkResult::advance();
    }
    if (call->getParentOp() != forward || !callee.getBody().hasOneBlock()) {
      call.emitError("dsc-kv-cache: a layer call must be at the top level of "
                     "@forward and its function a single block");
      return WalkResult::interrupt();
    }
    for (MlaOp op : ops) {
      int64_t w = op.getLatent().getType().getDimSize(2) +
                  op.getKPe().getType().getDimSize(2);
      if (op->getParentOp() != callee.getOperation() ||
          !op.getLatent().getType().getElementType().isF32() ||
          !op.getKPe().getType().getElementType().isF32() ||
          (width && w != width)) {
        op.emitError("dsc-kv-cache: latent attention must be f32, at the top "
                     "level of its layer function, with one cache width for "
                     "all layers");
        return WalkResult::interrupt();
      }
      width = w;
    }
    layers.insert({callee, int64_t(ops.size())});
    total += ops.size();
    return WalkResult::advance();
  });
  if (walk.wasInterrupted())
    return failure();
  if (total > 0 && withoutAttention) {
    // A layer whose attention did not fuse would have to recompute its
    // keys every step: without a cache for every layer, no cache at all.
    withoutAttention->emitWarning("dsc-kv-cache: '")
        << withoutAttention->getCallee()
        << "' has no fused latent attention; the artifact gets no KV-cache "
           "entry points and generation recomputes every token";
    return 0;
  }
  return total;
}

func::FuncOp DscKvCachePass::makePrefillVariant(func::FuncOp fn) {
  func::FuncOp clone = fn.clone();
  clone.setSymName((fn.getSymName() + "_prefill").str());
  symbols->insert(clone, Block::iterator(fn->getNextNode()));
  SmallVector<Value> entries;
  for (MlaOp op : mlaOpsOf(clone)) {
    OpBuilder b(op->getNextNode());
    entries.push_back(cacheEntry(b, op.getLoc(), op.getLatent(), op.getKPe()));
  }
  appendResults(clone, entries);
  return clone;
}

func::FuncOp DscKvCachePass::makeDecodeVariant(func::FuncOp fn) {
  MLIRContext *ctx = &getContext();
  func::FuncOp clone = fn.clone();
  clone.setSymName((fn.getSymName() + "_decode").str());
  symbols->insert(clone, Block::iterator(fn->getNextNode()));
  Value cache = appendArgument(clone, cacheTensorType);
  Value table = appendArgument(clone, tableType);
  Value past = appendArgument(clone, pastType);
  Value firstLayer = appendArgument(clone, IndexType::get(ctx));

  // Rope positions count from each sequence's first new token: offset them
  // by what the cache holds.
  llvm::DenseMap<Value, Value> offsetPositions;
  clone.walk([&](RopeOp rope) {
    Value positions = rope.getPositions();
    Value &offset = offsetPositions[positions];
    if (!offset) {
      OpBuilder b(ctx);
      b.setInsertionPointAfterValue(positions);
      TensorMath m(b, rope.getLoc());
      auto type = cast<RankedTensorType>(positions.getType());
      Type elt = type.getElementType();
      SmallVector<unsigned> all = iota(type.getRank());
      // The first dimension is the batch (analyze() checked).
      offset = m.generic(
          {positions, past}, m.empty(m.sizes(positions), elt), type.getRank(),
          {all, {0}, all}, {}, [elt](OpBuilder &nb, Location l, ValueRange a) {
            Value seen = a[1];
            if (seen.getType() != elt)
              seen = arith::TruncIOp::create(nb, l, elt, seen);
            linalg::YieldOp::create(
                nb, l, arith::AddIOp::create(nb, l, a[0], seen).getResult());
          })[0];
    }
    rope.getPositionsMutable().assign(offset);
  });

  SmallVector<Value> entries;
  for (auto [index, op] : llvm::enumerate(mlaOpsOf(clone))) {
    OpBuilder b(op);
    Location l = op.getLoc();
    TensorMath m(b, l);
    Value layer = arith::AddIOp::create(b, l, firstLayer, m.index(index));
    // This layer's pages: cache[layer] as [pages, page_size, W].
    SmallVector<OpFoldResult> offsets = {layer, b.getIndexAttr(0),
                                         b.getIndexAttr(0), b.getIndexAttr(0)};
    SmallVector<OpFoldResult> sizes = m.sizes(cache);
    sizes[0] = b.getIndexAttr(1);
    auto pagesType = RankedTensorType::get({kDyn, pageSize, width},
                                           cacheTensorType.getElementType());
    Value pages = tensor::ExtractSliceOp::create(
        b, l, pagesType, cache, offsets, sizes,
        SmallVector<OpFoldResult>(4, b.getIndexAttr(1)));
    auto decode = MlaDecodeOp::create(
        b, l, op.getType(), op.getQNope(), op.getQPe(), op.getLatent(),
        op.getKPe(), op.getKvB(), op.getScales(), pages, table, past,
        op.getScaleAttr(), op.getBlockSizeAttr());
    op.getResult().replaceAllUsesWith(decode.getResult());
    b.setInsertionPointAfter(decode);
    entries.push_back(cacheEntry(b, l, op.getLatent(), op.getKPe()));
    op.erase();
  }
  appendResults(clone, entries);
  return clone;
}

void DscKvCachePass::makeEntryPoint(func::FuncOp forward, bool decode) {
  MLIRContext *ctx = &getContext();
  func::FuncOp entry = forward.clone();
  entry.setSymName(decode ? "decode" : "prefill");
  symbols->insert(entry, Block::iterator(forward->getNextNode()));
  Block &body = entry.getBody().front();
  Location loc = entry.getLoc();
  Value cache, table, past;
  if (decode) {
    // Inputs after the tokens, in the order the pass description gives.
    unsigned next = 1;
    auto addInput = [&](Type type, StringRef name) {
      (void)entry.insertArgument(
          next, type,
          DictionaryAttr::get(ctx,
                              {NamedAttribute(StringAttr::get(ctx, kInputAttr),
                                              StringAttr::get(ctx, name))}),
          loc);
      return entry.getArgument(next++);
    };
    past = addInput(pastType, "past");
    table = addInput(tableType, "block_table");
    cache = addInput(cacheTensorType, "kv_cache");
  }
  entry.setArgAttr(0, kInputAttr, StringAttr::get(ctx, "tokens"));

  SmallVector<Value> entries = callVariants(entry, decode, cache, table, past);
  // Prefill returns each prompt's logits at one position (its last
  // token's, past the right padding of a batch): [B, 1, V]. (Logits of
  // another rank than [B, S, ...] stay whole.)
  auto logitsType =
      dyn_cast<RankedTensorType>(entry.getFunctionType().getResult(0));
  if (!decode && logitsType && logitsType.getRank() >= 3) {
    (void)entry.insertArgument(
        1, pastType,
        DictionaryAttr::get(
            ctx, {NamedAttribute(StringAttr::get(ctx, kInputAttr),
                                 StringAttr::get(ctx, "last_positions"))}),
        loc);
    returnRowsAt(entry, entry.getArgument(1));
  }
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  OpBuilder b(ret);
  appendResults(entry, stackLayers(b, loc, entries));
  entry.setResultAttr(0, kOutputAttr, StringAttr::get(ctx, "logits"));
  entry.setResultAttr(1, kOutputAttr, StringAttr::get(ctx, "latents"));
  // Decode also stores its entries into kv_cache (dsc-store-cache-entries,
  // after bufferization); prefill only returns them.
  if (decode)
    entry->setAttr("dsc.stores_cache_entries", UnitAttr::get(ctx));
}

SmallVector<Value> DscKvCachePass::callVariants(func::FuncOp fn, bool decode,
                                                Value cache, Value table,
                                                Value past) {
  SmallVector<Value> entries;
  int64_t layer = 0;
  for (func::CallOp call : llvm::make_early_inc_range(
           fn.getBody().front().getOps<func::CallOp>())) {
    auto callee = symbols->lookup<func::FuncOp>(call.getCallee());
    auto it = layers.find(callee);
    if (it == layers.end())
      continue;
    OpBuilder b(call);
    SmallVector<Value> operands(call.getOperands());
    func::FuncOp variant = decode ? decodeOf[callee] : prefillOf[callee];
    if (decode) {
      operands.append({cache, table, past});
      operands.push_back(
          arith::ConstantIndexOp::create(b, call.getLoc(), layer));
    }
    auto replacement =
        func::CallOp::create(b, call.getLoc(), variant, operands);
    unsigned kept = call.getNumResults();
    call.replaceAllUsesWith(replacement.getResults().take_front(kept));
    llvm::append_range(entries, replacement.getResults().drop_front(kept));
    layer += it->second;
    call.erase();
  }
  return entries;
}

void DscKvCachePass::runOnOperation() {
  ModuleOp module = getOperation();
  SymbolTable table(module);
  symbols = &table;
  // A pass instance may run again on another module.
  layers.clear();
  prefillOf.clear();
  decodeOf.clear();
  totalLayers = width = 0;
  if (pageSize < 1) {
    module.emitError("dsc-kv-cache: page-size must be positive");
    return signalPassFailure();
  }
  Type element = llvm::StringSwitch<Type>(cacheType)
                     .Case("f32", Float32Type::get(&getContext()))
                     .Case("bf16", BFloat16Type::get(&getContext()))
                     .Default(Type());
  if (!element) {
    module.emitError("dsc-kv-cache: cache-type must be f32 or bf16, not '")
        << cacheType << "'";
    return signalPassFailure();
  }
  auto forward = table.lookup<func::FuncOp>("forward");
  if (!forward || forward.isExternal() || !forward.getBody().hasOneBlock() ||
      forward.getNumResults() != 1) {
    module.emitError("dsc-kv-cache: no single-block @forward(tokens) -> "
                     "logits to derive the entry points from");
    return signalPassFailure();
  }
  if (table.lookup("prefill") || table.lookup("decode")) {
    module.emitError("dsc-kv-cache: the module already has @prefill or "
                     "@decode");
    return signalPassFailure();
  }
  FailureOr<int64_t> count = analyze(forward);
  if (failed(count))
    return signalPassFailure();
  if (*count == 0)
    return;
  totalLayers = *count;
  Type i64 = IntegerType::get(&getContext(), 64);
  cacheTensorType =
      RankedTensorType::get({totalLayers, kDyn, pageSize, width}, element);
  tableType = RankedTensorType::get({kDyn, kDyn}, i64);
  pastType = RankedTensorType::get({kDyn}, i64);
  for (auto &[fn, ops] : layers) {
    prefillOf[fn] = makePrefillVariant(fn);
    decodeOf[fn] = makeDecodeVariant(fn);
  }
  makeEntryPoint(forward, /*decode=*/false);
  makeEntryPoint(forward, /*decode=*/true);
  // @forward computes what @prefill does and drops the cache entries. Its
  // calling the prefill variants keeps one copy of each layer instead of
  // two: every copy is lowered, vectorized and optimized by LLVM on its
  // own, a third of a CPU artifact's compile time.
  (void)callVariants(forward, /*decode=*/false, {}, {}, {});
  for (func::FuncOp fn : llvm::make_first_range(layers))
    if (fn.isPrivate() && SymbolTable::symbolKnownUseEmpty(fn, module))
      symbols->erase(fn);
  numLayers += totalLayers;
  // Nothing of this module outlives the run.
  layers.clear();
  prefillOf.clear();
  decodeOf.clear();
}

} // namespace
