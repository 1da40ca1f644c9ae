//===- Errors.h - One-line errors about untrusted input ---------*- C++ -*-===//
//
// Shared by the readers of untrusted files (safetensors, artifacts,
// manifests) so that every error names the file and the offending item the
// same way and stays on one line.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_ERRORS_H
#define DSC_RUNTIME_SUPPORT_ERRORS_H

#include "absl/status/status.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsc {

/// Quotes a name taken from untrusted input so that error messages stay on
/// one line: control characters and backslashes become \xNN.
std::string quote(std::string_view name);

/// A shape as "[2, 3, 4]".
std::string formatShape(const std::vector<int64_t> &shape);

/// An error "path: what: strerror(error)" for a failed system call on `path`,
/// with a status code the caller can act on: NotFound for a missing file,
/// PermissionDenied, otherwise Unavailable.
absl::Status errnoError(int error, const std::string &path, const char *what);

/// Product of `shape` (1 for a scalar), or std::nullopt when a dimension is
/// negative or the product does not fit in int64_t.
std::optional<int64_t> checkedProduct(const std::vector<int64_t> &shape);

} // namespace dsc

#endif // DSC_RUNTIME_SUPPORT_ERRORS_H
