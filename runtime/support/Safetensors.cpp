//===- Safetensors.cpp - Safetensors files and checkpoints ----------------===//

#include "runtime/support/Safetensors.h"

#include "runtime/support/Errors.h"
#include "runtime/support/Json.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <map>

#include <dirent.h>
#include <sys/stat.h>

// Safetensors data is little-endian; the loads below reinterpret it in place.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "dsc::st assumes a little-endian host");

namespace dsc::st {

namespace {

constexpr char kIndexFileName[] = "model.safetensors.index.json";
constexpr char kSingleFileName[] = "model.safetensors";
constexpr std::string_view kExtension = ".safetensors";

struct DTypeEntry {
  DType dtype;
  std::string_view name;
  uint64_t size;
};

constexpr DTypeEntry kDTypes[] = {
    {DType::F64, "F64", 8},         {DType::F32, "F32", 4},
    {DType::F16, "F16", 2},         {DType::BF16, "BF16", 2},
    {DType::F8_E4M3, "F8_E4M3", 1}, {DType::F8_E5M2, "F8_E5M2", 1},
    {DType::I64, "I64", 8},         {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},         {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},           {DType::BOOL, "BOOL", 1},
};

/// The dtype's name for absl::StrCat, which takes absl::string_view: Debian's
/// abseil defines that as its own class, not as std::string_view.
absl::string_view nameOf(DType dtype) {
  std::string_view name = dtypeName(dtype);
  return absl::string_view(name.data(), name.size());
}

/// "path: tensor 'name'" for a tensor's error messages.
std::string describe(const TensorInfo &t) {
  return t.file.empty() ? absl::StrCat("tensor ", quote(t.name))
                        : absl::StrCat(t.file, ": tensor ", quote(t.name));
}

/// Bytes a tensor of `dtype` and `shape` occupies, or std::nullopt on a
/// negative dimension or overflow.
std::optional<uint64_t> checkedByteSize(DType dtype,
                                        const std::vector<int64_t> &shape) {
  std::optional<int64_t> elements = checkedProduct(shape);
  uint64_t bytes;
  if (!elements || __builtin_mul_overflow(static_cast<uint64_t>(*elements),
                                          dtypeSize(dtype), &bytes))
    return std::nullopt;
  return bytes;
}

/// Checks that `t` can be read: its byte count agrees with dtype and shape
/// and its data pointer is set. File::open guarantees this, but TensorInfo is
/// a plain struct that callers may fill in themselves.
absl::Status checkReadable(const TensorInfo &t) {
  std::optional<uint64_t> bytes = checkedByteSize(t.dtype, t.shape);
  if (!bytes || *bytes != t.numBytes)
    return absl::InvalidArgumentError(absl::StrCat(
        describe(t), ": shape ", formatShape(t.shape), " with dtype ",
        nameOf(t.dtype), " does not match its ", t.numBytes, " bytes"));
  if (t.numBytes != 0 && t.data == nullptr)
    return absl::InvalidArgumentError(
        absl::StrCat(describe(t), ": has no data"));
  return absl::OkStatus();
}

std::string joinPath(const std::string &dir, std::string_view name) {
  std::string path = dir;
  if (!path.empty() && path.back() != '/')
    path += '/';
  path += name;
  return path;
}

bool isRegularFile(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

bool pathExists(const std::string &path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

/// Reads a whole (small, e.g. index) file. The allocation is bounded by the
/// file's actual size, not by anything the file claims.
absl::StatusOr<std::string> readWholeFile(const std::string &path) {
  absl::StatusOr<MappedFile> mapped = MappedFile::open(path);
  if (!mapped.ok())
    return mapped.status();
  if (mapped->size() == 0)
    return std::string();
  return std::string(reinterpret_cast<const char *>(mapped->data()),
                     mapped->size());
}

/// Shard names come from an untrusted index; keep them inside the
/// checkpoint directory.
bool isPlainFileName(std::string_view name) {
  return !name.empty() && name != "." && name != ".." &&
         name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

} // namespace

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

std::string_view dtypeName(DType dtype) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry.name;
  return "<invalid dtype>";
}

uint64_t dtypeSize(DType dtype) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry.size;
  return 0;
}

std::optional<DType> parseDType(std::string_view name) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.name == name)
      return entry.dtype;
  return std::nullopt;
}

