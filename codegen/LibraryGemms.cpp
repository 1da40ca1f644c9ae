//===- LibraryGemms.cpp - Marked GEMMs as the library's tensor-core GEMM --===//
//
// A linear layer's GEMM on a GPU, as generated code, is a loop nest with one
// thread per output and a sequential sum: no tensor cores, no reuse through
// shared memory. The kernel library's grouped GEMM (mma.sync, a cp.async
// ring, ldmatrix from swizzled rows) takes any M and N, so a linear layer is
// one launch of it with one expert. dsc-library-gemms swaps the marked
// generics for that launch; everything else about the step stays as
// generated. dsc-bf16-linear-weights, before it, gives those GEMMs their
// weights in bf16, the kernel's operand type (and half the bytes).
//
//===----------------------------------------------------------------------===//

#include "codegen/Passes.h"

#include "codegen/GroupedGemmBf16.inc"

#include "dialects/dsc/DscOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AffineMap.h"
#include "mlir/IR/Matchers.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/SetVector.h"

#define DEBUG_TYPE "dsc-library-gemms"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCBF16LINEARWEIGHTS
#define GEN_PASS_DEF_DSCLIBRARYGEMMS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

// The kernel launched: gen_grouped_gemm.py's 64-row tile of C per block of 4
// warps. Its launch (tile, threads, shared memory) is read from the kernel's
// attributes, so that the generator states it once.
constexpr StringLiteral kLibraryModule = "dsc_grouped_gemm";
constexpr StringLiteral kKernel = "grouped_gemm_bf16_tn_m64";
// cp.async moves 16 bytes: every row of A and B must start 16-byte aligned.
constexpr int64_t kKMultiple = 8;

/// The operands of a marked GEMM the kernel can run, or why it cannot.
struct Gemm {
  Value a, b, c;
  int64_t n, k;
};

FailureOr<Gemm> matchGemm(linalg::GenericOp op, std::string &why) {
  auto fail = [&](const Twine &reason) {
    why = reason.str();
    return failure();
  };
  if (!op.hasPureBufferSemantics() || op.getNumDpsInputs() != 2 ||
      op.getNumDpsInits() != 1)
    return fail("not a GEMM on buffers with two inputs and one output");
  Gemm gemm{op.getDpsInputs()[0], op.getDpsInputs()[1], op.getDpsInits()[0], 0,
            0};
  auto aType = cast<MemRefType>(gemm.a.getType());
  auto bType = cast<MemRefType>(gemm.b.getType());
  auto cType = cast<MemRefType>(gemm.c.getType());
  if (!aType.getElementType().isBF16() || !bType.getElementType().isBF16() ||
      !cType.getElementType().isF32())
    return fail("operands are not bf16 x bf16 -> f32");
  unsigned rank = aType.getRank();
  if (bType.getRank() != 2 || rank < 2 || cType.getRank() != rank ||
      bType.isDynamicDim(0) || bType.isDynamicDim(1))
    return fail("shapes are not [..., K] x [N, K] -> [..., N] with N, K known");
  gemm.n = bType.getDimSize(0);
  gemm.k = bType.getDimSize(1);
  // The loops: A's leading dims, then n, then the reduction k.
  MLIRContext *ctx = op.getContext();
  unsigned numLoops = rank + 1;
  SmallVector<AffineExpr> lead;
  for (unsigned d = 0; d + 1 < rank; ++d)
    lead.push_back(getAffineDimExpr(d, ctx));
  AffineExpr n = getAffineDimExpr(rank - 1, ctx),
             k = getAffineDimExpr(rank, ctx);
  auto with = [&](AffineExpr last) {
    SmallVector<AffineExpr> exprs(lead);
    exprs.push_back(last);
    return AffineMap::get(numLoops, 0, exprs, ctx);
  };
  SmallVector<AffineMap> want = {
      with(k), AffineMap::get(numLoops, 0, {n, k}, ctx), with(n)};
  if (op.getIndexingMapsArray() != want || op.getNumReductionLoops() != 1 ||
      op.getIteratorTypesArray().back() != utils::IteratorType::reduction)
    return fail("indexing is not C[..., n] += A[..., k] * B[n, k]");
  // The body: acc + extf(a) * extf(b).
  Block &body = op.getRegion().front();
  auto extended = [&](Value v, unsigned argument) {
    auto ext = v.getDefiningOp<arith::ExtFOp>();
    return ext && ext.getIn() == body.getArgument(argument);
  };
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  auto add = yield.getValues()[0].getDefiningOp<arith::AddFOp>();
  Value acc = body.getArgument(2);
  Value product = !add                  ? Value()
                  : add.getRhs() == acc ? add.getLhs()
                  : add.getLhs() == acc ? add.getRhs()
                                        : Value();
  auto mul = product ? product.getDefiningOp<arith::MulFOp>() : nullptr;
  if (!mul || !extended(mul.getLhs(), 0) || !extended(mul.getRhs(), 1) ||
      body.getOperations().size() != 5)
    return fail("its body is not acc + extf(a) * extf(b)");
  if (aType.getDimSize(rank - 1) != gemm.k ||
      cType.getDimSize(rank - 1) != gemm.n)
    return fail("A's or C's last dimension differs from B's");
  if (gemm.k % kKMultiple != 0)
    return fail("K = " + Twine(gemm.k) + " is not a multiple of " +
                Twine(kKMultiple) + " (rows must start 16-byte aligned)");
  if (!aType.getLayout().isIdentity() || !bType.getLayout().isIdentity() ||
      !cType.getLayout().isIdentity())
    return fail("an operand is not a contiguous row-major buffer");
  return gemm;
}

