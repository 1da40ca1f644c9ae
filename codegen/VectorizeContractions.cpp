//===- VectorizeContractions.cpp - Register-blocked CPU contractions ------===//
//
// Every GEMM of the model (projections, the experts' grouped GEMMs, the
// attention products) is a linalg.generic `C += A * B` with one reduction
// loop. Lowered to plain loops, LLVM vectorizes the reduction alone: each
// output element then loads one vector of A and one of B per multiply and
// ends in its own horizontal sum, about one multiply-add per instruction.
// This pass instead writes a register tile of outputs at a time, so that
// each loaded vector feeds several multiply-adds:
//
//   dot form  (k contiguous in A and B, as x * W^T of nn.Linear): MR x NR
//             vector accumulators along k, summed horizontally per block
//             of k; a single row takes 1 x (MR * NR). Full tiles run in
//             cache blocks of B's columns and of k (emitCacheBlocks);
//   axpy form (n contiguous in B and C, as x * W of an exported MatMul):
//             MR x NV vector accumulators along n, A broadcast per k.
//
// On AVX512_BF16 (bf16-dot), a dot form whose A and B are both bf16 takes
// twice the k a step, each accumulator adding pairs of products
// (vdpbf16ps) instead of one product of widened values.
//
// Edges (rows and columns past the last full tile, the k or n remainder)
// use narrower tiles (single rows a wider one) and masked loads, so any
// size is handled. Generics of another shape are left to
// convert-linalg-to-loops.
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"
#include "passes/LinalgMatchers.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/Dialect/X86Vector/X86VectorDialect.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/Statistic.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/MathExtras.h"

#define DEBUG_TYPE "dsc-vectorize-contractions"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCOUTLINECONTRACTIONS
#define GEN_PASS_DEF_DSCPARALLELIZECONTRACTIONS
#define GEN_PASS_DEF_DSCVECTORIZECONTRACTIONS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

enum class Form { Dot, Axpy };

/// A generic `C[...] += A[...] * B[...] (* S[...] ...)` over memrefs of f32
/// (its inputs may be bf16, widened in its body), and the roles of its loops.
/// The scale factors S (e.g. the routing weights of a dense experts
/// computation) depend on neither k nor n.
struct Contraction {
  Form form;
  OpOperand *a, *b, *c;
  SmallVector<OpOperand *> scales;
  unsigned m, n, k;            // m indexes A and not B, n indexes B and not A.
  /// Another parallel loop of A's and C's rows, not of B (a batch outside
  /// a sequence: [B, S, K] x [N, K]), flattened with m into one range of
  /// rows so that tiles of rows span it: a decode step's B rows of one
  /// token each then share each loaded column of B, not stream B B times.
  std::optional<unsigned> mOuter;
  SmallVector<unsigned> outer; // The other loops (parallel or reduction).
};

/// Whether the innermost dimension of `memref` is contiguous (matchContraction
/// checked that every operand is a memref).
bool hasUnitInnerStride(Value memref) {
  return cast<MemRefType>(memref.getType()).isLastDimUnitStride();
}

/// The loop index of `map`'s result `pos` (maps are projected permutations).
unsigned dimAt(AffineMap map, int64_t pos) {
  return cast<AffineDimExpr>(map.getResult(pos)).getPosition();
}

/// The innermost loop of `map` (from its last result backwards) that is
/// parallel and not a loop of `other`.
std::optional<unsigned> ownParallelDim(AffineMap map, AffineMap other,
                                       ArrayRef<utils::IteratorType> iters) {
  for (int64_t pos = map.getNumResults() - 1; pos >= 0; --pos) {
    unsigned dim = dimAt(map, pos);
    if (iters[dim] == utils::IteratorType::parallel &&
        !other.isFunctionOfDim(dim))
      return dim;
  }
  return std::nullopt;
}

/// Tries A = `a`, B = `b` (the other inputs are scales).
std::optional<Contraction> matchRoles(linalg::GenericOp op, OpOperand *a,
                                      OpOperand *b) {
  SmallVector<utils::IteratorType> iters = op.getIteratorTypesArray();
  OpOperand *c = op.getDpsInitOperand(0);
  AffineMap mapA = op.getMatchingIndexingMap(a);
  AffineMap mapB = op.getMatchingIndexingMap(b);
  AffineMap mapC = op.getMatchingIndexingMap(c);
  std::optional<unsigned> m = ownParallelDim(mapA, mapB, iters);
  std::optional<unsigned> n = ownParallelDim(mapB, mapA, iters);
  if (!m || !n || !mapC.isFunctionOfDim(*m) || !mapC.isFunctionOfDim(*n))
    return std::nullopt;
  unsigned lastA = dimAt(mapA, mapA.getNumResults() - 1);
  unsigned lastB = dimAt(mapB, mapB.getNumResults() - 1);
  unsigned lastC = dimAt(mapC, mapC.getNumResults() - 1);
  Contraction match{Form::Dot, a, b, c, {}, *m, *n, 0, {}};
  if (lastA == lastB && iters[lastA] == utils::IteratorType::reduction &&
      hasUnitInnerStride(a->get()) && hasUnitInnerStride(b->get())) {
    match.k = lastA;
  } else if (lastB == *n && lastC == *n && hasUnitInnerStride(b->get()) &&
             hasUnitInnerStride(c->get())) {
    // Axpy: the reduction A and B share, innermost in A.
    match.form = Form::Axpy;
    std::optional<unsigned> k;
    for (int64_t pos = mapA.getNumResults() - 1; pos >= 0 && !k; --pos) {
      unsigned dim = dimAt(mapA, pos);
      if (iters[dim] == utils::IteratorType::reduction &&
          mapB.isFunctionOfDim(dim))
        k = dim;
    }
    if (!k)
      return std::nullopt;
    match.k = *k;
  } else {
    return std::nullopt;
  }
  // Scales multiply a whole k sum (dot: they may not vary along k) or a
  // scalar of A (axpy: they may not vary along n).
  for (OpOperand *input : op.getDpsInputOperands()) {
    if (input == a || input == b)
      continue;
    AffineMap map = op.getMatchingIndexingMap(input);
    if (map.isFunctionOfDim(match.form == Form::Dot ? match.k : *n))
      return std::nullopt;
    match.scales.push_back(input);
  }
  for (unsigned dim = 0; dim < iters.size(); ++dim) {
    if (dim == *m || dim == *n || dim == match.k)
      continue;
    if (!match.mOuter && iters[dim] == utils::IteratorType::parallel &&
        mapA.isFunctionOfDim(dim) && mapC.isFunctionOfDim(dim) &&
        !mapB.isFunctionOfDim(dim)) {
      match.mOuter = dim;
      continue;
    }
    match.outer.push_back(dim);
  }
  return match;
}