int64_t TensorInfo::numElements() const {
  return checkedProduct(shape).value_or(-1);
}

//===----------------------------------------------------------------------===//
// File
//===----------------------------------------------------------------------===//

absl::StatusOr<std::unique_ptr<File>> File::open(const std::string &path) {
  absl::StatusOr<MappedFile> mapped = MappedFile::open(path);
  if (!mapped.ok())
    return mapped.status();
  if (mapped->size() < 8)
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": file is ", mapped->size(),
                     " bytes, too short for the 8-byte header length"));
  std::unique_ptr<File> file(new File(path));
  file->mapped = std::move(*mapped);
  if (absl::Status status = file->parseHeader(); !status.ok())
    return status;
  return file;
}

absl::Status File::parseHeader() {
  auto error = [&](auto &&...parts) {
    return absl::InvalidArgumentError(absl::StrCat(filePath, ": ", parts...));
  };
  const uint8_t *bytes = mapped.data();
  const uint64_t mappingSize = mapped.size();
  uint64_t headerSize = 0;
  std::memcpy(&headerSize, bytes, sizeof(headerSize));
  if (headerSize > mappingSize - 8)
    return error("header length ", headerSize,
                 " bytes is larger than the file (", mappingSize,
                 " bytes, of which ", mappingSize - 8,
                 " follow the length field)");
  const uint8_t *dataStart = bytes + 8 + headerSize;
  uint64_t dataSize = mappingSize - 8 - headerSize;

  absl::StatusOr<json::Value> header = json::parse(
      std::string_view(reinterpret_cast<const char *>(bytes + 8), headerSize));
  if (!header.ok())
    return error("header is not valid JSON: ", header.status().message());
  if (!header->isObject())
    return error("header is not a JSON object");

  for (const auto &[name, entry] : header->getObject()) {
    if (name == "__metadata__") {
      if (!entry.isObject())
        return error("'__metadata__' is not an object");
      for (const auto &[key, value] : entry.getObject()) {
        if (!value.isString())
          return error("'__metadata__' key ", quote(key),
                       ": value is not a string");
        metadataEntries.emplace_back(key, value.getString());
      }
      continue;
    }
    // (A structured binding cannot be captured in C++17: name it.)
    const std::string &tensorName = name;
    auto tensorError = [&](auto &&...parts) {
      return error("tensor ", quote(tensorName), ": ", parts...);
    };
    if (!entry.isObject())
      return tensorError("entry is not an object");

    TensorInfo info;
    info.name = name;
    info.file = filePath;

    const json::Value *dtype = entry.find("dtype");
    if (!dtype || !dtype->isString())
      return tensorError("missing 'dtype' string");
    std::optional<DType> parsed = parseDType(dtype->getString());
    if (!parsed)
      return tensorError("unknown dtype ", quote(dtype->getString()));
    info.dtype = *parsed;

    const json::Value *shape = entry.find("shape");
    if (!shape || !shape->isArray())
      return tensorError("missing 'shape' list");
    for (const json::Value &dim : shape->getArray()) {
      if (!dim.isInteger() || dim.getInt() < 0)
        return tensorError("'shape' ", shape->dump(),
                           " is not a list of non-negative integers");
      info.shape.push_back(dim.getInt());
    }

    const json::Value *offsets = entry.find("data_offsets");
    if (!offsets)
      return tensorError("missing 'data_offsets'");
    const auto *range = offsets->isArray() ? &offsets->getArray() : nullptr;
    if (!range || range->size() != 2 || !(*range)[0].isInteger() ||
        !(*range)[1].isInteger() || (*range)[0].getInt() < 0 ||
        (*range)[1].getInt() < 0)
      return tensorError("'data_offsets' ", offsets->dump(),
                         " is not a list [begin, end] of two non-negative "
                         "integers");
    uint64_t begin = static_cast<uint64_t>((*range)[0].getInt());
    uint64_t end = static_cast<uint64_t>((*range)[1].getInt());
    std::string offsetsText = absl::StrCat("[", begin, ", ", end, "]");
    if (begin > end)
      return tensorError("data_offsets ", offsetsText,
                         " end before they begin");
    if (end > dataSize)
      return tensorError("data_offsets ", offsetsText,
                         " exceed the data section (", dataSize, " bytes)");

    std::optional<uint64_t> expected = checkedByteSize(info.dtype, info.shape);
    if (!expected)
      return tensorError("shape ", formatShape(info.shape), " with dtype ",
                         nameOf(info.dtype),
                         " is too large: its byte size does not fit in 64 "
                         "bits");
    if (*expected != end - begin)
      return tensorError("shape ", formatShape(info.shape), " with dtype ",
                         nameOf(info.dtype), " needs ", *expected,
                         " bytes but data_offsets ", offsetsText, " span ",
                         end - begin);
    info.data = dataStart + begin;
    info.fileOffset = 8 + headerSize + begin;
    info.numBytes = end - begin;
    tensorList.push_back(std::move(info));
  }

  // Overlapping byte ranges would let one tensor alias another's data; reject
  // them. Empty ranges hold no bytes and cannot overlap anything.
  std::vector<size_t> byOffset(tensorList.size());
  for (size_t i = 0; i < byOffset.size(); ++i)
    byOffset[i] = i;
  auto beginOf = [&](size_t i) { return tensorList[i].data - dataStart; };
  std::sort(byOffset.begin(), byOffset.end(),
            [&](size_t a, size_t b) { return beginOf(a) < beginOf(b); });
  const TensorInfo *furthest = nullptr; // Non-empty tensor ending last.
  for (size_t i : byOffset) {
    const TensorInfo &t = tensorList[i];
    if (t.numBytes == 0)
      continue;
    if (furthest && t.data < furthest->data + furthest->numBytes) {
      auto range = [&](const TensorInfo &x) {
        uint64_t b = static_cast<uint64_t>(x.data - dataStart);
        return absl::StrCat("[", b, ", ", b + x.numBytes, "]");
      };
      return error("tensor ", quote(t.name), ": data_offsets ", range(t),
                   " overlap those of tensor ", quote(furthest->name), " ",
                   range(*furthest));
    }
    if (!furthest || t.data + t.numBytes > furthest->data + furthest->numBytes)
      furthest = &t;
  }

  sortedByName.resize(tensorList.size());
  for (size_t i = 0; i < sortedByName.size(); ++i)
    sortedByName[i] = i;
  std::sort(sortedByName.begin(), sortedByName.end(), [&](size_t a, size_t b) {
    return tensorList[a].name < tensorList[b].name;
  });
  return absl::OkStatus();
}