/// The library kernel and its launch configuration.
struct LibraryKernel {
  gpu::GPUFuncOp fn;
  int64_t tileM, tileN, threads, sharedBytes;
};

/// The library's GEMM module in `module`: parsed from the source dsc was
/// built with, keeping the one kernel launched.
FailureOr<LibraryKernel> libraryKernel(ModuleOp module) {
  auto existing = module.lookupSymbol<gpu::GPUModuleOp>(kLibraryModule);
  if (!existing) {
    ParserConfig config(module.getContext());
    OwningOpRef<ModuleOp> parsed =
        parseSourceString<ModuleOp>(kGroupedGemmBf16Source, config,
                                    "codegen/kernels/grouped_gemm_bf16.mlir");
    if (!parsed)
      return failure();
    existing = parsed->lookupSymbol<gpu::GPUModuleOp>(kLibraryModule);
    if (!existing)
      return failure();
    for (auto fn :
         llvm::make_early_inc_range(existing.getOps<gpu::GPUFuncOp>()))
      if (fn.getName() != kKernel)
        fn.erase();
    existing->remove();
    module.push_back(existing);
    module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                    UnitAttr::get(module.getContext()));
  }
  auto kernel = existing.lookupSymbol<gpu::GPUFuncOp>(kKernel);
  if (!kernel)
    return failure();
  auto tile = kernel->getAttrOfType<DenseI64ArrayAttr>("dsc.tile");
  auto shared = kernel->getAttrOfType<IntegerAttr>("dsc.dynamic_shared_memory");
  std::optional<ArrayRef<int32_t>> block = kernel.getKnownBlockSize();
  if (!tile || tile.size() != 2 || !shared || !block || block->size() != 3)
    return failure();
  return LibraryKernel{kernel, tile[0], tile[1], (*block)[0], shared.getInt()};
}

/// `value` (a contiguous buffer) as a 1-D buffer of unknown size, the
/// kernel's argument type.
Value flattened(OpBuilder &b, Location loc, Value value) {
  auto type = cast<MemRefType>(value.getType());
  ReassociationIndices all;
  for (int64_t d = 0; d < type.getRank(); ++d)
    all.push_back(d);
  Value flat = memref::CollapseShapeOp::create(
      b, loc, value, ArrayRef<ReassociationIndices>{all});
  auto dynamic = MemRefType::get({ShapedType::kDynamic}, type.getElementType());
  if (flat.getType() == dynamic)
    return flat;
  return memref::CastOp::create(b, loc, dynamic, flat);
}

/// The zero fill of C that the GEMM `op` accumulates onto (the mark's
/// contract), when nothing but memory-effect-free ops lies between them:
/// the kernel writes every element of C, so the fill is dead.
linalg::FillOp deadZeroFill(linalg::GenericOp op, Value c) {
  for (Operation *prev = op->getPrevNode(); prev; prev = prev->getPrevNode()) {
    if (auto fill = dyn_cast<linalg::FillOp>(prev)) {
      if (fill.getDpsInits()[0] == c &&
          matchPattern(fill.getInputs()[0], m_AnyZeroFloat()))
        return fill;
      return {};
    }
    if (!isMemoryEffectFree(prev))
      return {};
  }
  return {};
}