std::optional<Contraction> matchContraction(linalg::GenericOp op) {
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() < 2 ||
      op.getNumDpsInits() != 1 || op.getNumReductionLoops() == 0 ||
      op.hasIndexSemantics() || !isMultiplyAccumulate(op, /*widened=*/true))
    return std::nullopt;
  OpOperand *c = op.getDpsInitOperand(0);
  for (OpOperand &operand : op->getOpOperands()) {
    auto type = dyn_cast<MemRefType>(operand.get().getType());
    if (!type || !op.getMatchingIndexingMap(&operand).isProjectedPermutation())
      return std::nullopt;
    // f32, or a bf16 input the body widens (a weight bound as bf16).
    Type element = type.getElementType();
    if (!element.isF32() && !(element.isBF16() && &operand != c))
      return std::nullopt;
    // In place on an input would see partial sums.
    if (&operand != c && operand.get() == c->get())
      return std::nullopt;
  }
  for (OpOperand *a : op.getDpsInputOperands())
    for (OpOperand *b : op.getDpsInputOperands())
      if (a != b)
        if (std::optional<Contraction> match = matchRoles(op, a, b))
          return match;
  return std::nullopt;
}

/// Emits the register-blocked loops of one matched contraction.
class Emitter {
public:
  Emitter(OpBuilder &builder, linalg::GenericOp op, const Contraction &match,
          int64_t lanes, int64_t tileM, int64_t tileN, int64_t blockK,
          int64_t blockBytes, bool pairs)
      : b(builder), loc(op.getLoc()), op(op), match(match), lanes(lanes),
        tileM(tileM), tileN(tileN), blockK(blockK), blockBytes(blockBytes),
        pairs(pairs), step(pairs ? 2 * lanes : lanes),
        vectorType(VectorType::get({lanes}, b.getF32Type())),
        maskType(VectorType::get({lanes}, b.getI1Type())) {}