const TensorInfo *File::find(std::string_view name) const {
  auto it = std::lower_bound(
      sortedByName.begin(), sortedByName.end(), name,
      [&](size_t i, std::string_view key) { return tensorList[i].name < key; });
  if (it == sortedByName.end() || tensorList[*it].name != name)
    return nullptr;
  return &tensorList[*it];
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

absl::StatusOr<std::unique_ptr<Checkpoint>>
Checkpoint::open(const std::string &dir) {
  std::unique_ptr<Checkpoint> checkpoint(new Checkpoint(dir));
  auto &files = checkpoint->fileList;

  std::string indexPath = joinPath(dir, kIndexFileName);
  if (pathExists(indexPath)) {
    absl::StatusOr<std::string> text = readWholeFile(indexPath);
    if (!text.ok())
      return text.status();
    auto error = [&](auto &&...parts) {
      return absl::InvalidArgumentError(
          absl::StrCat(indexPath, ": ", parts...));
    };
    absl::StatusOr<json::Value> index = json::parse(*text);
    if (!index.ok())
      return error("not valid JSON: ", index.status().message());
    const json::Value *weightMap = index->find("weight_map");
    if (!weightMap || !weightMap->isObject())
      return error("missing 'weight_map' object");

    // Open each shard once, in file name order; remember which tensor first
    // named it so that a failure can say where the shard came from.
    std::map<std::string, const File *> shards;
    for (const auto &[name, shard] : weightMap->getObject()) {
      if (!shard.isString() || !isPlainFileName(shard.getString()))
        return error("tensor ", quote(name), ": shard ", shard.dump(),
                     " is not a file name in the checkpoint directory");
      shards.emplace(shard.getString(), nullptr);
    }
    for (auto &[shardName, file] : shards) {
      absl::StatusOr<std::unique_ptr<File>> opened =
          File::open(joinPath(dir, shardName));
      if (!opened.ok()) {
        std::string_view tensor;
        for (const auto &[name, shard] : weightMap->getObject()) {
          if (shard.getString() == shardName) {
            tensor = name;
            break;
          }
        }
        return absl::Status(
            opened.status().code(),
            absl::StrCat(
                indexPath, ": tensor ", quote(tensor), " is mapped to shard ",
                quote(shardName),
                ", which cannot be read: ", opened.status().message()));
      }
      file = opened->get();
      files.push_back(*std::move(opened));
    }
    for (const auto &[name, shard] : weightMap->getObject())
      if (!shards[shard.getString()]->find(name))
        return error("tensor ", quote(name), " is mapped to shard ",
                     quote(shard.getString()),
                     ", which has no tensor of that name");
  } else if (std::string single = joinPath(dir, kSingleFileName);
             pathExists(single)) {
    absl::StatusOr<std::unique_ptr<File>> opened = File::open(single);
    if (!opened.ok())
      return opened.status();
    files.push_back(*std::move(opened));
  } else {
    DIR *handle = ::opendir(dir.c_str());
    if (!handle)
      return errnoError(errno, dir, "cannot open checkpoint directory");
    std::vector<std::string> paths;
    while (const dirent *entry = ::readdir(handle)) {
      std::string_view name = entry->d_name;
      if (name.size() > kExtension.size() &&
          name.substr(name.size() - kExtension.size()) == kExtension &&
          isRegularFile(joinPath(dir, name)))
        paths.push_back(joinPath(dir, name));
    }
    ::closedir(handle);
    if (paths.empty())
      return absl::NotFoundError(absl::StrCat(
          dir, ": no checkpoint found: expected ", kIndexFileName, ", ",
          kSingleFileName, " or *", std::string(kExtension), " files"));
    std::sort(paths.begin(), paths.end());
    for (const std::string &path : paths) {
      absl::StatusOr<std::unique_ptr<File>> opened = File::open(path);
      if (!opened.ok())
        return opened.status();
      files.push_back(*std::move(opened));
    }
  }

  if (absl::Status status = checkpoint->indexTensors(); !status.ok())
    return status;
  return checkpoint;
}

absl::Status Checkpoint::indexTensors() {
  std::vector<const TensorInfo *> all;
  for (const auto &file : fileList)
    for (const TensorInfo &t : file->tensors())
      all.push_back(&t);
  std::sort(all.begin(), all.end(),
            [](const TensorInfo *a, const TensorInfo *b) {
              return a->name < b->name;
            });
  for (size_t i = 1; i < all.size(); ++i)
    if (all[i - 1]->name == all[i]->name)
      return absl::InvalidArgumentError(absl::StrCat(
          dirPath, ": tensor ", quote(all[i]->name),
          " is in two files: ", all[i - 1]->file, " and ", all[i]->file));
  sortedTensors = std::move(all);
  sortedNames.reserve(sortedTensors.size());
  for (const TensorInfo *t : sortedTensors)
    sortedNames.push_back(t->name);
  return absl::OkStatus();
}

const TensorInfo *Checkpoint::find(std::string_view name) const {
  auto it = std::lower_bound(sortedNames.begin(), sortedNames.end(), name);
  if (it == sortedNames.end() || *it != name)
    return nullptr;
  return sortedTensors[it - sortedNames.begin()];
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

namespace {

/// All 256 values of an 8-bit float format, so that the hot loops are one
/// load each.
template <float (*Convert)(uint8_t)> const std::array<float, 256> &f8Table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> values;
    for (int i = 0; i < 256; ++i)
      values[i] = Convert(static_cast<uint8_t>(i));
    return values;
  }();
  return table;
}

/// Converts `count` elements of type T stored at `data` (unaligned).
template <typename T, typename ConvertFn>
void convertElements(const uint8_t *data, int64_t count, float *out,
                     ConvertFn convert) {
  for (int64_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data + i * sizeof(T), sizeof(T));
    out[i] = convert(value);
  }
}

} // namespace

