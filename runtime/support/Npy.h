//===- Npy.h - NumPy .npy files, read and written ---------------*- C++ -*-===//
//
// The array files runners exchange (`dsc-run --input=@tokens.npy
// --output=@logits.npy`): format versions 1.0 to 3.0, little-endian,
// C order. Reading treats the file as untrusted: the magic, the header
// dict's three keys and nothing else, a known dtype, a shape whose byte
// count matches the data exactly; one-line errors name the file.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_NPY_H
#define DSC_RUNTIME_SUPPORT_NPY_H

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsc::npy {

/// An array: its NumPy dtype ("<i8", "<i4", "<f4", "<f8", "|u1", "|b1"),
/// shape and bytes.
struct Array {
  std::string dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> data;

  int64_t elements() const;
};

/// Bytes per element of a dtype this reader knows; 0 otherwise.
int64_t dtypeSize(std::string_view dtype);

/// Parses the bytes of a .npy file; `origin` names it in errors.
absl::StatusOr<Array> parse(std::string_view bytes, const std::string &origin);
/// Reads and parses the file at `path`.
absl::StatusOr<Array> read(const std::string &path);
/// Writes `data` (C order, little-endian) as a version 1.0 .npy file.
absl::Status write(const std::string &path, std::string_view dtype,
                   const std::vector<int64_t> &shape, const void *data,
                   size_t bytes);

} // namespace dsc::npy

#endif // DSC_RUNTIME_SUPPORT_NPY_H