/// Replaces `op` with the launch of `kernel` on `gemm`.
void launch(linalg::GenericOp op, const Gemm &gemm,
            const LibraryKernel &kernel) {
  linalg::FillOp deadFill = deadZeroFill(op, gemm.c);
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto index = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  // M: the product of A's leading dims (sizes the host holds, not data).
  Value rows = index(1);
  auto aType = cast<MemRefType>(gemm.a.getType());
  for (int64_t d = 0; d + 1 < aType.getRank(); ++d) {
    Value size = aType.isDynamicDim(d)
                     ? memref::DimOp::create(b, loc, gemm.a, d).getResult()
                     : index(aType.getDimSize(d));
    rows = arith::MulIOp::create(b, loc, rows, size);
  }
  // The one expert's row range [0, M], written by a kernel: a host store
  // would put device data in the host code, which a CUDA graph cannot
  // replay.
  Type i32 = b.getI32Type();
  Value offsets = memref::AllocOp::create(b, loc, MemRefType::get({2}, i32));
  MLIRContext *ctx = op.getContext();
  linalg::GenericOp::create(
      b, loc, TypeRange{}, ValueRange{}, ValueRange{offsets},
      ArrayRef<AffineMap>{AffineMap::getMultiDimIdentityMap(1, ctx)},
      ArrayRef<utils::IteratorType>{utils::IteratorType::parallel},
      [&](OpBuilder &nb, Location l, ValueRange) {
        Value i = linalg::IndexOp::create(nb, l, 0);
        Value bound = arith::MulIOp::create(nb, l, i, rows);
        linalg::YieldOp::create(
            nb, l, arith::IndexCastOp::create(nb, l, i32, bound).getResult());
      });
  Value gridY = arith::DivUIOp::create(
      b, loc, arith::AddIOp::create(b, loc, rows, index(kernel.tileM - 1)),
      index(kernel.tileM));
  gpu::KernelDim3 grid{index(llvm::divideCeil(gemm.n, kernel.tileN)), gridY,
                       index(1)};
  gpu::KernelDim3 block{index(kernel.threads), index(1), index(1)};
  Value shared = arith::ConstantIntOp::create(b, loc, i32, kernel.sharedBytes);
  gpu::LaunchFuncOp::create(
      b, loc, kernel.fn, grid, block, shared,
      ValueRange{flattened(b, loc, gemm.a), flattened(b, loc, gemm.b),
                 flattened(b, loc, gemm.c), flattened(b, loc, offsets),
                 index(gemm.n), index(gemm.k)});
  memref::DeallocOp::create(b, loc, offsets);
  if (deadFill)
    deadFill.erase();
  op.erase();
}

/// Whether `use` is the weight of a linear layer without block scales: a
/// dsc.linear's, or one of a dsc.moe's shared-expert matrices (linear layers
/// once the MoE is lowered) when they have no scales.
bool isLinearWeight(OpOperand &use) {
  if (auto linear = dyn_cast<dsc::LinearOp>(use.getOwner()))
    return !linear.getScales() && &use == &linear.getWeightMutable();
  if (auto moe = dyn_cast<dsc::MoeOp>(use.getOwner())) {
    MutableOperandRange shared = moe.getSharedMutable();
    if (shared.size() == 3)
      for (unsigned i = 0; i < 3; ++i)
        if (&use == &shared[i])
          return true;
  }
  return false;
}

