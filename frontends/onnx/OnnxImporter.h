//===- OnnxImporter.h - ONNX graphs to the canonical dsc graph --*- C++ -*-===//
//
// The second half of the ONNX frontend: converts a validated OnnxModel into
// the canonical graph the HF importer also produces, `@forward(tokens) ->
// logits`, with every float initializer a `dsc.weight` (named as in the
// file; dsc-compile embeds them in the artifact) and every node spelled as
// linalg on tensors with dynamic batch and sequence sizes.
//
// Shape arithmetic is evaluated while importing: the small int64 vectors an
// exporter computes from `Shape` (Shape -> Gather -> Unsqueeze -> Concat ->
// Reshape, Range bounds, Expand targets) are tracked element by element,
// each a constant or an `index` value, so a reshape to `[batch, seq, 4,
// 16]` becomes an expand_shape with static sizes wherever they are known,
// and no shape tensor is computed at run time.
//
// Ops without a linalg counterpart (TopK, GatherElements, GatherND,
// ScatterElements, ScatterND, CumSum) are written as parallel generics;
// Einsum is one generic; an If whose condition folds at import time is
// replaced by its taken branch (one decided at run time is an error naming
// the node).
//
//===----------------------------------------------------------------------===//

#ifndef DSC_FRONTENDS_ONNX_ONNXIMPORTER_H
#define DSC_FRONTENDS_ONNX_ONNXIMPORTER_H

#include "frontends/onnx/OnnxModel.h"

#include "absl/status/statusor.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace dsc::onnx_frontend {

/// Converts `model` (read from `path`, which errors name). The graph must
/// take one int64 input [batch, seq] (token ids) and give one float output
/// [batch, seq, vocab] (logits): the signature the runtime runs.
absl::StatusOr<mlir::OwningOpRef<mlir::ModuleOp>>
importOnnx(mlir::MLIRContext &context, const OnnxModel &model,
           const std::string &path);

/// An initializer converted to f32 (from f32, f16, bf16 or f64), `out`
/// holding its element count; how dsc-compile embeds the weights.
void initializerToF32(const OnnxInitializer &init, float *out);

} // namespace dsc::onnx_frontend

#endif // DSC_FRONTENDS_ONNX_ONNXIMPORTER_H
