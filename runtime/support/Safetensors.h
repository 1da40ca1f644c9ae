//===- Safetensors.h - Safetensors files and checkpoints --------*- C++ -*-===//
//
// Reads Hugging Face safetensors files (8-byte little-endian header length,
// JSON header {name: {dtype, shape, data_offsets}} with optional
// `__metadata__`, then raw little-endian tensor data) by mapping them
// read-only, so a multi-gigabyte shard costs no copy and no allocation
// proportional to its size. Opening validates the whole header before any
// tensor is exposed: after File::open succeeds, every TensorInfo's bytes lie
// inside the mapping and agree with its dtype and shape.
//
// Checkpoint groups the files of one model directory (sharded through
// `model.safetensors.index.json` or not). The conversion helpers turn stored
// tensors, including DeepSeek's block-scaled FP8 weights, into fp32.
//
// Errors are absl::Status values whose message is one line naming the file
// and the offending tensor or key; nothing here throws or aborts on bad input.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_SAFETENSORS_H
#define DSC_RUNTIME_SUPPORT_SAFETENSORS_H

#include "runtime/support/MappedFile.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dsc::st {

/// Element types of the safetensors format; the names match the header's
/// `dtype` strings. F8_E4M3 is the "fn" variant (no infinities).
enum class DType {
  F64,
  F32,
  F16,
  BF16,
  F8_E4M3,
  F8_E5M2,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL
};

/// The header spelling of `dtype`, e.g. "BF16".
std::string_view dtypeName(DType dtype);
/// Bytes per element of `dtype`.
uint64_t dtypeSize(DType dtype);
/// The dtype spelled `name` in a header, or std::nullopt when unknown.
std::optional<DType> parseDType(std::string_view name);

/// One tensor of a safetensors file. `data` points into the file's read-only
/// mapping and lives as long as the File; it has no alignment guarantee.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const uint8_t *data = nullptr;
  uint64_t numBytes = 0;
  /// Path of the file holding the tensor, for error messages.
  std::string file;
  /// Where `data` starts in that file (for mapping its pages elsewhere).
  uint64_t fileOffset = 0;

  /// Product of the shape (1 for a scalar), or -1 when a dimension is
  /// negative or the product overflows int64_t (never for tensors from
  /// File::open, which validates both).
  int64_t numElements() const;
};

/// `__metadata__` of a header: string keys and values, in header order.
using Metadata = std::vector<std::pair<std::string, std::string>>;

/// One safetensors file, mapped read-only for the lifetime of the object.
class File {
public:
  /// Maps and validates `path`: the header length fits the file, the header
  /// is a JSON object, `__metadata__` (if present) maps strings to strings,
  /// and every tensor has a known dtype, a shape of non-negative integers and
  /// `data_offsets` [begin, end] inside the data section whose length matches
  /// dtype and shape, with no two tensors' bytes overlapping.
  static absl::StatusOr<std::unique_ptr<File>> open(const std::string &path);

  ~File() = default;
  File(const File &) = delete;
  File &operator=(const File &) = delete;

  /// The tensor called `name`, or nullptr.
  const TensorInfo *find(std::string_view name) const;
  /// All tensors, in header order.
  const std::vector<TensorInfo> &tensors() const { return tensorList; }
  /// The `__metadata__` entries (empty when the header has none).
  const Metadata &metadata() const { return metadataEntries; }
  /// The path the file was opened with.
  const std::string &path() const { return filePath; }
  /// The file's device and inode numbers (MappedFile::identity).
  std::pair<uint64_t, uint64_t> identity() const { return mapped.identity(); }
  /// Drops the pages read so far from the process's resident set
  /// (MappedFile::dropResidentPages); tensors stay readable.
  void dropResidentPages() const { mapped.dropResidentPages(); }

private:
  explicit File(std::string path) : filePath(std::move(path)) {}
  absl::Status parseHeader();

  std::string filePath;
  MappedFile mapped;
  std::vector<TensorInfo> tensorList;
  /// Indices into tensorList sorted by name, for find().
  std::vector<size_t> sortedByName;
  Metadata metadataEntries;
};

/// The safetensors files of one model directory, seen as one set of tensors.
class Checkpoint {
public:
  /// Opens the checkpoint in `dir`. With `model.safetensors.index.json`, the
  /// shards named by its `weight_map` are opened (each once) and every mapped
  /// tensor must be in its shard; otherwise `model.safetensors`; otherwise
  /// every `*.safetensors` file of the directory. A tensor name found in two
  /// files is an error. Tensors of a shard that the index does not list are
  /// still part of the checkpoint.
  static absl::StatusOr<std::unique_ptr<Checkpoint>>
  open(const std::string &dir);

