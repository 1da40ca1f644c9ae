//===- DscOps.h - Operations of the dsc dialect -----------------*- C++ -*-===//

#ifndef DSC_DIALECTS_DSC_DSCOPS_H
#define DSC_DIALECTS_DSC_DSCOPS_H

#include "dialects/dsc/DscDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/Dialect/Bufferization/IR/BufferizableOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/DestinationStyleOpInterface.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "dialects/dsc/DscOps.h.inc"

namespace mlir::dsc {
/// Attaches the bufferization of the kernel library's ops
/// (dsc.paged_mla_decode, dsc.causal_mla_prefill, dsc.noaux_tc_route,
/// dsc.rms_norm_rows, dsc.add_rms_norm_rows), an external model they share;
/// DscDialect::initialize calls it.
void attachLibraryOpModels(MLIRContext &context);

/// Whether `op` is one of the kernel library's ops (those above): ops that
/// dsc-library-gemms replaces with launches, and that state their memory
/// effects on their operands.
bool isLibraryOp(Operation *op);
} // namespace mlir::dsc

#endif // DSC_DIALECTS_DSC_DSCOPS_H
