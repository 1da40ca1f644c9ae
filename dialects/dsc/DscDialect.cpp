//===- DscDialect.cpp - The dsc dialect -----------------------------------===//

#include "dialects/dsc/DscDialect.h"
#include "dialects/dsc/DscOps.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/APFloat.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/TypeSwitch.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

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
  attachLibraryOpModels(*getContext());
}

FailureOr<APFloat> mlir::dsc::parseF64(AsmParser &parser) {
  double value;
  if (parser.parseFloat(value))
    return failure();
  return APFloat(value);
}

void mlir::dsc::printF64(AsmPrinter &printer, const APFloat &value) {
  // The shortest decimal that reads back as the same double (40.0, 0.707).
  double v = value.convertToDouble();
  char text[32];
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 1e15) {
    std::snprintf(text, sizeof(text), "%.1f", v);
    printer << text;
    return;
  }
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, v);
    if (std::strtod(text, nullptr) == v)
      break;
  }
  StringRef str(text);
  printer << str;
  if (std::isfinite(v) && !str.contains('.') && !str.contains('e'))
    printer << ".0";
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
