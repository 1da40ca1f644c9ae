//===- Artifact.cpp - The .dscx artifact file format ----------------------===//

#include "runtime/artifact/Artifact.h"

#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <set>

// The header and table are read and written as host integers.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "dsc::artifact assumes a little-endian host");

namespace dsc::artifact {

namespace {

constexpr uint8_t kZeros[kSectionAlignment] = {};

uint64_t alignUp(uint64_t value) {
  return (value + kSectionAlignment - 1) / kSectionAlignment *
         kSectionAlignment;
}

template <typename T> T load(const uint8_t *bytes) {
  T value;
  std::memcpy(&value, bytes, sizeof(T));
  return value;
}

template <typename T> void store(std::vector<uint8_t> &out, T value) {
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(&value);
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

template <typename... Parts>
absl::Status formatError(const std::string &path, const Parts &...parts) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": ", parts...));
}

} // namespace

uint64_t fnv1a64(const void *data, size_t size, uint64_t hash) {
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < size; ++i) {
    hash ^= bytes[i];
    hash *= 0x100000001b3ull;
  }
  return hash;
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

void Writer::addSection(std::string name, std::vector<uint8_t> bytes) {
  sections.push_back({std::move(name), std::move(bytes)});
}

void Writer::addSection(std::string name, const void *data, size_t size) {
  const uint8_t *bytes = static_cast<const uint8_t *>(data);
  addSection(std::move(name), std::vector<uint8_t>(bytes, bytes + size));
}

absl::Status Writer::write(const std::string &path) const {
  std::set<std::string_view> names;
  for (const Section &s : sections) {
    if (s.name.empty())
      return formatError(path, "a section has an empty name");
    if (s.name.size() >= kSectionNameSize)
      return formatError(path, "section name ", quote(s.name), " is ",
                         s.name.size(), " bytes; the limit is ",
                         kSectionNameSize - 1);
    if (s.name.find('\0') != std::string::npos)
      return formatError(path, "section name ", quote(s.name),
                         " contains a NUL byte");
    if (!names.insert(s.name).second)
      return formatError(path, "duplicate section ", quote(s.name));
  }
  if (!names.count(kManifestSection))
    return formatError(path, "no '", kManifestSection,
                       "' section (every artifact needs a manifest)");

  // Everything after the header, as a sequence of byte ranges fed to `sink`:
  // hashed once for the checksum, then written.
  std::vector<uint8_t> table;
  table.reserve(sections.size() * kSectionEntrySize);
  uint64_t offset = alignUp(kHeaderSize + sections.size() * kSectionEntrySize);
  for (const Section &s : sections) {
    char name[kSectionNameSize] = {};
    std::memcpy(name, s.name.data(), s.name.size());
    table.insert(table.end(), name, name + kSectionNameSize);
    store<uint64_t>(table, offset);
    store<uint64_t>(table, s.bytes.size());
    offset = alignUp(offset + s.bytes.size());
  }
  auto forEachRange =
      [&](const std::function<bool(const void *, size_t)> &sink) {
        uint64_t position = kHeaderSize + table.size();
        if (!sink(table.data(), table.size()))
          return false;
        for (const Section &s : sections) {
          uint64_t padding = alignUp(position) - position;
          if (!sink(kZeros, padding) || !sink(s.bytes.data(), s.bytes.size()))
            return false;
          position += padding + s.bytes.size();
        }
        return true;
      };
  uint64_t checksum = fnv1a64(nullptr, 0);
  forEachRange([&](const void *data, size_t size) {
    checksum = fnv1a64(data, size, checksum);
    return true;
  });

  std::vector<uint8_t> header(kMagic, kMagic + sizeof(kMagic));
  store<uint32_t>(header, kFormatVersion);
  store<uint32_t>(header, static_cast<uint32_t>(sections.size()));
  store<uint64_t>(header, checksum);

  std::string tmpPath = path + ".tmp";
  FILE *stream = std::fopen(tmpPath.c_str(), "wb");
  if (!stream)
    return errnoError(errno, tmpPath, "cannot create");
  auto write = [&](const void *data, size_t size) {
    return size == 0 || std::fwrite(data, 1, size, stream) == size;
  };
  errno = 0;
  bool ok = write(header.data(), header.size()) && forEachRange(write);
  int writeError = errno;
  if (std::fclose(stream) != 0 && ok) {
    ok = false;
    writeError = errno;
  }
  if (!ok) {
    std::remove(tmpPath.c_str());
    return errnoError(writeError ? writeError : EIO, tmpPath, "cannot write");
  }
  if (std::rename(tmpPath.c_str(), path.c_str()) != 0) {
    int error = errno;
    std::remove(tmpPath.c_str());
    return errnoError(error, path, "cannot rename the temporary file to");
  }
  return absl::OkStatus();
}

//===----------------------------------------------------------------------===//
// Artifact
//===----------------------------------------------------------------------===//

