//===- DscDialect.cpp - The dsc dialect -----------------------------------===//

#include "dialects/dsc/DscDialect.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>

using namespace mlir;
using namespace mlir::dsc;

#include "dialects/dsc/DscDialect.cpp.inc"
#include "dialects/dsc/DscEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "dialects/dsc/DscAttrs.cpp.inc"

void DscDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/dsc/DscOps.cpp.inc"
      >();
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/dsc/DscAttrs.cpp.inc"
      >();
}

FailureOr<APFloat> mlir::dsc::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return APFloat(value);
}

void mlir::dsc::printF64(AsmPrinter &printer, const APFloat &value) {
  // APFloat's shortest round-tripping form; keep a '.' so it reads as float.
  SmallString<32> text;
  value.toString(text, /*FormatPrecision=*/0, /*FormatMaxPadding=*/0);
  if (!StringRef(text).contains_insensitive('.') &&
      !StringRef(text).contains_insensitive('e') &&
      !StringRef(text).contains_insensitive("inf") &&
      !StringRef(text).contains_insensitive("nan"))
    text += ".0";
  printer << text;
}

//===----------------------------------------------------------------------===//
// YarnAttr
//===----------------------------------------------------------------------===//

double YarnAttr::getMscale(double scale, double m) {
  if (scale <= 1.0)
    return 1.0;
  return 0.1 * m * std::log(scale) + 1.0;
}

double YarnAttr::getAttentionFactor() const {
  double factor = getFactor().convertToDouble();
  return getMscale(factor, getMscale().convertToDouble()) /
         getMscale(factor, getMscaleAllDim().convertToDouble());
}

double YarnAttr::getSoftmaxScaleFactor() const {
  double m = getMscale(getFactor().convertToDouble(),
                       getMscaleAllDim().convertToDouble());
  return m * m;
}

LogicalResult YarnAttr::verify(function_ref<InFlightDiagnostic()> emitError,
                               APFloat factorAttr, int64_t originalMaxPosition,
                               APFloat betaFastAttr, APFloat betaSlowAttr,
                               APFloat mscaleAttr, APFloat mscaleAllDimAttr) {
  double factor = factorAttr.convertToDouble();
  double betaFast = betaFastAttr.convertToDouble();
  double betaSlow = betaSlowAttr.convertToDouble();
  double mscale = mscaleAttr.convertToDouble();
  double mscaleAllDim = mscaleAllDimAttr.convertToDouble();
  if (!(factor >= 1.0))
    return emitError() << "yarn factor must be >= 1, got " << factor;
  if (originalMaxPosition <= 0)
    return emitError() << "yarn original_max_position must be positive, got "
                       << originalMaxPosition;
  if (!(betaFast > 0.0) || !(betaSlow > 0.0))
    return emitError() << "yarn beta_fast and beta_slow must be positive";
  if (!std::isfinite(mscale) || !std::isfinite(mscaleAllDim))
    return emitError() << "yarn mscale and mscale_all_dim must be finite";
  return success();
}
