//===- Errors.cpp - Helpers for one-line errors about untrusted input -----===//

#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include <cerrno>
#include <system_error>

namespace dsc {

std::string quote(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  for (char c : name) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F || c == '\\') {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xF];
    } else {
      out += c;
    }
  }
  out += '\'';
  return out;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

absl::Status errnoError(int error, const std::string &path, const char *what) {
  std::string message = absl::StrCat(path, ": ", what, ": ",
                                     std::generic_category().message(error));
  switch (error) {
  case ENOENT:
  case ENOTDIR:
    return absl::NotFoundError(message);
  case EACCES:
  case EPERM:
    return absl::PermissionDeniedError(message);
  default:
    return absl::UnavailableError(message);
  }
}

std::optional<int64_t> checkedProduct(const std::vector<int64_t> &shape) {
  int64_t product = 1;
  for (int64_t dim : shape)
    if (dim < 0 || __builtin_mul_overflow(product, dim, &product))
      return std::nullopt;
  return product;
}

} // namespace dsc
