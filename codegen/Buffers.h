//===- Buffers.h - What a memref value views --------------------*- C++ -*-===//
//
// What the codegen passes need to know about buffers after bufferization:
// which buffer a view reads, whether a buffer can be reached through
// anything but its own views, and whether two memrefs may share memory.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_CODEGEN_BUFFERS_H
#define DSC_CODEGEN_BUFFERS_H

#include "mlir/IR/Value.h"

namespace mlir::dsc {

/// The buffer `value` is a view of: through subviews, reshapes, casts (any
/// ViewLikeOpInterface) and the base buffer of extract_strided_metadata.
Value rootBuffer(Value value);

/// Whether `buffer` (or a view of it) may be reached through anything but
/// itself and its views: every use must be one that reads or writes its
/// elements and makes no other handle of it (a load or store into it, a
/// linalg or copy operand, a dim, a dealloc, a kernel launch operand, a
/// kernel library op's operand). Anything else (a yield, select, call,
/// loop, cast to a pointer or an LLVM struct, a store of the buffer itself)
/// counts as an escape.
bool escapes(Value buffer);

/// Whether the memrefs `a` and `b` may share memory: not when they view
/// distinct buffers of which one is an allocation of this function that no
/// other value can hold (it does not escape).
bool mayAlias(Value a, Value b);

} // namespace mlir::dsc

#endif // DSC_CODEGEN_BUFFERS_H
