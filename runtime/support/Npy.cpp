//===- Npy.cpp - NumPy .npy files, read and written -----------------------===//

#include "runtime/support/Npy.h"

#include "runtime/support/MappedFile.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include <cstdio>
#include <cstring>

namespace dsc::npy {
namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kMagicSize = 6;

struct DtypeInfo {
  std::string_view name;
  int64_t size;
};
constexpr DtypeInfo kDtypes[] = {{"<i8", 8}, {"<i4", 4}, {"<f4", 4},
                                 {"<f8", 8}, {"|u1", 1}, {"|b1", 1}};

/// A cursor over the header dict, a Python literal such as
/// {'descr': '<i8', 'fortran_order': False, 'shape': (2, 5), }
class HeaderReader {
public:
  explicit HeaderReader(std::string_view text) : text(text) {}

  void skipSpaces() {
    while (at < text.size() && (text[at] == ' ' || text[at] == '\n'))
      ++at;
  }
  bool consume(char c) {
    skipSpaces();
    if (at < text.size() && text[at] == c) {
      ++at;
      return true;
    }
    return false;
  }
  bool string(std::string &out) {
    skipSpaces();
    if (at >= text.size() || (text[at] != '\'' && text[at] != '"'))
      return false;
    char quote = text[at++];
    size_t end = text.find(quote, at);
    if (end == std::string_view::npos)
      return false;
    out = std::string(text.substr(at, end - at));
    at = end + 1;
    return true;
  }
  bool word(std::string_view w) {
    skipSpaces();
    if (text.substr(at, w.size()) != w)
      return false;
    at += w.size();
    return true;
  }
  bool integer(int64_t &value) {
    skipSpaces();
    size_t start = at;
    value = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      if (value > (int64_t(1) << 50))
        return false;
      value = value * 10 + (text[at++] - '0');
    }
    return at > start;
  }
  bool done() {
    skipSpaces();
    return at == text.size();
  }

private:
  std::string_view text;
  size_t at = 0;
};

} // namespace

int64_t Array::elements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

int64_t dtypeSize(std::string_view dtype) {
  for (const DtypeInfo &d : kDtypes)
    if (d.name == dtype)
      return d.size;
  return 0;
}

absl::StatusOr<Array> parse(std::string_view bytes, const std::string &origin) {
  auto error = [&](auto &&...parts) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", parts...));
  };
  if (bytes.size() < kMagicSize + 4 ||
      std::memcmp(bytes.data(), kMagic, kMagicSize) != 0)
    return error("not a NumPy .npy file (no \\x93NUMPY magic)");
  const uint8_t major = uint8_t(bytes[kMagicSize]);
  if (major < 1 || major > 3)
    return error("unknown .npy format version ", int(major));
  size_t headerLength, headerStart;
  if (major == 1) {
    headerLength = uint8_t(bytes[8]) | size_t(uint8_t(bytes[9])) << 8;
    headerStart = 10;
  } else {
    if (bytes.size() < 12)
      return error("truncated header");
    uint32_t length;
    std::memcpy(&length, bytes.data() + 8, 4);
    headerLength = length;
    headerStart = 12;
  }
  if (headerLength > bytes.size() - headerStart)
    return error("header of ", headerLength, " bytes runs past the end of the ",
                 bytes.size(), "-byte file");

  HeaderReader header(bytes.substr(headerStart, headerLength));
  Array array;
  bool sawDescr = false, sawOrder = false, sawShape = false;
  if (!header.consume('{'))
    return error("header is not a dict");
  while (!header.consume('}')) {
    std::string key;
    if (!header.string(key) || !header.consume(':'))
      return error("malformed header dict");
    if (key == "descr") {
      if (!header.string(array.dtype))
        return error("'descr' is not a string");
      sawDescr = true;
    } else if (key == "fortran_order") {
      if (header.word("True"))
        return error("Fortran-order arrays are not supported (save it C "
                     "order: np.ascontiguousarray)");
      if (!header.word("False"))
        return error("'fortran_order' is not True or False");
      sawOrder = true;
    } else if (key == "shape") {
      if (!header.consume('('))
        return error("'shape' is not a tuple");
      // (), (5,) or (2, 5) with an optional trailing comma.
      while (!header.consume(')')) {
        int64_t d;
        if (!header.integer(d))
          return error("'shape' holds something other than sizes");
        array.shape.push_back(d);
        if (array.shape.size() > 32)
          return error("more than 32 dimensions");
        if (header.consume(','))
          continue;
        if (header.consume(')'))
          break;
        return error("malformed 'shape' tuple");
      }
      sawShape = true;
    } else {
      return error("unknown header key '", key, "'");
    }
    if (header.consume(','))
      continue;
    if (header.consume('}'))
      break;
    return error("malformed header dict");
  }
  if (!header.done())
    return error("text after the header dict");
  if (!sawDescr || !sawOrder || !sawShape)
    return error("header lacks 'descr', 'fortran_order' or 'shape'");
  const int64_t size = dtypeSize(array.dtype);
  if (!size)
    return error("dtype '", array.dtype,
                 "' is not supported (little-endian int64, int32, float32, "
                 "float64, uint8 or bool)");
  int64_t elements = 1;
  for (int64_t d : array.shape) {
    if (d && elements > (int64_t(1) << 48) / d)
      return error("shape too large");
    elements *= d;
  }
  const size_t dataStart = headerStart + headerLength;
  const uint64_t needed = uint64_t(elements) * uint64_t(size);
  if (bytes.size() - dataStart != needed)
    return error(bytes.size() - dataStart, " bytes of data but shape (",
                 absl::StrJoin(array.shape, ", "), ") of ", array.dtype,
                 " needs ", needed);
  array.data.assign(bytes.begin() + dataStart, bytes.end());
  return array;
}

absl::StatusOr<Array> read(const std::string &path) {
  absl::StatusOr<MappedFile> file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  return parse(std::string_view(reinterpret_cast<const char *>(file->data()),
                                file->size()),
               path);
}

absl::Status write(const std::string &path, std::string_view dtype,
                   const std::vector<int64_t> &shape, const void *data,
                   size_t bytes) {
  std::string dict = absl::StrCat("{'descr': '", std::string(dtype),
                                  "', 'fortran_order': False, 'shape': (",
                                  absl::StrJoin(shape, ", "),
                                  shape.size() == 1 ? ",), }" : "), }");
  // Magic, version, length, dict, padded with spaces to a multiple of 64
  // and ended by a newline.
  size_t total = kMagicSize + 4 + dict.size() + 1;
  dict.append((64 - total % 64) % 64, ' ');
  dict.push_back('\n');
  std::string header(kMagic, kMagicSize);
  header += '\x01';
  header += '\x00';
  header += char(dict.size() & 0xff);
  header += char(dict.size() >> 8);
  header += dict;
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  bool ok = std::fwrite(header.data(), 1, header.size(), f) == header.size() &&
            std::fwrite(data, 1, bytes, f) == bytes;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok)
    return absl::UnavailableError(
        absl::StrCat(path, ": cannot write: ", std::strerror(errno)));
  return absl::OkStatus();
}

} // namespace dsc::npy