  void emit() {
    SmallVector<Range> ranges =
        cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
    for (Range &range : ranges)
      sizes.push_back(getValueOrCreateConstantIndexOp(b, loc, range.size));
    dims.assign(sizes.size(), Value());
    SmallVector<Value> lbs, ubs, steps;
    for (unsigned dim : match.outer) {
      lbs.push_back(constant(0));
      ubs.push_back(sizes[dim]);
      steps.push_back(constant(1));
    }
    scf::buildLoopNest(b, loc, lbs, ubs, steps,
                       [&](OpBuilder &nested, Location, ValueRange ivs) {
                         OpBuilder::InsertionGuard guard(b);
                         b.setInsertionPoint(nested.getInsertionBlock(),
                                             nested.getInsertionPoint());
                         for (auto [dim, iv] : llvm::zip(match.outer, ivs))
                           dims[dim] = iv;
                         emitRows();
                       });
  }

private:
  Value constant(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value add(Value lhs, int64_t rhs) {
    return rhs == 0 ? lhs : arith::AddIOp::create(b, loc, lhs, constant(rhs));
  }
  /// `size` rounded down to a multiple of `step`.
  Value floorTo(Value size, int64_t step) {
    Value rem = arith::RemUIOp::create(b, loc, size, constant(step));
    return arith::SubIOp::create(b, loc, size, rem);
  }

  /// A loop `for iv = lb to ub step step` whose body `body(iv)` emits in place.
  void loop(Value lb, Value ub, int64_t step, function_ref<void(Value)> body) {
    auto forOp = scf::ForOp::create(b, loc, lb, ub, constant(step));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(forOp.getBody()->getTerminator());
    body(forOp.getInductionVar());
  }

  /// The indices of `operand` at the loop indices `dims`.
  SmallVector<Value> indices(OpOperand *operand) {
    AffineMap map = op.getMatchingIndexingMap(operand);
    SmallVector<Value> result;
    for (int64_t pos = 0; pos < map.getNumResults(); ++pos)
      result.push_back(dims[dimAt(map, pos)]);
    return result;
  }

  /// Sets the loop indices of row `row` of the flattened rows: m, and
  /// mOuter when there is one (row = mOuter * size(m) + m).
  void setRow(Value row) {
    if (!match.mOuter) {
      dims[match.m] = row;
      return;
    }
    dims[match.m] = arith::RemUIOp::create(b, loc, row, sizes[match.m]);
    dims[*match.mOuter] = arith::DivUIOp::create(b, loc, row, sizes[match.m]);
  }

  /// Full tiles of tileM rows, then the remaining rows in pairs (a decode
  /// step of two or three sequences: two rows share each loaded column of
  /// B), then one by one.
  ///
  /// The dot form sums k in blocks of `blockK`: each output adds its
  /// blocks' sums to C in order, whatever its tile or thread, so that the
  /// results depend on neither. Full tiles run in cache blocks
  /// (emitCacheBlocks); the narrower tiles (a decode step's rows, which
  /// share no weights to keep in cache) stream their columns of B whole,
  /// with each block's sum added in registers.
  void emitRows() {
    Value rows = sizes[match.m];
    if (match.mOuter)
      rows = arith::MulIOp::create(b, loc, rows, sizes[*match.mOuter]);
    Value fullRows = floorTo(rows, tileM);
    inRegisters = false;
    emitCacheBlocks([&] {
      loop(constant(0), fullRows, tileM,
           [&](Value m0) { emitColumns(m0, tileM); });
    });
    wholeBlock();
    inRegisters = true;
    Value single = fullRows;
    if (tileM > 2) {
      Value left = arith::SubIOp::create(b, loc, rows, fullRows);
      single = arith::AddIOp::create(b, loc, fullRows, floorTo(left, 2));
      loop(fullRows, single, 2, [&](Value m0) { emitColumns(m0, 2); });
    }
    if (tileM > 1)
      loop(single, rows, 1, [&](Value m0) { emitColumns(m0, 1); });
  }

  /// The current block: all columns, all of k.
  void wholeBlock() {
    nBegin = kBegin = constant(0);
    nEnd = sizes[match.n];
    kEnd = sizes[match.k];
  }

  /// Whether the dot form sums k in blocks (not all in one).
  bool blocksOfK() {
    std::optional<int64_t> depth = getConstantIntValue(sizes[match.k]);
    return match.form == Form::Dot && blockK > 0 && (!depth || *depth > blockK);
  }

  /// `tiles` in cache blocks (dot form): per block of B's columns
  /// [nBegin, nEnd), as many as `blockBytes` of B hold at a depth of
  /// `blockK`, one block of k [kBegin, kEnd) after another. Each tile of
  /// rows then reads the block of B from the L2 cache, and its rows of A
  /// (at most blockK deep) from the caches across the block's columns.
  /// (Unblocked, every tile of rows streamed all of B from memory, a
  /// 512-token prefill reading each weight 128 times, and its rows over the
  /// whole depth: 2-2.3x slower on a 512 x 2048 x 10944 GEMM,
  /// docs/performance.md.)
  void emitCacheBlocks(function_ref<void()> tiles) {
    Value columns = sizes[match.n];
    Value depth = sizes[match.k];
    wholeBlock();
    if (match.form != Form::Dot || blockK <= 0)
      return tiles();
    std::optional<int64_t> staticDepth = getConstantIntValue(depth);
    int64_t sliceDepth = std::max<int64_t>(
        1, staticDepth ? std::min(*staticDepth, blockK) : blockK);
    int64_t bytes =
        cast<MemRefType>(match.b->get().getType()).getElementTypeBitWidth() / 8;
    // A multiple of every tile's width, so that the columns of a block take
    // the tiles they would unblocked.
    int64_t width = tileM * tileN;
    int64_t blockN = std::max<int64_t>(
        width, blockBytes / (sliceDepth * bytes) / width * width);
    auto kBlocks = [&] {
      if (!blocksOfK())
        return tiles();
      loop(constant(0), depth, blockK, [&](Value k0) {
        kBegin = k0;
        kEnd = arith::MinUIOp::create(b, loc, add(k0, blockK), depth);
        tiles();
      });
    };
    std::optional<int64_t> staticColumns = getConstantIntValue(columns);
    if (staticColumns && *staticColumns <= blockN)
      return kBlocks();
    loop(constant(0), columns, blockN, [&](Value n0) {
      nBegin = n0;
      nEnd = arith::MinUIOp::create(b, loc, add(n0, blockN), columns);
      kBlocks();
    });
  }

  void emitColumns(Value m0, int64_t rows) {
    Value columns = sizes[match.n];
    if (match.form == Form::Dot) {
      // Fewer rows (a decode step's GEMMs, the edge rows) spend a full
      // tile's accumulators on more columns where they divide evenly: as
      // many weight rows streamed at once, for the memory to overlap, and
      // a full tile's shuffle tree. (The widths all divide tileM x tileN,
      // and so the threads' grain: a range takes the tiles unsplit code
      // would.)
      int64_t cols = (tileM * tileN) % rows == 0 ? tileM * tileN / rows : tileN;
      Value full = arith::AddIOp::create(
          b, loc, nBegin,
          floorTo(arith::SubIOp::create(b, loc, nEnd, nBegin), cols));
      loop(nBegin, full, cols,
           [&](Value n0) { emitDotTile(m0, rows, n0, cols); });
      if (cols > 1)
        loop(full, nEnd, 1, [&](Value n0) { emitDotTile(m0, rows, n0, 1); });
      return;
    }
    int64_t width = tileN * lanes;
    Value full = floorTo(columns, width);
    loop(constant(0), full, width,
         [&](Value n0) { emitAxpyTile(m0, rows, n0, tileN, Value()); });
    // The last columns: one masked vector at a time.
    loop(full, columns, lanes, [&](Value n0) {
      Value left = arith::SubIOp::create(b, loc, columns, n0);
      Value mask = vector::CreateMaskOp::create(b, loc, maskType, left);
      emitAxpyTile(m0, rows, n0, 1, mask);
    });
  }

  /// `value` (a scalar or a vector of `operand`'s elements) as f32.
  Value widened(OpOperand *operand, Value value) {
    Type element = cast<MemRefType>(operand->get().getType()).getElementType();
    if (element.isF32())
      return value;
    Type f32 = b.getF32Type();
    if (auto vector = dyn_cast<VectorType>(value.getType()))
      f32 = vector.clone(f32);
    return arith::ExtFOp::create(b, loc, f32, value);
  }

  /// The element of `operand` at `dims`, as f32.
  Value loadScalar(OpOperand *operand) {
    return widened(operand, memref::LoadOp::create(b, loc, operand->get(),
                                                   indices(operand)));
  }

  /// `value` times the scale factors at the current indices.
  Value scaled(Value value) {
    for (OpOperand *scale : match.scales)
      value = arith::MulFOp::create(b, loc, value, loadScalar(scale));
    return value;
  }

  Value zeroVector() {
    return arith::ConstantOp::create(b, loc, vectorType,
                                     DenseElementsAttr::get(vectorType, 0.0f));
  }

  /// Loads a vector of `operand` at `dims` (its innermost index is the
  /// vector's first lane), masked when `mask` is set, as f32 (a bf16
  /// operand is loaded as bf16, half the bytes, and widened).
  Value loadVector(OpOperand *operand, Value mask) {
    SmallVector<Value> at = indices(operand);
    Type element = cast<MemRefType>(operand->get().getType()).getElementType();
    if (!mask)
      return widened(operand,
                     vector::LoadOp::create(b, loc, vectorType.clone(element),
                                            operand->get(), at));
    if (element.isF32())
      return vector::MaskedLoadOp::create(b, loc, vectorType, operand->get(),
                                          at, mask, zeroVector());
    return loadLanes(operand, at, mask);
  }

  /// A masked vector of a bf16 `operand` at `at`, lane by lane, as f32.
  /// (x86's lowering of a masked bf16 load converts its lanes through f32
  /// with libgcc's __truncsfbf2, which the host object does not link.)
  /// A lane past the mask reloads lane 0, which is in bounds when any lane
  /// is on, and keeps 0; no lane on loads nothing. Only the edges of a
  /// contraction take this path.
  Value loadLanes(OpOperand *operand, SmallVector<Value> at, Value mask) {
    Value left = cast<vector::CreateMaskOp>(mask.getDefiningOp()).getOperand(0);
    Value any = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt, left,
                                      constant(0));
    auto ifOp = scf::IfOp::create(b, loc, TypeRange{vectorType}, any,
                                  /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(ifOp.elseBlock());
    scf::YieldOp::create(b, loc, zeroVector());
    b.setInsertionPointToStart(ifOp.thenBlock());
    Value first = at.back();
    Value zero = arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0));
    SmallVector<Value> values;
    for (int64_t lane = 0; lane < lanes; ++lane) {
      Value on = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                       constant(lane), left);
      at.back() = arith::SelectOp::create(b, loc, on, add(first, lane), first);
      Value value =
          widened(operand, memref::LoadOp::create(b, loc, operand->get(), at));
      values.push_back(arith::SelectOp::create(b, loc, on, value, zero));
    }
    scf::YieldOp::create(
        b, loc,
        vector::FromElementsOp::create(b, loc, vectorType, values).getResult());
    return ifOp.getResult(0);
  }

  /// Dot form: rows x cols outputs, each a vector accumulator along k,
  /// over the current block of k (cache blocks) or block by block over all
  /// of k (in registers).
  void emitDotTile(Value m0, int64_t rows, Value n0, int64_t cols) {
    if (!inRegisters || !blocksOfK()) {
      addBlockSums(m0, rows, n0, cols, kBegin, kEnd, {});
      return;
    }
    // C's values carried through the blocks of k, and stored once.
    SmallVector<SmallVector<Value>> at;
    SmallVector<Value> partial;
    for (int64_t i = 0; i < rows; ++i) {
      setRow(add(m0, i));
      for (int64_t j = 0; j < cols; ++j) {
        dims[match.n] = add(n0, j);
        at.push_back(indices(match.c));
        partial.push_back(
            memref::LoadOp::create(b, loc, match.c->get(), at.back()));
      }
    }
    Value depth = sizes[match.k];
    auto blocks = scf::ForOp::create(b, loc, constant(0), depth,
                                     constant(blockK), partial);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(blocks.getBody());
      Value k0 = blocks.getInductionVar();
      Value k1 = arith::MinUIOp::create(b, loc, add(k0, blockK), depth);
      scf::YieldOp::create(
          b, loc,
          addBlockSums(m0, rows, n0, cols, k0, k1, blocks.getRegionIterArgs()));
    }
    for (auto [sum, where] : llvm::zip(blocks.getResults(), at))
      memref::StoreOp::create(b, loc, sum, match.c->get(), where);
  }

  /// The tile's sums over k in [k0, k1), scaled, added to `partial` (per
  /// output, rows x cols) and returned; without `partial`, added to C and
  /// stored (nothing returned).
  SmallVector<Value> addBlockSums(Value m0, int64_t rows, Value n0,
                                  int64_t cols, Value k0, Value k1,
                                  ValueRange partial) {
    Value fullDepth = arith::AddIOp::create(
        b, loc, k0, floorTo(arith::SubIOp::create(b, loc, k1, k0), step));
    SmallVector<Value> init(rows * cols, zeroVector());
    auto kLoop =
        scf::ForOp::create(b, loc, k0, fullDepth, constant(step), init);
    SmallVector<Value> accs;
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(kLoop.getBody());
      dims[match.k] = kLoop.getInductionVar();
      accs = multiplyAccumulate(m0, rows, n0, cols, kLoop.getRegionIterArgs(),
                                Value());
      scf::YieldOp::create(b, loc, accs);
    }
    accs.assign(kLoop.getResults().begin(), kLoop.getResults().end());
    // The k remainder, masked (all lanes off when k divides evenly, unless
    // k is known to; blocks of k are whole vectors but the last).
    std::optional<int64_t> staticDepth = getConstantIntValue(sizes[match.k]);
    if (!staticDepth || *staticDepth % step != 0) {
      dims[match.k] = fullDepth;
      Value left = arith::SubIOp::create(b, loc, k1, fullDepth);
      Value mask = vector::CreateMaskOp::create(
          b, loc, VectorType::get({step}, b.getI1Type()), left);
      accs = multiplyAccumulate(m0, rows, n0, cols, accs, mask);
    }
    // A full tile has as many accumulators as lanes: one tree of shuffles
    // and adds sums them all into one vector (lanes - 1 adds in all, not
    // log2(lanes) per accumulator).
    Value tree;
    SmallVector<int64_t> laneOf(accs.size(), -1);
    if (int64_t(accs.size()) == lanes && llvm::isPowerOf2_64(lanes))
      tree = sumEach(accs, laneOf);
    SmallVector<Value> result;
    for (int64_t i = 0; i < rows; ++i) {
      setRow(add(m0, i));
      for (int64_t j = 0; j < cols; ++j) {
        dims[match.n] = add(n0, j);
        int64_t acc = i * cols + j;
        SmallVector<Value> at = indices(match.c);
        Value old = partial.empty()
                        ? memref::LoadOp::create(b, loc, match.c->get(), at)
                        : partial[acc];
        Value sum = tree ? vector::ExtractOp::create(b, loc, tree, laneOf[acc])
                         : sumLanes(accs[acc]);
        sum = arith::AddFOp::create(b, loc, old, scaled(sum));
        if (partial.empty())
          memref::StoreOp::create(b, loc, sum, match.c->get(), at);
        else
          result.push_back(sum);
      }
    }
    return result;
  }

  /// The sum of `vector`'s lanes in sumEach's order: the two halves added,
  /// then the halves of that, down to one lane. (A `vector.reduction`
  /// would leave the order to LLVM: an output at a tile's edge, reduced
  /// alone, would not be sure to get the bits it gets in a full tile.)
  Value sumLanes(Value vector) {
    if (!llvm::isPowerOf2_64(lanes))
      return vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                         vector, arith::FastMathFlags::reassoc);
    for (int64_t h = lanes / 2; h >= 1; h /= 2) {
      SmallVector<int64_t> low, high;
      for (int64_t l = 0; l < h; ++l) {
        low.push_back(l);
        high.push_back(h + l);
      }
      Value lowHalf = vector::ShuffleOp::create(b, loc, vector, vector, low);
      Value highHalf = vector::ShuffleOp::create(b, loc, vector, vector, high);
      vector = arith::AddFOp::create(b, loc, lowHalf, highHalf);
    }
    return vector::ExtractOp::create(b, loc, vector, 0);
  }

  /// One vector whose lane `laneOf[v]` is the sum of the lanes of
  /// `vectors[v]`, for `lanes` vectors. Each step pairs the vectors and,
  /// per pair (x, y), adds the two halves of every block of 2h lanes: the
  /// result holds h partial sums of x, then h of y, per block. After
  /// log2(lanes) steps (h = lanes/2, ..., 1) one vector of totals is left:
  /// each total is ((x0 + x4) + (x2 + x6)) + ((x1 + x5) + (x3 + x7)) for 8
  /// lanes, as sumLanes sums. The adds are not `reassoc`: the order is
  /// the IR's, whatever code surrounds it.
  Value sumEach(ArrayRef<Value> vectors, SmallVectorImpl<int64_t> &laneOf) {
    // owner[v][l]: the accumulator whose partial sum lane l of vector v
    // holds.
    SmallVector<Value> current(vectors.begin(), vectors.end());
    SmallVector<SmallVector<int64_t>> owner;
    for (int64_t v = 0; v < int64_t(vectors.size()); ++v)
      owner.push_back(SmallVector<int64_t>(lanes, v));
    for (int64_t h = lanes / 2; h >= 1; h /= 2) {
      SmallVector<Value> next;
      SmallVector<SmallVector<int64_t>> nextOwner;
      for (size_t p = 0; p + 1 < current.size(); p += 2) {
        SmallVector<int64_t> low, high, owners;
        for (int64_t block = 0; block < lanes; block += 2 * h)
          for (int64_t side = 0; side < 2; ++side) // x, then y
            for (int64_t l = 0; l < h; ++l) {
              low.push_back(side * lanes + block + l);
              high.push_back(side * lanes + block + h + l);
              owners.push_back(owner[p + side][block + l]);
            }
        Value x = current[p], y = current[p + 1];
        Value lowHalves = vector::ShuffleOp::create(b, loc, x, y, low);
        Value highHalves = vector::ShuffleOp::create(b, loc, x, y, high);
        next.push_back(arith::AddFOp::create(b, loc, lowHalves, highHalves));
        nextOwner.push_back(owners);
      }
      current = std::move(next);
      owner = std::move(nextOwner);
    }
    for (int64_t l = 0; l < lanes; ++l)
      laneOf[owner[0][l]] = l;
    return current[0];
  }

  /// Dot form, one k step: A's rows and B's columns as vectors along k.
  SmallVector<Value> multiplyAccumulate(Value m0, int64_t rows, Value n0,
                                        int64_t cols, ValueRange accs,
                                        Value mask) {
    auto load = [&](OpOperand *operand) {
      return pairs ? loadPairs(operand, mask) : loadVector(operand, mask);
    };
    SmallVector<Value> aRows, result;
    for (int64_t i = 0; i < rows; ++i) {
      setRow(add(m0, i));
      aRows.push_back(load(match.a));
    }
    result.assign(accs.begin(), accs.end());
    for (int64_t j = 0; j < cols; ++j) {
      dims[match.n] = add(n0, j);
      Value bColumn = load(match.b);
      for (int64_t i = 0; i < rows; ++i) {
        Value &acc = result[i * cols + j];
        acc = pairs ? x86vector::DotBF16Op::create(b, loc, vectorType, acc,
                                                   aRows[i], bColumn)
                          .getResult()
                    : vector::FMAOp::create(b, loc, aRows[i], bColumn, acc)
                          .getResult();
      }
    }
    return result;
  }

  /// bf16 dot form: 2 x lanes values of a bf16 `operand` at `dims`, as
  /// stored; past `mask` (when set) zeros, so that a lane's products there
  /// are 0 x 0. (AVX-512 loads 16-bit lanes under a mask itself, unlike
  /// AVX2: loadLanes.)
  Value loadPairs(OpOperand *operand, Value mask) {
    auto type = VectorType::get({step}, b.getBF16Type());
    SmallVector<Value> at = indices(operand);
    if (!mask)
      return vector::LoadOp::create(b, loc, type, operand->get(), at);
    Value zeros = arith::ConstantOp::create(
        b, loc, type,
        DenseElementsAttr::get(type, APFloat::getZero(APFloat::BFloat())));
    return vector::MaskedLoadOp::create(b, loc, type, operand->get(), at, mask,
                                        zeros);
  }

  /// Axpy form: rows x vecs accumulators along n; A is broadcast per k.
  void emitAxpyTile(Value m0, int64_t rows, Value n0, int64_t vecs,
                    Value mask) {
    SmallVector<Value> init(rows * vecs, zeroVector());
    auto kLoop = scf::ForOp::create(b, loc, constant(0), sizes[match.k],
                                    constant(1), init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(kLoop.getBody());
      dims[match.k] = kLoop.getInductionVar();
      SmallVector<Value> bVectors, accs(kLoop.getRegionIterArgs());
      for (int64_t j = 0; j < vecs; ++j) {
        dims[match.n] = add(n0, j * lanes);
        bVectors.push_back(loadVector(match.b, mask));
      }
      for (int64_t i = 0; i < rows; ++i) {
        setRow(add(m0, i));
        Value scalar = scaled(loadScalar(match.a));
        Value splat = vector::BroadcastOp::create(b, loc, vectorType, scalar);
        for (int64_t j = 0; j < vecs; ++j)
          accs[i * vecs + j] = vector::FMAOp::create(b, loc, splat, bVectors[j],
                                                     accs[i * vecs + j]);
      }
      scf::YieldOp::create(b, loc, accs);
    }
    for (int64_t i = 0; i < rows; ++i) {
      setRow(add(m0, i));
      for (int64_t j = 0; j < vecs; ++j) {
        dims[match.n] = add(n0, j * lanes);
        Value old = loadVector(match.c, mask);
        Value sum =
            arith::AddFOp::create(b, loc, old, kLoop.getResult(i * vecs + j));
        SmallVector<Value> at = indices(match.c);
        if (mask)
          vector::MaskedStoreOp::create(b, loc, match.c->get(), at, mask, sum);
        else
          vector::StoreOp::create(b, loc, sum, match.c->get(), at);
      }
    }
  }

  OpBuilder &b;
  Location loc;
  linalg::GenericOp op;
  const Contraction &match;
  int64_t lanes, tileM;
  /// Columns per tile in the dot form, vectors of `lanes` in the axpy form.
  int64_t tileN;
  /// Dot form: the depth of a block of k (0: no blocks), and the bytes of
  /// B a block of columns holds at that depth.
  int64_t blockK, blockBytes;
  /// bf16 dot form: A and B both bf16, multiplied in pairs of k
  /// (vdpbf16ps); `step` values of k a step (2 x lanes; lanes otherwise).
  bool pairs;
  int64_t step;
  VectorType vectorType, maskType;
  /// The current cache block of the dot form (emitCacheBlocks), and
  /// whether the current tiles add their blocks of k in registers instead.
  Value nBegin, nEnd, kBegin, kEnd;
  bool inRegisters = false;
  SmallVector<Value> sizes; // Per loop.
  SmallVector<Value> dims;  // Per loop: the current index.
};

