//===- KvCacheIndexing.cpp - Where a token's entry is in the paged cache --===//

#include "codegen/KvCacheIndexing.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"

using namespace mlir;

dsc::CachePosition dsc::cachePosition(OpBuilder &b, Location loc, Value table,
                                      Value slots, Value seq, Value position,
                                      int64_t pageSize, Value pages,
                                      Value valid) {
  auto c = [&](int64_t v) {
    return arith::ConstantIndexOp::create(b, loc, v).getResult();
  };
  auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) {
    return arith::CmpIOp::create(b, loc, p, x, y).getResult();
  };
  Value slot = arith::DivUIOp::create(b, loc, position, c(pageSize));
  Value row = arith::RemUIOp::create(b, loc, position, c(pageSize));
  Value inTable = cmp(arith::CmpIPredicate::slt, slot, slots);
  if (valid)
    inTable = arith::AndIOp::create(b, loc, valid, inTable);
  Value safeSlot = arith::SelectOp::create(b, loc, inTable, slot, c(0));
  Value page = arith::IndexCastOp::create(
      b, loc, b.getIndexType(),
      memref::LoadOp::create(b, loc, table, ValueRange{seq, safeSlot}));
  Value inCache = arith::AndIOp::create(
      b, loc, inTable,
      arith::AndIOp::create(b, loc, cmp(arith::CmpIPredicate::sge, page, c(0)),
                            cmp(arith::CmpIPredicate::slt, page, pages)));
  return {page, row, inCache};
}
