//===- Passes.td - Codegen passes --------------------------*- tablegen -*-===//

#ifndef DSC_CODEGEN_PASSES_TD
#define DSC_CODEGEN_PASSES_TD

include "mlir/Pass/PassBase.td"

def DscLowerToLinalg : Pass<"dsc-lower-to-linalg"> {
  let summary = "Lower dsc ops to their reference linalg-on-tensors semantics";
  let description = [{
    Replaces every dsc op except `dsc.weight` with its decomposition into
    `linalg`, `tensor`, `scf`, `arith` and `math` on tensors: the reference
    semantics both the CPU and the GPU lowerings start from.

    Before: `%y = dsc.rms_norm %x, %w {epsilon = 1.0e-06 : f64} : ...`
    After: a sum-of-squares `linalg.generic` reduction and an elementwise
    `linalg.generic` computing `x * rsqrt(mean + eps) * w`.
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::linalg::LinalgDialect",
                           "::mlir::math::MathDialect",
                           "::mlir::scf::SCFDialect",
                           "::mlir::tensor::TensorDialect"];
}

def DscWeightsToArguments : Pass<"dsc-weights-to-arguments", "ModuleOp"> {
  let summary = "Turn dsc.weight ops into entry-point arguments";
  let description = [{
    Each public function's `dsc.weight` ops become trailing function
    arguments carrying `dsc.weight` (the parameter name) and, for stacked
    experts, `dsc.stack` argument attributes. The runtime binds them from
    the checkpoint in that order. Identical weights are passed once. Public
    functions are marked `llvm.emit_c_interface`: they are the entry points.

    Before: `%w = dsc.weight "model.norm.weight" : tensor<64xf32>`
    After: `func.func @forward(%tokens: ..., %arg1: tensor<64xf32>
    {dsc.weight = "model.norm.weight"})`
  }];
  let statistics = [
    Statistic<"numWeights", "weights", "Number of weight arguments created">
  ];
}

def DscPackEntryPoints : Pass<"dsc-pack-entry-points", "ModuleOp"> {
  let summary = "Add a packed-argument wrapper for each C-interface function";
  let description = [{
    For each LLVM function `_mlir_ciface_NAME` taking pointers to memref
    descriptors, adds `dsc_entry_NAME(ptr argv)` that loads the i-th pointer
    from `argv` and calls it: one fixed C signature the runtime can call for
    any entry point, however many weights it takes.
  }];
  let dependentDialects = ["::mlir::LLVM::LLVMDialect"];
}

#endif // DSC_CODEGEN_PASSES_TD
