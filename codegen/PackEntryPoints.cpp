//===- PackEntryPoints.cpp - One packed C signature per entry point -------===//

#include "codegen/Passes.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"
#include "llvm/ADT/BitVector.h"

#define DEBUG_TYPE "dsc-pack-entry-points"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCPACKENTRYPOINTS
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {
constexpr StringLiteral kCInterfacePrefix = "_mlir_ciface_";
constexpr StringLiteral kEntryPrefix = "dsc_entry_";

struct DscPackEntryPointsPass
    : mlir::dsc::impl::DscPackEntryPointsBase<DscPackEntryPointsPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    SmallVector<LLVM::LLVMFuncOp> ifaces;
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (fn.getName().starts_with(kCInterfacePrefix) && !fn.isExternal())
        ifaces.push_back(fn);
    // A function called from several places (a layer body shared by all
    // layers of its kind: 58 for DeepSeek-V3's MoE layers) stays out of
    // line; inlining would copy it per call site and make LLVM's compile
    // time grow with the layer count.
    llvm::DenseMap<StringRef, unsigned> callSites;
    module.walk([&](LLVM::CallOp call) {
      if (std::optional<StringRef> callee = call.getCallee())
        ++callSites[*callee];
    });
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (!fn.isExternal() && callSites.lookup(fn.getName()) > 1)
        fn.setNoInline(true);
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    OpBuilder b(module.getBodyRegion());
    b.setInsertionPointToEnd(module.getBody());
    for (LLVM::LLVMFuncOp iface : ifaces) {
      LLVM::LLVMFunctionType type = iface.getFunctionType();
      if (!llvm::all_of(type.getParams(),
                        [&](Type t) { return t == ptrType; }) ||
          !isa<LLVM::LLVMVoidType>(type.getReturnType())) {
        iface.emitError("entry point must take only descriptor pointers and "
                        "return nothing (use out-params)");
        return signalPassFailure();
      }
      StringRef name = iface.getName().drop_front(kCInterfacePrefix.size());
      Location loc = iface.getLoc();
      auto entry = LLVM::LLVMFuncOp::create(
          b, loc, (kEntryPrefix + name).str(),
          LLVM::LLVMFunctionType::get(LLVM::LLVMVoidType::get(&getContext()),
                                      {ptrType}));
      Block *body = entry.addEntryBlock(b);
      OpBuilder eb = OpBuilder::atBlockBegin(body);
      // Descriptor pointer i comes from argv[i].
      IRMapping mapping;
      for (unsigned i = 0; i < type.getNumParams(); ++i)
        mapping.map(iface.getArgument(i),
                    loadDescriptorPointer(eb, loc, body->getArgument(0), i,
                                          /*invariant=*/false));
      if (succeeded(mergeBody(iface, name, entry, eb, mapping)))
        continue;
      // Fallback: call the C interface function with the loaded pointers.
      SmallVector<Value> args;
      for (BlockArgument arg : iface.getArguments())
        args.push_back(mapping.lookup(arg));
      LLVM::CallOp::create(eb, loc, iface, args);
      LLVM::ReturnOp::create(eb, loc, ValueRange{});
    }
    // The runtime calls the packed entry points only: every other function
    // the module defines is internal. Then LLVM may rewrite their
    // signatures, and it drops the descriptor fields a callee never reads
    // (dead-argument elimination: a static weight's sizes, strides and
    // offset are constants in the layer's body, five of a matrix's seven
    // fields, at each of DeepSeek-V3's 61 layer calls per entry point),
    // which cuts the host object's optimization and code generation time
    // by about a third.
    for (auto fn : module.getOps<LLVM::LLVMFuncOp>())
      if (!fn.isExternal() && !fn.getName().starts_with(kEntryPrefix))
        fn.setLinkage(LLVM::Linkage::Internal);
  }

  /// Builds the entry point's body from the C interface function and the
  /// function it wraps, without the call between them: `_mlir_ciface_NAME`
  /// unpacks each descriptor and calls NAME with every field as a separate
  /// argument (thousands for DeepSeek-V3, whose weights are arguments), and
  /// LLVM's instruction selection is quadratic in that call's size. So NAME's
  /// blocks are moved into `entry`, and each descriptor field is loaded where
  /// the body uses it (loadFieldsAtUses); other arguments are unpacked first,
  /// as the wrapper did.
  LogicalResult mergeBody(LLVM::LLVMFuncOp iface, StringRef name,
                          LLVM::LLVMFuncOp entry, OpBuilder &eb,
                          IRMapping &mapping) {
    ModuleOp module = getOperation();
    auto callee = module.lookupSymbol<LLVM::LLVMFuncOp>(name);
    if (!callee || callee.isExternal() || !iface.getBody().hasOneBlock())
      return failure();
    std::optional<SymbolTable::UseRange> uses =
        SymbolTable::getSymbolUses(callee, module);
    if (!uses || std::distance(uses->begin(), uses->end()) != 1)
      return failure();
    Block &ifaceBlock = iface.getBody().front();
    LLVM::CallOp call;
    for (Operation &op : ifaceBlock) {
      auto c = dyn_cast<LLVM::CallOp>(op);
      if (c && c.getCallee() == name) {
        if (call)
          return failure();
        call = c;
      } else if (call && !isa<LLVM::ReturnOp>(op)) {
        return failure(); // Work after the call: keep the plain wrapper.
      }
    }
    if (!call || call.getNumResults() != 0)
      return failure();
    for (Operation &op : ifaceBlock.without_terminator())
      if (&op != call.getOperation())
        eb.clone(op, mapping);
    Block *calleeEntry = &callee.getBody().front();
    llvm::BitVector loaded =
        loadFieldsAtUses(call, callee, entry.getArgument(0));
    SmallVector<Value> args;
    for (auto [i, operand] : llvm::enumerate(call.getArgOperands()))
      if (!loaded.test(i))
        args.push_back(mapping.lookupOrDefault(operand));
    entry.getBody().getBlocks().splice(entry.getBody().end(),
                                       callee.getBody().getBlocks());
    LLVM::BrOp::create(eb, call.getLoc(), args, calleeEntry);
    // The unpacking no argument needs any more.
    for (Operation &op :
         llvm::make_early_inc_range(llvm::reverse(entry.getBody().front())))
      if (isOpTriviallyDead(&op))
        op.erase();
    iface.erase();
    callee.erase();
    return success();
  }

  /// A field of a memref descriptor: where the C interface function's
  /// `call` operand comes from when it is `extractvalue (load %argI)[pos]`.
  struct DescriptorField {
    unsigned argument;
    LLVM::LLVMStructType descriptor;
    ArrayRef<int64_t> position;
  };
  static std::optional<DescriptorField> fieldOf(Value operand) {
    auto extract = operand.getDefiningOp<LLVM::ExtractValueOp>();
    if (!extract)
      return std::nullopt;
    auto load = extract.getContainer().getDefiningOp<LLVM::LoadOp>();
    if (!load || load.getVolatile_() ||
        load.getOrdering() != LLVM::AtomicOrdering::not_atomic)
      return std::nullopt;
    auto arg = dyn_cast<BlockArgument>(load.getAddr());
    auto type = dyn_cast<LLVM::LLVMStructType>(load.getType());
    if (!arg || !type)
      return std::nullopt;
    return DescriptorField{arg.getArgNumber(), type, extract.getPosition()};
  }

  /// A load; with `invariant`, one LLVM may hoist out of loops and merge
  /// with its equals (`!invariant.load`): the argv array and the
  /// descriptors hold the same values throughout an entry point's run.
  /// Loaded anew at a use inside a loop, where a store may alias them for
  /// all LLVM knows, a weight's pointer would otherwise be reloaded at every
  /// iteration, and the loop would not vectorize.
  static Value load(OpBuilder &b, Location loc, Type type, Value address,
                    bool invariant) {
    return LLVM::LoadOp::create(b, loc, type, address, /*alignment=*/0,
                                /*isVolatile=*/false, /*isNonTemporal=*/false,
                                invariant);
  }

  /// Descriptor pointer i, from argv[i].
  static Value loadDescriptorPointer(OpBuilder &b, Location loc, Value argv,
                                     unsigned i, bool invariant) {
    auto ptrType = LLVM::LLVMPointerType::get(b.getContext());
    Value slot =
        LLVM::GEPOp::create(b, loc, ptrType, ptrType, argv,
                            ArrayRef<LLVM::GEPArg>{static_cast<int32_t>(i)});
    return load(b, loc, ptrType, slot, invariant);
  }

  /// Replaces each use of `callee`'s arguments that `call` passes a
  /// descriptor field with a load of that field from `argv`, just before
  /// the use, and drops the argument; returns which of `call`'s operands
  /// those were. Unpacked up front, every field of every weight would be
  /// live across the whole body: at DeepSeek-V3's size thousands of values
  /// spilled around 61 layer calls, which made the entry points the larger
  /// part of the host objects' code generation time (its register
  /// allocation and stack slot coloring grow with them). The descriptors are
  /// the runtime's, which the body never writes, so a load anywhere reads what
  /// the wrapper's did.
  llvm::BitVector loadFieldsAtUses(LLVM::CallOp call, LLVM::LLVMFuncOp callee,
                                   Value argv) {
    // The body rebuilds each descriptor from its fields (insertvalue) and
    // takes them apart again where it passes them on (extractvalue): fold
    // the pairs, so that the fields' users are the ops that need them.
    GreedyRewriteConfig config;
    config.setRegionSimplificationLevel(GreedySimplifyRegionLevel::Disabled);
    (void)applyPatternsGreedily(callee.getBody(), FrozenRewritePatternSet(),
                                config);
    auto ptrType = LLVM::LLVMPointerType::get(&getContext());
    Block &body = callee.getBody().front();
    llvm::BitVector loaded(body.getNumArguments());
    // One load of a descriptor's pointer for all its fields an op uses.
    llvm::DenseMap<std::pair<Operation *, unsigned>, Value> descriptors;
    for (auto [i, operand] : llvm::enumerate(call.getArgOperands())) {
      std::optional<DescriptorField> field = fieldOf(operand);
      if (!field)
        continue;
      BlockArgument arg = body.getArgument(i);
      for (OpOperand &use : llvm::make_early_inc_range(arg.getUses())) {
        OpBuilder b(use.getOwner());
        Location loc = use.getOwner()->getLoc();
        Value &descriptor = descriptors[{use.getOwner(), field->argument}];
        if (!descriptor)
          descriptor = loadDescriptorPointer(b, loc, argv, field->argument,
                                             /*invariant=*/true);
        SmallVector<LLVM::GEPArg> indices = {0};
        for (int64_t p : field->position)
          indices.push_back(static_cast<int32_t>(p));
        Value address = LLVM::GEPOp::create(b, loc, ptrType, field->descriptor,
                                            descriptor, indices);
        use.set(load(b, loc, arg.getType(), address, /*invariant=*/true));
      }
      loaded.set(i);
    }
    body.eraseArguments(loaded);
    return loaded;
  }
};
} // namespace
