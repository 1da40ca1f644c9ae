//===- KvCacheIndexing.h - A token's place in the paged cache --*- C++ -*-===//
//
// Code that stores a token's KV cache entry (dsc-store-cache-entries at the
// end of a decode step, dsc-library-gemms before the library's attention)
// finds its place the same way: position p of a sequence is row p % page of
// page block_table[seq, p / page], and an entry whose table slot or page is
// out of range is skipped (the padding rows of a bucketed step have pages
// of -1).
//
//===----------------------------------------------------------------------===//

#ifndef DSC_CODEGEN_KVCACHEINDEXING_H
#define DSC_CODEGEN_KVCACHEINDEXING_H

#include "mlir/IR/Builders.h"

namespace mlir::dsc {

/// Where position `position` of the sequence whose pages are row `seq` of
/// `table` (a [sequences, `slots`] buffer of integer page numbers) lies in
/// a cache of `pages` pages of `pageSize` tokens: its page and row, and
/// whether it is in the cache (`inCache`; page and row are meaningless
/// otherwise). `valid`, when given, must hold too (the table is read at
/// slot 0 when it does not, so the load stays in bounds).
struct CachePosition {
  Value page, row, inCache;
};
CachePosition cachePosition(OpBuilder &b, Location loc, Value table,
                            Value slots, Value seq, Value position,
                            int64_t pageSize, Value pages, Value valid = {});

} // namespace mlir::dsc

#endif // DSC_CODEGEN_KVCACHEINDEXING_H
