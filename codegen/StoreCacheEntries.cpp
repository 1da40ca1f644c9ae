//===- StoreCacheEntries.cpp - Decode writes its new cache entries --------===//
//
// dsc-kv-cache marks `@decode` `dsc.stores_cache_entries`: the call stores
// the cache entries of its new tokens into `kv_cache` itself, where the
// runtime used to copy the returned latents in. After bufferization the
// cache is an argument buffer like any other, and this pass appends the
// store: one parallel loop over [layers, batch, new tokens, width] that
// puts latents[l, b, s] at page block_table[b, (past[b] + s) / page], row
// (past[b] + s) % page. On a GPU the loop is one more kernel of the step
// (so a CUDA graph of the step holds it, and no entry goes through the
// host); entries whose table slot or page is out of range are skipped, so
// the padding rows a bucketed step adds (page -1) write nothing.
//
//===----------------------------------------------------------------------===//

#include "codegen/KvCacheIndexing.h"
#include "codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

#define DEBUG_TYPE "dsc-store-cache-entries"

namespace mlir::dsc {
#define GEN_PASS_DEF_DSCSTORECACHEENTRIES
#include "codegen/Passes.h.inc"
} // namespace mlir::dsc

using namespace mlir;
using namespace mlir::dsc;

namespace {

/// f32 to bf16 rounded to nearest even, NaN kept quiet: the runtime's
/// st::f32ToBf16 in integer arithmetic (arith.truncf to bf16 becomes a
/// libgcc call the host object cannot link).
Value roundToBf16(OpBuilder &b, Location loc, Value f) {
  Type i32 = b.getI32Type();
  auto c = [&](uint32_t v) {
    return arith::ConstantIntOp::create(b, loc, i32, v).getResult();
  };
  Value bits = arith::BitcastOp::create(b, loc, i32, f);
  Value magnitude = arith::AndIOp::create(b, loc, bits, c(0x7fffffffu));
  Value isNan = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ugt,
                                      magnitude, c(0x7f800000u));
  Value high = arith::ShRUIOp::create(b, loc, bits, c(16));
  Value quiet = arith::OrIOp::create(b, loc, high, c(0x40));
  Value odd = arith::AndIOp::create(b, loc, high, c(1));
  Value rounded = arith::ShRUIOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, bits,
                            arith::AddIOp::create(b, loc, c(0x7fff), odd)),
      c(16));
  Value word = arith::SelectOp::create(b, loc, isNan, quiet, rounded);
  Value half = arith::TruncIOp::create(b, loc, b.getI16Type(), word);
  return arith::BitcastOp::create(b, loc, b.getBF16Type(), half);
}

struct DscStoreCacheEntriesPass
    : mlir::dsc::impl::DscStoreCacheEntriesBase<DscStoreCacheEntriesPass> {
  void runOnOperation() override {
    func::FuncOp fn = getOperation();
    if (!fn->hasAttr("dsc.stores_cache_entries") || fn.isExternal())
      return;
    Value past, table, cache;
    SmallVector<Value> outputs;
    for (BlockArgument arg : fn.getArguments()) {
      if (fn.getArgAttr(arg.getArgNumber(), "dsc.output"))
        outputs.push_back(arg);
      auto name =
          fn.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "dsc.input");
      if (!name)
        continue;
      if (name == "past")
        past = arg;
      else if (name == "block_table")
        table = arg;
      else if (name == "kv_cache")
        cache = arg;
    }
    // The latents are the second output (dsc-kv-cache's contract).
    auto memref = [](Value v, unsigned rank) {
      auto type = v ? dyn_cast<MemRefType>(v.getType()) : MemRefType();
      return type && type.getRank() == rank ? type : MemRefType();
    };
    MemRefType cacheType = memref(cache, 4);
    if (!memref(past, 1) || !memref(table, 2) || !cacheType ||
        !(cacheType.getElementType().isF32() ||
          cacheType.getElementType().isBF16()) ||
        outputs.size() != 2 || !memref(outputs[1], 4) ||
        cacheType.isDynamicDim(2)) {
      fn.emitOpError("is marked dsc.stores_cache_entries but lacks buffers "
                     "past, block_table, kv_cache [layers, pages, page, "
                     "width] of f32 or bf16 and a second output, the "
                     "latents");
      return signalPassFailure();
    }
    Value latents = outputs[1];
    auto latentsType = cast<MemRefType>(latents.getType());
    int64_t pageSize = cacheType.getDimSize(2);
    Type element = cacheType.getElementType();
    if (!latentsType.getElementType().isF32() ||
        latentsType.getDimSize(0) != cacheType.getDimSize(0) ||
        latentsType.getDimSize(3) != cacheType.getDimSize(3)) {
      fn.emitOpError("is marked dsc.stores_cache_entries but its latents ")
          << latentsType << " are not f32 with the layers and width of "
          << "kv_cache " << cacheType;
      return signalPassFailure();
    }
    // Once: the store is appended, the mark consumed.
    fn->removeAttr("dsc.stores_cache_entries");

    fn.walk([&](func::ReturnOp ret) {
      OpBuilder b(ret);
      Location loc = ret.getLoc();
      auto index = [&](int64_t v) {
        return arith::ConstantIndexOp::create(b, loc, v).getResult();
      };
      Value zero = index(0), one = index(1);
      SmallVector<Value> dims;
      for (unsigned d = 0; d < 4; ++d)
        dims.push_back(memref::DimOp::create(b, loc, latents, d));
      Value pages = memref::DimOp::create(b, loc, cache, 1);
      Value width = memref::DimOp::create(b, loc, table, 1);
      // Loops (entry, column), entry = (layer, sequence, token) flattened:
      // on a GPU the entries map to blocks and the columns to threads.
      Value perLayer = arith::MulIOp::create(b, loc, dims[1], dims[2]);
      Value entries = arith::MulIOp::create(b, loc, dims[0], perLayer);
      scf::ParallelOp::create(
          b, loc, SmallVector<Value>(2, zero), ValueRange{entries, dims[3]},
          SmallVector<Value>(2, one),
          [&](OpBuilder &nb, Location l, ValueRange ivs) {
            Value entry = ivs[0], col = ivs[1];
            auto toIndex = [&](Value v) {
              return arith::IndexCastOp::create(nb, l, nb.getIndexType(), v)
                  .getResult();
            };
            Value layer = arith::DivUIOp::create(nb, l, entry, perLayer);
            Value inLayer = arith::RemUIOp::create(nb, l, entry, perLayer);
            Value seq = arith::DivUIOp::create(nb, l, inLayer, dims[2]);
            Value token = arith::RemUIOp::create(nb, l, inLayer, dims[2]);
            Value seen = toIndex(memref::LoadOp::create(nb, l, past, seq));
            Value position = arith::AddIOp::create(nb, l, seen, token);
            auto [page, row, ok] = cachePosition(nb, l, table, width, seq,
                                                 position, pageSize, pages);
            scf::IfOp::create(nb, l, ok, [&](OpBuilder &tb, Location tl) {
              Value value = memref::LoadOp::create(
                  tb, tl, latents, ValueRange{layer, seq, token, col});
              if (element.isBF16())
                value = roundToBf16(tb, tl, value);
              memref::StoreOp::create(tb, tl, value, cache,
                                      ValueRange{layer, page, row, col});
              scf::YieldOp::create(tb, tl);
            });
          });
    });
  }
};

} // namespace