absl::StatusOr<std::unique_ptr<Artifact>>
Artifact::open(const std::string &path) {
  // Read-only: compiled code may read weights straight from this mapping.
  absl::StatusOr<MappedFile> mapped = MappedFile::open(path);
  if (!mapped.ok())
    return mapped.status();
  std::unique_ptr<Artifact> artifact(new Artifact(path));
  artifact->file = std::move(*mapped);
  if (absl::Status status = artifact->validate(); !status.ok())
    return status;
  return artifact;
}

absl::Status Artifact::validate() {
  const uint8_t *bytes = file.data();
  const uint64_t size = file.size();

  // A short file that starts like an artifact is truncated; anything else is
  // not an artifact at all.
  if (std::memcmp(bytes, kMagic, std::min<uint64_t>(size, sizeof(kMagic))))
    return formatError(filePath, "not a dsc artifact (bad magic)");
  if (size < kHeaderSize)
    return formatError(filePath, "truncated header (", size, " bytes)");
  uint32_t version = load<uint32_t>(bytes + 8);
  if (version != kFormatVersion)
    return formatError(filePath, "format version ", version,
                       " is not supported (this runtime reads version ",
                       kFormatVersion, ")");
  uint32_t count = load<uint32_t>(bytes + 12);
  uint64_t storedChecksum = load<uint64_t>(bytes + 16);
  uint64_t tableEnd = kHeaderSize + count * kSectionEntrySize;
  if (tableEnd > size)
    return formatError(filePath, "truncated section table (", count,
                       " sections need ", tableEnd, " bytes, the file has ",
                       size, ")");

  struct Extent {
    uint64_t offset, size;
    std::string_view name;
  };
  std::vector<Extent> extents;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t *entry = bytes + kHeaderSize + i * kSectionEntrySize;
    const char *rawName = reinterpret_cast<const char *>(entry);
    size_t nameLength = strnlen(rawName, kSectionNameSize);
    if (nameLength == kSectionNameSize || nameLength == 0)
      return formatError(filePath, "section table entry ", i,
                         nameLength ? " has no NUL-terminated name"
                                    : " has an empty name");
    std::string name(rawName, nameLength);
    uint64_t offset = load<uint64_t>(entry + kSectionNameSize);
    uint64_t length = load<uint64_t>(entry + kSectionNameSize + 8);
    std::string where = absl::StrCat("section ", quote(name), " at offset ",
                                     offset, " size ", length);
    uint64_t end;
    if (__builtin_add_overflow(offset, length, &end) || end > size)
      return formatError(filePath, where, " exceeds the file size ", size);
    if (offset < tableEnd)
      return formatError(filePath, where,
                         " overlaps the header or section table (which end "
                         "at ",
                         tableEnd, ")");
    if (offset % kSectionAlignment != 0)
      return formatError(filePath, where, " is not ", kSectionAlignment,
                         "-byte aligned");
    std::string_view data(reinterpret_cast<const char *>(bytes + offset),
                          length);
    auto [it, inserted] = sections.emplace(std::move(name), data);
    if (!inserted)
      return formatError(filePath, "duplicate section ", quote(it->first));
    extents.push_back({offset, length, it->first});
  }
  std::sort(
      extents.begin(), extents.end(),
      [](const Extent &a, const Extent &b) { return a.offset < b.offset; });
  const Extent *previous = nullptr;
  for (const Extent &e : extents) {
    if (e.size == 0)
      continue;
    if (previous && e.offset < previous->offset + previous->size)
      return formatError(filePath, "sections ", quote(previous->name),
                         " (offset ", previous->offset, " size ",
                         previous->size, ") and ", quote(e.name), " (offset ",
                         e.offset, " size ", e.size, ") overlap");
    previous = &e;
  }

  if (fnv1a64(bytes + kHeaderSize, size - kHeaderSize) != storedChecksum)
    return formatError(filePath,
                       "checksum mismatch (file is corrupted or truncated)");

  std::optional<std::string_view> text = section(kManifestSection);
  if (!text)
    return formatError(filePath, "no '", kManifestSection, "' section");
  manifestJson = std::string(*text);
  absl::StatusOr<json::Value> parsed = json::parse(manifestJson);
  if (!parsed.ok())
    return formatError(filePath, kManifestSection, ": ",
                       parsed.status().message());
  manifestValue = std::move(*parsed);
  if (!manifestValue.isObject())
    return formatError(filePath, kManifestSection, ": not a JSON object");
  const json::Value *format = manifestValue.find("format");
  if (!format || !format->isString() || format->getString() != "dscx")
    return formatError(filePath, kManifestSection,
                       ": \"format\" must be \"dscx\", found ",
                       format ? format->dump() : "nothing");
  const json::Value *manifestVersion = manifestValue.find("version");
  if (!manifestVersion || !manifestVersion->isInteger() ||
      manifestVersion->getInt() != kManifestVersion)
    return formatError(filePath, kManifestSection, ": manifest version ",
                       manifestVersion ? manifestVersion->dump() : "(missing)",
                       " is not supported (this runtime reads version ",
                       kManifestVersion, "; recompile the model)");
  return absl::OkStatus();
}

std::optional<std::string_view> Artifact::section(std::string_view name) const {
  auto it = sections.find(name);
  if (it == sections.end())
    return std::nullopt;
  return it->second;
}

} // namespace dsc::artifact