  /// The tensor called `name` in any of the files, or nullptr.
  const TensorInfo *find(std::string_view name) const;
  /// All tensor names, sorted.
  const std::vector<std::string> &names() const { return sortedNames; }
  /// The opened files, sorted by file name.
  const std::vector<std::unique_ptr<File>> &files() const { return fileList; }
  /// The directory the checkpoint was opened from.
  const std::string &directory() const { return dirPath; }

private:
  explicit Checkpoint(std::string dir) : dirPath(std::move(dir)) {}
  absl::Status indexTensors();

  std::string dirPath;
  std::vector<std::unique_ptr<File>> fileList;
  std::vector<std::string> sortedNames;
  /// Parallel to sortedNames.
  std::vector<const TensorInfo *> sortedTensors;
};

//===----------------------------------------------------------------------===//
// Conversion to fp32
//===----------------------------------------------------------------------===//

/// bfloat16 bits to float (exact: bf16 is the top half of an fp32).
inline float bf16ToF32(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float f;
  std::memcpy(&f, &wide, sizeof(f));
  return f;
}

/// float to the nearest bfloat16 (ties to even); a NaN stays a (quiet)
/// NaN, and values past bf16's largest finite one round to infinity.
inline uint16_t f32ToBf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

/// `count` floats at `f32` (any alignment) to the nearest bfloat16 each.
inline void narrowToBf16(const void *f32, size_t count, uint16_t *out) {
  const char *from = static_cast<const char *>(f32);
  for (size_t i = 0; i < count; ++i) {
    float f;
    std::memcpy(&f, from + i * sizeof(float), sizeof(f));
    out[i] = f32ToBf16(f);
  }
}

/// IEEE binary16 bits to float (exact, including subnormals, infinities and
/// NaNs).
inline float f16ToF32(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1F;
  uint32_t mantissa = bits & 0x3FF;
  if (exponent == 0) {
    // Subnormal or zero: mantissa * 2^-24, exact in fp32.
    float magnitude = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    return sign ? -magnitude : magnitude;
  }
  uint32_t wide = exponent == 0x1F
                      ? sign | 0x7F800000 | (mantissa << 13)
                      : sign | ((exponent + 112) << 23) | (mantissa << 13);
  float f;
  std::memcpy(&f, &wide, sizeof(f));
  return f;
}

/// float8 e4m3fn bits to float: bias 7, no infinities, S.1111.111 is NaN,
/// largest finite value 448, subnormals m * 2^-9.
inline float f8e4m3ToF32(uint8_t bits) {
  bool negative = bits & 0x80;
  uint32_t exponent = (bits >> 3) & 0xF;
  uint32_t mantissa = bits & 0x7;
  float magnitude;
  if (exponent == 0xF && mantissa == 0x7) {
    magnitude = std::numeric_limits<float>::quiet_NaN();
  } else if (exponent == 0) {
    magnitude = static_cast<float>(mantissa) * (1.0f / 512.0f);
  } else {
    uint32_t wide = ((exponent + 120) << 23) | (mantissa << 20);
    std::memcpy(&magnitude, &wide, sizeof(magnitude));
  }
  return negative ? -magnitude : magnitude;
}

/// float8 e5m2 bits to float: the top byte of a binary16.
inline float f8e5m2ToF32(uint8_t bits) {
  return f16ToF32(static_cast<uint16_t>(bits) << 8);
}

/// Converts tensor `t` (F64, F32, F16, BF16, F8_E4M3 or F8_E5M2) to fp32 in
/// `out`, which must hold t.numElements() floats. F64 values are rounded to
/// nearest. Other dtypes, and a TensorInfo whose numBytes disagrees with its
/// shape, are an InvalidArgumentError.
absl::Status convertToF32(const TensorInfo &t, float *out);

/// Dequantizes DeepSeek's block-scaled FP8 weight: `w` is F8_E4M3 of shape
/// [rows, cols], `scaleInv` is F32 of shape [ceil(rows / blockRows),
/// ceil(cols / blockCols)], and out[i][j] = w[i][j] * scaleInv[i / blockRows]
/// [j / blockCols]. `out` must hold rows * cols floats. Shapes that are not a
/// multiple of the block are allowed (the last blocks are partial).
absl::Status dequantizeBlockFP8(const TensorInfo &w, const TensorInfo &scaleInv,
                                int64_t blockRows, int64_t blockCols,
                                float *out);

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

/// One tensor to write: its raw little-endian bytes, which must be exactly
/// product(shape) * dtypeSize(dtype) long.
struct WriteTensor {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

/// Writes a safetensors file holding `tensors` in the given order (data
/// packed in that order) and `metadata` as `__metadata__` when non-empty. The
/// header is padded with spaces to a multiple of 8 bytes, as the reference
/// implementation does, so that data offsets stay aligned.
absl::Status writeFile(const std::string &path,
                       const std::vector<WriteTensor> &tensors,
                       const Metadata &metadata = {});

} // namespace dsc::st

#endif // DSC_RUNTIME_SUPPORT_SAFETENSORS_H
