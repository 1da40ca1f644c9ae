//===- DscDialect.h - The dsc dialect ---------------------------*- C++ -*-===//
//
// Declares the dsc dialect, its enums and its attributes.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_DIALECTS_DSC_DSCDIALECT_H
#define DSC_DIALECTS_DSC_DSCDIALECT_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/APFloat.h"

namespace mlir::dsc {
/// Parses a floating-point attribute parameter (`40.0`, `1`, `-0.5`).
FailureOr<llvm::APFloat> parseF64(AsmParser &parser);
/// Prints a double in the shortest form that parses back to the same value.
void printF64(AsmPrinter &printer, const llvm::APFloat &value);
} // namespace mlir::dsc

#include "dialects/dsc/DscDialect.h.inc"
#include "dialects/dsc/DscEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/dsc/DscAttrs.h.inc"

#endif // DSC_DIALECTS_DSC_DSCDIALECT_H