/// `type` with a dynamic offset: where a slice starts need not be part of
/// a shared function's signature. (Sizes and strides stay: a shared
/// function as specialized as the code it replaces runs as fast; with
/// dynamic ones, a V2-Lite-shaped model's decode step ran 5-10% slower.)
MemRefType withDynamicOffset(MemRefType type) {
  SmallVector<int64_t> strides;
  int64_t offset;
  if (failed(type.getStridesAndOffset(strides, offset)) ||
      ShapedType::isDynamic(offset))
    return type;
  return MemRefType::get(
      type.getShape(), type.getElementType(),
      StridedLayoutAttr::get(type.getContext(), ShapedType::kDynamic, strides),
      type.getMemorySpace());
}

/// The constants `op`'s body reads from outside it, or nullopt when it
/// reads another value from outside (a shared function could not have it).
std::optional<SmallVector<Operation *>>
capturedConstants(linalg::GenericOp op) {
  SetVector<Value> above;
  getUsedValuesDefinedAbove(op.getRegion(), above);
  SmallVector<Operation *> constants;
  for (Value value : above) {
    Operation *def = value.getDefiningOp();
    if (!def || !def->hasTrait<OpTrait::ConstantLike>())
      return std::nullopt;
    constants.push_back(def);
  }
  return constants;
}