struct DscBf16LinearWeightsPass
    : mlir::dsc::impl::DscBf16LinearWeightsBase<DscBf16LinearWeightsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    Builder b(module.getContext());
    // Layers are private functions that take their weights from the entry
    // points: a weight qualifies when it reaches nothing but linear
    // weights, through calls whose parameter every caller passes a
    // qualifying value.
    DenseMap<func::FuncOp, SmallVector<func::CallOp>> callsTo;
    module.walk([&](func::CallOp call) {
      if (auto callee = module.lookupSymbol<func::FuncOp>(call.getCallee()))
        callsTo[callee].push_back(call);
    });
    auto callee = [&](func::CallOp call) {
      return module.lookupSymbol<func::FuncOp>(call.getCallee());
    };
    llvm::SetVector<Value> chosen;
    for (auto fn : module.getOps<func::FuncOp>()) {
      if (fn.isExternal())
        continue;
      for (BlockArgument arg : fn.getArguments()) {
        auto type = dyn_cast<RankedTensorType>(arg.getType());
        unsigned i = arg.getArgNumber();
        bool entryWeight = fn.isPublic() && fn.getArgAttr(i, "dsc.weight") &&
                           !fn.getArgAttr(i, "dsc.stack");
        if (!type || !type.getElementType().isF32() || arg.use_empty() ||
            !(entryWeight || fn.isPrivate()))
          continue;
        chosen.insert(arg);
      }
    }
    // The weight name of an entry point's argument, or null.
    auto weightName = [](BlockArgument arg) -> StringAttr {
      auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      return fn.isPublic() ? fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(),
                                                             "dsc.weight")
                           : StringAttr();
    };
    // Drop what fails until nothing changes. The runtime binds a param
    // once by name for every entry point, so a name is bf16 only where
    // every entry point's argument of that name qualifies.
    for (bool changed = true; changed;) {
      changed = false;
      llvm::SetVector<Value> previous = chosen;
      chosen.clear();
      DenseSet<StringAttr> refused;
      for (auto fn : module.getOps<func::FuncOp>())
        if (fn.isPublic() && !fn.isExternal())
          for (BlockArgument arg : fn.getArguments())
            if (StringAttr name = weightName(arg);
                name && !arg.use_empty() && !previous.contains(arg))
              refused.insert(name);
      for (Value value : previous) {
        auto arg = cast<BlockArgument>(value);
        auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
        bool ok = !refused.contains(weightName(arg)) &&
                  llvm::all_of(arg.getUses(), [&](OpOperand &use) {
                    if (isLinearWeight(use))
                      return true;
                    auto call = dyn_cast<func::CallOp>(use.getOwner());
                    func::FuncOp target = call ? callee(call) : func::FuncOp();
                    return target && !target.isExternal() &&
                           previous.contains(
                               target.getArgument(use.getOperandNumber()));
                  });
        // Every caller must pass a value that becomes bf16 too (a private
        // function needs callers; a public one may have none).
        const SmallVector<func::CallOp> &calls = callsTo[fn];
        ok = ok && !(fn.isPrivate() && calls.empty()) &&
             llvm::all_of(calls, [&](func::CallOp call) {
               return previous.contains(call.getOperand(arg.getArgNumber()));
             });
        if (ok)
          chosen.insert(value);
        else
          changed = true;
      }
    }
    // Names listed by an earlier run stay listed (their arguments are bf16
    // already).
    llvm::SetVector<StringRef> names;
    if (auto listed = module->getAttrOfType<ArrayAttr>("dsc.bf16_params"))
      for (StringAttr name : listed.getAsRange<StringAttr>())
        names.insert(name.getValue());
    DenseSet<func::FuncOp> retyped;
    for (Value value : chosen) {
      auto arg = cast<BlockArgument>(value);
      auto fn = cast<func::FuncOp>(arg.getOwner()->getParentOp());
      arg.setType(cast<RankedTensorType>(arg.getType()).clone(b.getBF16Type()));
      retyped.insert(fn);
      if (StringAttr name = weightName(arg))
        names.insert(name.getValue());
    }
    for (func::FuncOp fn : retyped)
      fn.setFunctionType(b.getFunctionType(
          fn.getBody().front().getArgumentTypes(), fn.getResultTypes()));
    SmallVector<Attribute> list;
    for (StringRef name : names)
      list.push_back(b.getStringAttr(name));
    module->setAttr("dsc.bf16_params", b.getArrayAttr(list));
  }
};

struct DscLibraryGemmsPass
    : mlir::dsc::impl::DscLibraryGemmsBase<DscLibraryGemmsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<linalg::GenericOp> marked;
    module.walk([&](linalg::GenericOp op) {
      if (op->hasAttr(kLibraryGemmAttr))
        marked.push_back(op);
    });
    for (linalg::GenericOp op : marked) {
      std::string why;
      FailureOr<Gemm> gemm = matchGemm(op, why);
      if (failed(gemm)) {
        op.emitRemark("GEMM left as generated code: ") << why;
        op->removeAttr(kLibraryGemmAttr);
        continue;
      }
      FailureOr<LibraryKernel> kernel = libraryKernel(module);
      if (failed(kernel)) {
        module.emitError("the kernel library's ")
            << kKernel
            << " did not parse or lacks its launch attributes (dsc.tile, "
               "known_block_size, dsc.dynamic_shared_memory)";
        return signalPassFailure();
      }
      launch(op, *gemm, *kernel);
    }
  }
};

} // namespace