absl::Status convertToF32(const TensorInfo &t, float *out) {
  if (absl::Status status = checkReadable(t); !status.ok())
    return status;
  int64_t count = t.numElements();
  switch (t.dtype) {
  case DType::F32:
    if (count != 0)
      std::memcpy(out, t.data, t.numBytes);
    return absl::OkStatus();
  case DType::F64:
    convertElements<double>(t.data, count, out,
                            [](double d) { return static_cast<float>(d); });
    return absl::OkStatus();
  case DType::F16:
    convertElements<uint16_t>(t.data, count, out, f16ToF32);
    return absl::OkStatus();
  case DType::BF16:
    convertElements<uint16_t>(t.data, count, out, bf16ToF32);
    return absl::OkStatus();
  case DType::F8_E4M3: {
    const auto &table = f8Table<f8e4m3ToF32>();
    for (int64_t i = 0; i < count; ++i)
      out[i] = table[t.data[i]];
    return absl::OkStatus();
  }
  case DType::F8_E5M2: {
    const auto &table = f8Table<f8e5m2ToF32>();
    for (int64_t i = 0; i < count; ++i)
      out[i] = table[t.data[i]];
    return absl::OkStatus();
  }
  default:
    return absl::InvalidArgumentError(absl::StrCat(
        describe(t), ": cannot convert dtype ", nameOf(t.dtype),
        " to F32 (supported: F64, F32, F16, BF16, F8_E4M3, F8_E5M2)"));
  }
}