/// Whether `op` is in a function of `module` itself, at most inside scf
/// loops and branches: a call from elsewhere (a nested module, a GPU
/// launch's body) could not reach a function of `module`.
bool inHostFunction(Operation *op, ModuleOp module) {
  for (Operation *parent = op->getParentOp(); parent;
       parent = parent->getParentOp()) {
    if (isa<func::FuncOp>(parent))
      return parent->getParentOp() == module.getOperation();
    if (!isa_and_nonnull<scf::SCFDialect>(parent->getDialect()))
      return false;
  }
  return false;
}

/// A detached function `@outlined(operands...)` computing `op` on its
/// arguments, with copies of the constants its body reads. A memref that
/// is two operands maps to one argument (the last mapping wins), so the
/// text keeps `ins(%a, %a)` apart from `ins(%a, %b)`, and the function is
/// called with that memref for both.
func::FuncOp outlinedFunction(linalg::GenericOp op,
                              ArrayRef<Operation *> constants) {
  SmallVector<Type> types;
  for (Value operand : op->getOperands())
    types.push_back(withDynamicOffset(cast<MemRefType>(operand.getType())));
  OpBuilder b(op.getContext());
  auto fn = func::FuncOp::create(op.getLoc(), "outlined",
                                 b.getFunctionType(types, {}));
  fn.setPrivate();
  Block *body = fn.addEntryBlock();
  b.setInsertionPointToStart(body);
  IRMapping map;
  map.map(op->getOperands(), body->getArguments());
  for (Operation *constant : constants)
    b.clone(*constant, map);
  b.clone(*op, map);
  func::ReturnOp::create(b, op.getLoc());
  return fn;
}

