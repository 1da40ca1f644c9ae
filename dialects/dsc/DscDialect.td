//===- DscDialect.td - The dsc dialect ---------------------*- tablegen -*-===//
//
// The `dsc` dialect: model-level operations of DeepSeek-architecture language
// models. Frontends produce it; fusion passes rewrite it; codegen lowers it.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_DIALECT_TD
#define DSC_DIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"
include "mlir/IR/EnumAttr.td"

def Dsc_Dialect : Dialect {
  let name = "dsc";
  let cppNamespace = "::mlir::dsc";
  let summary = "Model-level operations of DeepSeek-architecture models";
  let description = [{
    The `dsc` dialect holds the operations a DeepSeek-architecture model is
    made of, at the level its reference code is written: token embedding,
    RMSNorm, rotary position embedding with YaRN scaling, linear layers (with
    optional FP8 block scales), the mixture-of-experts router and SwiGLU.

    Every op has reference semantics given by its decomposition into upstream
    `linalg`, `tensor`, `arith` and `math` ops (the `dsc-lower-to-linalg`
    pass). Attention and the experts computation are plain tensor math in the
    canonical pre-fusion graph.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class Dsc_Op<string mnemonic, list<Trait> traits = []>
    : Op<Dsc_Dialect, mnemonic, traits>;

#endif // DSC_DIALECT_TD
