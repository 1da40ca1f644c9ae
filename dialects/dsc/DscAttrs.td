//===- DscAttrs.td - Attributes of the dsc dialect ---------*- tablegen -*-===//

#ifndef DSC_ATTRS_TD
#define DSC_ATTRS_TD

include "dialects/dsc/DscDialect.td"

//===----------------------------------------------------------------------===//
// Router enums
//===----------------------------------------------------------------------===//

def Dsc_ScoringFunc : I32EnumAttr<"ScoringFunc",
    "how router logits become expert scores", [
      I32EnumAttrCase<"Sigmoid", 0, "sigmoid">,
      I32EnumAttrCase<"Softmax", 1, "softmax">
    ]> {
  let cppNamespace = "::mlir::dsc";
  let genSpecializedAttr = 0;
}
def Dsc_ScoringFuncAttr : EnumAttr<Dsc_Dialect, Dsc_ScoringFunc, "scoring">;

def Dsc_TopkMethod : I32EnumAttr<"TopkMethod",
    "how the router picks experts", [
      // Plain top-k over all experts (DeepSeek-V2-Lite).
      I32EnumAttrCase<"Greedy", 0, "greedy">,
      // Group limit, group score = max expert score (DeepSeek-V2).
      I32EnumAttrCase<"GroupLimitedGreedy", 1, "group_limited_greedy">,
      // Group limit, group score = sum of the top-2 biased scores (V3).
      I32EnumAttrCase<"NoauxTc", 2, "noaux_tc">
    ]> {
  let cppNamespace = "::mlir::dsc";
  let genSpecializedAttr = 0;
}
def Dsc_TopkMethodAttr : EnumAttr<Dsc_Dialect, Dsc_TopkMethod, "topk_method">;

def Dsc_MlaForm : I32EnumAttr<"MlaForm",
    "how multi-head latent attention is computed", [
      // Decompress per-head keys and values from the latent, then plain
      // attention: cheaper when queries and keys are the same sequence.
      I32EnumAttrCase<"Naive", 0, "naive">,
      // Absorb W_UK into the query and W_UV into the output: attention on
      // the latent itself, the form decode over a latent cache runs.
      I32EnumAttrCase<"Absorbed", 1, "absorbed">
    ]> {
  let cppNamespace = "::mlir::dsc";
  let genSpecializedAttr = 0;
}
def Dsc_MlaFormAttr : EnumAttr<Dsc_Dialect, Dsc_MlaForm, "mla_form">;

//===----------------------------------------------------------------------===//
// YaRN
//===----------------------------------------------------------------------===//

/// A double printed in its shortest round-tripping form (40.0, 0.707).
class Dsc_F64Parameter<string desc>
    : AttrOrTypeParameter<"::llvm::APFloat", desc> {
  let comparator = "$_lhs.bitwiseIsEqual($_rhs)";
  let parser = [{ ::mlir::dsc::parseF64($_parser) }];
  let printer = [{ ::mlir::dsc::printF64($_printer, $_self) }];
}

def Dsc_YarnAttr : AttrDef<Dsc_Dialect, "Yarn"> {
  let mnemonic = "yarn";
  let summary = "YaRN context-extension parameters of a rotary embedding";
  let description = [{
    The `rope_scaling` block of a DeepSeek `config.json` with `type: yarn`.
    Frequencies between the correction dimensions of `beta_fast` and
    `beta_slow` are interpolated by `factor`; cos and sin are multiplied by
    `mscale(factor, mscale) / mscale(factor, mscale_all_dim)` where
    `mscale(s, m) = 0.1 * m * ln(s) + 1` (1 when s <= 1).

    Example: `#dsc.yarn<factor = 40.0, original_max_position = 4096,
    beta_fast = 32.0, beta_slow = 1.0, mscale = 1.0, mscale_all_dim = 1.0>`
  }];
  let parameters = (ins Dsc_F64Parameter<"scaling factor">:$factor,
                        "int64_t":$original_max_position,
                        Dsc_F64Parameter<"fast correction boundary">:$beta_fast,
                        Dsc_F64Parameter<"slow correction boundary">:$beta_slow,
                        Dsc_F64Parameter<"cos/sin magnitude scale">:$mscale,
                        Dsc_F64Parameter<"softmax scale mscale">:$mscale_all_dim);
  let assemblyFormat = [{
    `<` `factor` `=` $factor `,` `original_max_position` `=`
    $original_max_position `,` `beta_fast` `=` $beta_fast `,` `beta_slow` `=`
    $beta_slow `,` `mscale` `=` $mscale `,` `mscale_all_dim` `=`
    $mscale_all_dim `>`
  }];
  let genVerifyDecl = 1;
  let extraClassDeclaration = [{
    /// YaRN's attention scaling: mscale(s, m) = 0.1 * m * ln(s) + 1.
    static double getMscale(double scale, double m);
    /// The cos/sin magnitude factor, mscale(factor, mscale) /
    /// mscale(factor, mscale_all_dim).
    double getAttentionFactor() const;
    /// The factor the softmax scale is multiplied by: mscale(factor,
    /// mscale_all_dim)^2.
    double getSoftmaxScaleFactor() const;
  }];
}

#endif // DSC_ATTRS_TD