struct DscOutlineContractionsPass
    : mlir::dsc::impl::DscOutlineContractionsBase<DscOutlineContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    // Each generic's function, grouped by its text (the maps, the body, the
    // operand types, its attributes), in the order the module holds them.
    llvm::StringMap<unsigned> groupOf;
    SmallVector<SmallVector<std::pair<linalg::GenericOp, func::FuncOp>>> alike;
    SmallVector<bool> isContraction;
    module.walk([&](linalg::GenericOp op) {
      if (!inHostFunction(op, module))
        return;
      bool contraction = matchContraction(op).has_value();
      if (!contraction &&
          (!allGenerics || !op.hasPureBufferSemantics() ||
           !llvm::all_of(op->getOperandTypes(), llvm::IsaPred<MemRefType>)))
        return;
      // (A contraction's body reads its block arguments only:
      // isMultiplyAccumulate.)
      std::optional<SmallVector<Operation *>> constants = capturedConstants(op);
      if (!constants)
        return;
      func::FuncOp fn = outlinedFunction(op, *constants);
      std::string text;
      llvm::raw_string_ostream os(text);
      fn.print(os, OpPrintingFlags().printGenericOpForm());
      auto [it, inserted] = groupOf.try_emplace(text, alike.size());
      if (inserted) {
        alike.emplace_back();
        isContraction.push_back(contraction);
      }
      alike[it->second].emplace_back(op, fn);
    });
    SymbolTable symbols(module);
    unsigned nextContraction = 0, nextGeneric = 0;
    for (auto [group, contraction] : llvm::zip(alike, isContraction)) {
      func::FuncOp shared = group.front().second;
      for (auto &[op, fn] : llvm::drop_begin(group))
        fn.erase();
      if (group.size() == 1) {
        // Alone: nothing to share, and LLVM would inline it back.
        shared.erase();
        continue;
      }
      shared.setName(contraction
                         ? "contraction_" + std::to_string(nextContraction++)
                         : "generic_" + std::to_string(nextGeneric++));
      ++numFunctions;
      // Inlined, each call's constant sizes would specialize a copy again.
      // (LLVM's `noinline`: convert-func-to-llvm keeps `passthrough`, not
      // func.func's no_inline. In dsc's CPU pipeline dsc-pack-entry-points
      // would mark it too, having several callers; this pass stands alone.)
      shared->setAttr("passthrough",
                      ArrayAttr::get(&getContext(), {StringAttr::get(
                                                        &getContext(),
                                                        "noinline")}));
      symbols.insert(shared);
      for (auto &[op, fn] : group) {
        OpBuilder b(op);
        SmallVector<Value> args;
        for (auto [operand, type] :
             llvm::zip(op->getOperands(), shared.getArgumentTypes()))
          args.push_back(operand.getType() == type
                             ? operand
                             : memref::CastOp::create(b, op.getLoc(), type,
                                                      operand)
                                   .getResult());
        func::CallOp::create(b, op.getLoc(), shared, args);
        op.erase();
        ++numOutlined;
      }
    }
  }
};