absl::Status dequantizeBlockFP8(const TensorInfo &w, const TensorInfo &scaleInv,
                                int64_t blockRows, int64_t blockCols,
                                float *out) {
  auto error = [&](auto &&...parts) {
    return absl::InvalidArgumentError(
        absl::StrCat(describe(w), " with scale tensor ", quote(scaleInv.name),
                     ": ", parts...));
  };
  if (w.dtype != DType::F8_E4M3 || w.shape.size() != 2)
    return error("expected a 2-D F8_E4M3 weight, got ", nameOf(w.dtype), " ",
                 formatShape(w.shape));
  if (scaleInv.dtype != DType::F32 || scaleInv.shape.size() != 2)
    return error("expected a 2-D F32 scale, got ", nameOf(scaleInv.dtype), " ",
                 formatShape(scaleInv.shape));
  if (blockRows <= 0 || blockCols <= 0)
    return error("block size ", blockRows, "x", blockCols, " is not positive");
  for (const TensorInfo *t : {&w, &scaleInv})
    if (absl::Status status = checkReadable(*t); !status.ok())
      return status;

  int64_t rows = w.shape[0], cols = w.shape[1];
  // Written without (n + b - 1) / b so that it cannot overflow.
  auto ceilDiv = [](int64_t n, int64_t b) { return n / b + (n % b != 0); };
  std::vector<int64_t> expected = {ceilDiv(rows, blockRows),
                                   ceilDiv(cols, blockCols)};
  if (scaleInv.shape != expected)
    return error("scale shape ", formatShape(scaleInv.shape), " should be ",
                 formatShape(expected), " for ", blockRows, "x", blockCols,
                 " blocks of a ", formatShape(w.shape), " weight");

  const auto &table = f8Table<f8e4m3ToF32>();
  int64_t scaleCols = expected[1];
  for (int64_t i = 0; i < rows; ++i) {
    const uint8_t *scaleRow =
        scaleInv.data + (i / blockRows) * scaleCols * sizeof(float);
    for (int64_t jb = 0; jb < scaleCols; ++jb) {
      float scale;
      std::memcpy(&scale, scaleRow + jb * sizeof(float), sizeof(float));
      int64_t jEnd = std::min(cols, (jb + 1) * blockCols);
      for (int64_t j = jb * blockCols; j < jEnd; ++j)
        out[i * cols + j] = table[w.data[i * cols + j]] * scale;
    }
  }
  return absl::OkStatus();
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

absl::Status writeFile(const std::string &path,
                       const std::vector<WriteTensor> &tensors,
                       const Metadata &metadata) {
  auto error = [&](auto &&...parts) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", parts...));
  };
  json::Value header = json::Value::object();
  if (!metadata.empty()) {
    json::Value meta = json::Value::object();
    for (const auto &[key, value] : metadata) {
      if (meta.find(key))
        return error("duplicate '__metadata__' key ", quote(key));
      meta.set(key, value);
    }
    header.set("__metadata__", std::move(meta));
  }
  // Check names before building the header: set() would silently replace a
  // duplicate.
  std::vector<std::string_view> names;
  for (const WriteTensor &t : tensors)
    names.push_back(t.name);
  std::sort(names.begin(), names.end());
  if (auto dup = std::adjacent_find(names.begin(), names.end());
      dup != names.end())
    return error("duplicate tensor name ", quote(*dup));
  if (std::binary_search(names.begin(), names.end(), "__metadata__"))
    return error("'__metadata__' is reserved and cannot name a tensor");

  uint64_t offset = 0;
  for (const WriteTensor &t : tensors) {
    std::optional<uint64_t> bytes = checkedByteSize(t.dtype, t.shape);
    if (!bytes || *bytes != t.bytes.size())
      return error("tensor ", quote(t.name), ": shape ", formatShape(t.shape),
                   " with dtype ", nameOf(t.dtype), " does not match its ",
                   t.bytes.size(), " bytes");
    json::Value shape = json::Value::array();
    for (int64_t dim : t.shape)
      shape.push(dim);
    json::Value entry = json::Value::object();
    entry.set("dtype", dtypeName(t.dtype));
    entry.set("shape", std::move(shape));
    entry.set("data_offsets",
              json::Value::array().push(offset).push(offset + *bytes));
    header.set(t.name, std::move(entry));
    offset += *bytes;
  }

  std::string headerText = header.dump();
  headerText.append((8 - headerText.size() % 8) % 8, ' ');
  uint64_t headerSize = headerText.size();

  FILE *stream = std::fopen(path.c_str(), "wb");
  if (!stream)
    return errnoError(errno, path, "cannot create");
  auto write = [&](const void *data, size_t size) {
    return size == 0 || std::fwrite(data, 1, size, stream) == size;
  };
  errno = 0;
  bool ok = write(&headerSize, sizeof(headerSize)) &&
            write(headerText.data(), headerText.size());
  for (const WriteTensor &t : tensors)
    ok = ok && write(t.bytes.data(), t.bytes.size());
  int writeError = errno;
  if (std::fclose(stream) != 0 && ok) {
    ok = false;
    writeError = errno;
  }
  if (!ok)
    return errnoError(writeError ? writeError : EIO, path, "cannot write");
  return absl::OkStatus();
}

} // namespace dsc::st
