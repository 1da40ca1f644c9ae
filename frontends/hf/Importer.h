//===- Importer.h - Hugging Face checkpoint importer ------------*- C++ -*-===//
//
// Imports a DeepSeek-family Hugging Face checkpoint directory (config.json +
// safetensors) as the canonical pre-fusion graph: a public `@forward`
// function (token ids [batch, seq] -> logits [batch, seq, vocab]) calling
// one private function per decoder layer, with dsc ops for embeddings,
// norms, RoPE, linears, the router and SwiGLU, and plain linalg for
// attention and the experts.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_FRONTENDS_HF_IMPORTER_H
#define DSC_FRONTENDS_HF_IMPORTER_H

#include "frontends/hf/ModelConfig.h"

#include "absl/status/statusor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>

namespace dsc::hf {

struct ImportOptions {
  /// Import from config.json alone: weights are declared with the shapes and
  /// dtypes the config implies, and no tensor is read or checked.
  bool shapesOnly = false;
  /// How the graph computes attention: the naive formulation of
  /// transformers (kv_b_proj decompresses per-head keys and values), or the
  /// absorbed one of DeepSeek's reference inference code (`attn_impl =
  /// "absorb"`: queries times W_UK, scores on the latent, outputs times
  /// W_UV). dsc-fuse-mla finds both.
  bool absorbedAttention = false;
  /// Spell RMSNorm, SwiGLU, RoPE and the router out as linalg arithmetic
  /// (as a frontend that does not know DeepSeek would) instead of dsc ops;
  /// dsc-fuse-elementwise and dsc-fuse-moe recover them.
  bool decomposed = false;
};

/// Imports the checkpoint in `dir`. Errors name the file and the key or
/// tensor at fault.
absl::StatusOr<mlir::OwningOpRef<mlir::ModuleOp>>
importCheckpoint(mlir::MLIRContext &context, const std::string &dir,
                 const ImportOptions &options);

/// Dialects the imported graph uses (for tools that parse it back).
void registerImporterDialects(mlir::DialectRegistry &registry);

} // namespace dsc::hf

#endif // DSC_FRONTENDS_HF_IMPORTER_H