struct DscParallelizeContractionsPass
    : mlir::dsc::impl::DscParallelizeContractionsBase<
          DscParallelizeContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (grain < 1) {
      getOperation().emitError(
          "dsc-parallelize-contractions: grain must be >= 1");
      return signalPassFailure();
    }
    // Negative: none is split (CodegenOptions::parallelMinMultiplyAdds).
    if (minMultiplyAdds < 0)
      return;
    SmallVector<std::pair<linalg::GenericOp, Contraction>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      // (A range function must be a symbol of this module: see
      // inHostFunction.)
      if (!inHostFunction(op, getOperation()))
        return;
      auto fn = op->getParentOfType<func::FuncOp>();
      if (fn->hasAttr(kParallelColumnsAttr))
        return;
      if (std::optional<Contraction> match = matchContraction(op))
        matches.emplace_back(op, *match);
    });
    SymbolTable symbols(getOperation());
    next = 0;
    for (auto &[op, match] : matches)
      split(op, match, symbols);
  }

private:
  /// Splits `op`'s columns when it is large enough, at compile time or (with
  /// dynamic sizes) at run time.
  void split(linalg::GenericOp op, const Contraction &match,
             SymbolTable &symbols) {
    SmallVector<int64_t> loops = op.getStaticLoopRanges();
    // Too few columns for two ranges: nothing to split.
    if (!ShapedType::isDynamic(loops[match.n]) && loops[match.n] < 2 * grain)
      return;
    uint64_t work = 1;
    bool dynamic = false;
    for (int64_t size : loops) {
      if (ShapedType::isDynamic(size))
        dynamic = true;
      else
        work = llvm::SaturatingMultiply(work, uint64_t(size));
    }
    uint64_t threshold = minMultiplyAdds;
    if (!dynamic && work < threshold)
      return;
    // Fresh names, the pair numbered alike.
    while (symbols.lookup("columns_" + std::to_string(next)) ||
           symbols.lookup("parallel_" + std::to_string(next)))
      ++next;
    std::string suffix = std::to_string(next++);
    func::FuncOp columns = columnsFunction(op, match, "columns_" + suffix);
    func::FuncOp parallel =
        parallelFunction(op, match, columns, "parallel_" + suffix);
    symbols.insert(columns);
    symbols.insert(parallel);
    OpBuilder b(op);
    Location loc = op.getLoc();
    SmallVector<Value> operands(op->getOperands());
    if (work >= threshold) {
      func::CallOp::create(b, loc, parallel, operands);
      ++numStatic;
    } else {
      // The multiply-adds at run time: every loop's size.
      SmallVector<Range> ranges =
          cast<linalg::LinalgOp>(op.getOperation()).createLoopRanges(b, loc);
      Value total;
      for (Range &range : ranges) {
        Value size = getValueOrCreateConstantIndexOp(b, loc, range.size);
        total = total ? arith::MulIOp::create(b, loc, total, size).getResult()
                      : size;
      }
      Value large = arith::CmpIOp::create(
          b, loc, arith::CmpIPredicate::uge, total,
          arith::ConstantIndexOp::create(b, loc, threshold));
      auto ifOp = scf::IfOp::create(b, loc, large, /*withElseRegion=*/true);
      b.setInsertionPointToStart(ifOp.thenBlock());
      func::CallOp::create(b, loc, parallel, operands);
      b.setInsertionPointToStart(ifOp.elseBlock());
      operands.push_back(arith::ConstantIndexOp::create(b, loc, 0));
      operands.push_back(columnCount(b, loc, match, operands));
      func::CallOp::create(b, loc, columns, operands);
      ++numChecked;
    }
    op.erase();
  }

  /// The columns of the contraction on `operands`: C's size along n.
  static Value columnCount(OpBuilder &b, Location loc, const Contraction &match,
                           ValueRange operands) {
    linalg::GenericOp op = cast<linalg::GenericOp>(match.c->getOwner());
    AffineMap map = op.getMatchingIndexingMap(match.c);
    unsigned c = match.c->getOperandNumber();
    for (int64_t pos = 0; pos < map.getNumResults(); ++pos)
      if (dimAt(map, pos) == match.n)
        return memref::DimOp::create(b, loc, operands[c], pos);
    llvm_unreachable("C is indexed by n (matchRoles)");
  }

  /// `@columns_N(operands..., %begin, %end)`: `op` on the columns
  /// [begin, end) of every operand indexed by n.
  static func::FuncOp columnsFunction(linalg::GenericOp op,
                                      const Contraction &match,
                                      StringRef name) {
    OpBuilder b(op.getContext());
    Location loc = op.getLoc();
    SmallVector<Type> types(op->getOperandTypes());
    types.append(2, b.getIndexType());
    auto fn = func::FuncOp::create(loc, name, b.getFunctionType(types, {}));
    fn.setPrivate();
    // One copy of the vector code, however many callers (a task, and the
    // serial path of a size checked at run time).
    fn->setAttr("passthrough", b.getArrayAttr({b.getStringAttr("noinline")}));
    // Its contraction is split already (a second run of the pass).
    fn->setAttr(kParallelColumnsAttr, b.getUnitAttr());
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    Value begin = body->getArgument(op->getNumOperands());
    Value end = body->getArgument(op->getNumOperands() + 1);
    Value count = arith::SubIOp::create(b, loc, end, begin);
    // Operands are replaced by position: a memref read twice (x * x^T) is
    // a whole A and a sliced B.
    Operation *clone = b.clone(*op);
    for (OpOperand &operand : op->getOpOperands()) {
      Value arg = body->getArgument(operand.getOperandNumber());
      AffineMap map = op.getMatchingIndexingMap(&operand);
      clone->setOperand(operand.getOperandNumber(), arg);
      if (!map.isFunctionOfDim(match.n))
        continue;
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(clone);
      auto type = cast<MemRefType>(arg.getType());
      SmallVector<OpFoldResult> offsets, sizes,
          strides(type.getRank(), b.getIndexAttr(1));
      for (int64_t pos = 0; pos < type.getRank(); ++pos) {
        bool isN = dimAt(map, pos) == match.n;
        offsets.push_back(isN ? OpFoldResult(begin) : b.getIndexAttr(0));
        sizes.push_back(isN ? OpFoldResult(count)
                            : memref::getMixedSize(b, loc, arg, pos));
      }
      clone->setOperand(
          operand.getOperandNumber(),
          memref::SubViewOp::create(b, loc, arg, offsets, sizes, strides));
    }
    func::ReturnOp::create(b, loc);
    return fn;
  }

  /// `@parallel_N(operands...)`, marked: `@columns_N` over all columns.
  func::FuncOp parallelFunction(linalg::GenericOp op, const Contraction &match,
                                func::FuncOp columns, StringRef name) {
    OpBuilder b(op.getContext());
    Location loc = op.getLoc();
    auto fn = func::FuncOp::create(
        loc, name, b.getFunctionType(op->getOperandTypes(), {}));
    fn.setPrivate();
    fn->setAttr(kParallelForAttr, b.getI64IntegerAttr(grain));
    Block *body = fn.addEntryBlock();
    b.setInsertionPointToStart(body);
    SmallVector<Value> args(body->getArguments());
    args.push_back(arith::ConstantIndexOp::create(b, loc, 0));
    args.push_back(columnCount(b, loc, match, body->getArguments()));
    func::CallOp::create(b, loc, columns, args);
    func::ReturnOp::create(b, loc);
    return fn;
  }

  unsigned next = 0;
};

