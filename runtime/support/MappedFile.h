//===- MappedFile.h - A read-only memory-mapped file ------------*- C++ -*-===//
//
// The one place the runtime maps files: safetensors shards and artifacts are
// both read through it, zero-copy. Like any mmap reader, it relies on nobody
// truncating or rewriting the file while it is mapped.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_MAPPEDFILE_H
#define DSC_RUNTIME_SUPPORT_MAPPEDFILE_H

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <utility>

namespace dsc {

/// A regular file mapped read-only (MAP_PRIVATE), unmapped on destruction.
class MappedFile {
public:
  /// Maps the regular file at `path`. An empty file gives an empty mapping.
  /// Errors are one line starting with the path.
  static absl::StatusOr<MappedFile> open(const std::string &path);

  MappedFile() = default;
  MappedFile(MappedFile &&other) noexcept;
  MappedFile &operator=(MappedFile &&other) noexcept;
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;
  ~MappedFile();

  const uint8_t *data() const { return static_cast<const uint8_t *>(mapping); }
  uint64_t size() const { return mappingSize; }
  /// The mapped file's device and inode numbers (st_dev, st_ino), to
  /// recognize it when opened again by its path.
  std::pair<uint64_t, uint64_t> identity() const { return {device, inode}; }

  /// Drops the pages this process has touched from its resident set (they
  /// stay in the page cache); a later read maps them again from the file.
  /// For a mapping kept open for a few reads after many others.
  void dropResidentPages() const;

private:
  void *mapping = nullptr;
  uint64_t mappingSize = 0;
  uint64_t device = 0, inode = 0;
};

} // namespace dsc

#endif // DSC_RUNTIME_SUPPORT_MAPPEDFILE_H
