//===- WeightBinder.h - Pack checkpoint tensors into parameters -*- C++ -*-===//
//
// A compiled entry point takes its weights as arguments ("params"). The
// manifest describes each one by the checkpoint tensor(s) it comes from, its
// element type and its shape; packParam turns checkpoint tensors into the
// exact bytes the compiled code reads. It is the one packing routine: the
// runtime uses it to bind weights at load time and dsc-compile uses it for
// --embed-weights, so both give the compiled code identical bytes.
//
// Packed layout: row-major, contiguous, little-endian; f32 params hold fp32
// values, f8e4m3 params the raw e4m3fn bytes (their scales are separate f32
// params). A stacked param (`stack` N, name containing "{}") is the N tensors
// named by replacing "{}" with 0..N-1, concatenated along a new leading
// dimension.
//
// Linked by both the compiler and the runtime: no LLVM or MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_WEIGHTBINDER_H
#define DSC_RUNTIME_WEIGHTBINDER_H

#include "runtime/support/Json.h"
#include "runtime/support/Safetensors.h"
#include "runtime/support/StitchedMapping.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsc::runtime {

/// Element types of entry-point arguments.
enum class ElementType { I64, F32, F8E4M3, BF16 };

/// The manifest spelling of `type`: "i64", "f32", "f8e4m3" or "bf16".
const char *elementTypeName(ElementType type);
/// The type spelled `name` in a manifest, or std::nullopt.
std::optional<ElementType> parseElementType(std::string_view name);
/// Bytes per element of `type`.
size_t elementSize(ElementType type);

/// One runtime parameter of an entry point.
struct ParamSpec {
  /// The checkpoint tensor's name; for a stacked param it contains "{}",
  /// which stands for the index along the stacked dimension.
  std::string name;
  /// F32 or F8E4M3 as the manifest says; BF16 where a target takes an f32
  /// param as bf16 (Target::bf16Params).
  ElementType dtype = ElementType::F32;
  /// The packed shape, static; for a stacked param shape[0] == stack.
  std::vector<int64_t> shape;
  /// Number of stacked tensors, or 0 for a param made of one tensor.
  int64_t stack = 0;

  /// Reads a manifest argument object ({"name", "dtype", "shape", optional
  /// "stack"}; other keys are ignored) and checks it: a known param dtype,
  /// a static shape whose byte size fits in memory, and "stack" consistent
  /// with the name and shape. Errors are one line naming the param.
  static absl::StatusOr<ParamSpec> fromJson(const json::Value &arg);

  /// Elements of the packed param.
  int64_t numElements() const;
  /// Bytes of the packed param.
  size_t numBytes() const;
  /// The checkpoint tensor for `index` along the stacked dimension (the
  /// name itself for an unstacked param).
  std::string tensorName(int64_t index) const;
  /// The shape of one checkpoint tensor of the param: the shape without
  /// the stacked dimension.
  std::vector<int64_t> sliceShape() const;
};

/// Packs `param` from `checkpoint` into `out`, which must hold
/// param.numBytes() bytes. f32 and bf16 params accept F32, BF16, F16 and F64
/// tensors (converted exactly or rounded to nearest even); f8e4m3 params accept
/// F8_E4M3 tensors only (copied). Each source tensor must exist and have the
/// param's shape (without the stacked dimension). Errors name the checkpoint
/// directory or file and the tensor.
absl::Status packParam(const st::Checkpoint &checkpoint, const ParamSpec &param,
                       void *out);

/// The tensors of `param`'s slices (each expert of a stack; the one tensor
/// of an unstacked param), in stack order, when `checkpoint` stores every
/// one in the param's own element type and shape, aligned to the element
/// size (the compiled code's loads assume no more); empty otherwise.
std::vector<const st::TensorInfo *>
storedSlices(const st::Checkpoint &checkpoint, const ParamSpec &param);

/// The first slice's bytes when `slices` (storedSlices) lie back to back
/// in stack order in one file, so that the compiled code can read the
/// param there as it is (packParam's bytes would be these bytes); null
/// otherwise.
const void *backToBack(const std::vector<const st::TensorInfo *> &slices);

/// backToBack(storedSlices(checkpoint, param)).
const void *storedAsPacked(const st::Checkpoint &checkpoint,
                           const ParamSpec &param);

/// A stack's slices stored as the code reads them (storedSlices) but apart,
/// in name order or among other tensors: the checkpoint's own pages mapped
/// back to back (StitchedMapping), so that it too is read in place, or
/// std::nullopt when they cannot or should not be (packParam then copies
/// them).
std::optional<StitchedMapping>
stitchSlices(const st::Checkpoint &checkpoint,
             const std::vector<const st::TensorInfo *> &slices);

/// Fills `out` (param.numBytes() bytes) with random values for `param`,
/// from `seed` and the param's name, for benchmarks of a model whose
/// weights are not at hand. By name, in any case: biases 0, norm weights 1,
/// FP8 block scales 2^-6; FP8 weights get codes of magnitude below 1, other
/// floats uniform values in [-0.03, 0.03] (a transformer's initial scale,
/// so that activations stay finite through many layers), integers 0. What
/// the model computes then means nothing.
void fillRandomParam(const ParamSpec &param, uint64_t seed, void *out);

} // namespace dsc::runtime

#endif // DSC_RUNTIME_WEIGHTBINDER_H