struct DscVectorizeContractionsPass
    : mlir::dsc::impl::DscVectorizeContractionsBase<
          DscVectorizeContractionsPass> {
  using Base::Base;

  void runOnOperation() override {
    if (lanes < 1 || tileM < 1 || tileN < 1) {
      getOperation().emitError(
          "dsc-vectorize-contractions: lanes and tile sizes must be >= 1");
      return signalPassFailure();
    }
    if (blockK < 0 || blockK % lanes != 0 || blockBytes < 1) {
      getOperation().emitError(
          "dsc-vectorize-contractions: block-k must be a multiple of lanes "
          "(0: no blocks) and block-bytes >= 1");
      return signalPassFailure();
    }
    // vdpbf16ps comes in 128, 256 and 512 bits.
    if (bf16Dot && ((lanes != 4 && lanes != 8 && lanes != 16) ||
                    blockK % (2 * lanes) != 0)) {
      getOperation().emitError(
          "dsc-vectorize-contractions: bf16-dot takes lanes 4, 8 or 16 and "
          "block-k a multiple of 2 x lanes");
      return signalPassFailure();
    }
    SmallVector<std::pair<linalg::GenericOp, Contraction>> matches;
    getOperation().walk([&](linalg::GenericOp op) {
      if (std::optional<Contraction> match = matchContraction(op))
        matches.emplace_back(op, *match);
    });
    OpBuilder builder(&getContext());
    auto isBf16 = [](OpOperand *operand) {
      return cast<MemRefType>(operand->get().getType())
          .getElementType()
          .isBF16();
    };
    for (auto &[op, match] : matches) {
      builder.setInsertionPoint(op);
      bool pairs = bf16Dot && match.form == Form::Dot && isBf16(match.a) &&
                   isBf16(match.b);
      Emitter(builder, op, match, lanes, tileM,
              match.form == Form::Dot ? tileN : axpyVectors, blockK, blockBytes,
              pairs)
          .emit();
      ++(match.form == Form::Dot ? numDot : numAxpy);
      numBf16Dot += pairs;
      op.erase();
    }
  }
};

} // namespace
