//===- Artifact.h - The .dscx artifact file format --------------*- C++ -*-===//
//
// A compiled model is one `.dscx` file: a fixed header, a table of named
// sections and the sections' bytes. All integers are little-endian.
//
//   offset  size  field
//        0     8  magic "DSCX\r\n\x1a\n" (the PNG trick: catches text-mode
//                 transfers and `cat` of a binary file)
//        8     4  u32 format version (kFormatVersion)
//       12     4  u32 section count N
//       16     8  u64 checksum: FNV-1a 64 of every byte after the header
//       24  80*N  section table; per section a 64-byte NUL-padded name, a u64
//                 offset and a u64 size
//    64*k    ...  section data, each section starting at a multiple of 64
//
// Sections start 64-byte aligned so that weights stored in the file can be
// handed to compiled code straight from the read-only mapping. The section
// `manifest.json` holds the JSON manifest (entry points, parameters,
// targets); see runtime/Manifest.h for its schema.
//
// This library is linked by both the compiler (which writes artifacts) and
// the runtime (which reads them), so it depends on neither LLVM nor MLIR.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_ARTIFACT_ARTIFACT_H
#define DSC_RUNTIME_ARTIFACT_ARTIFACT_H

#include "runtime/support/Json.h"
#include "runtime/support/MappedFile.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dsc::artifact {

/// The first 8 bytes of every artifact.
inline constexpr char kMagic[8] = {'D',  'S',  'C',    'X',
                                   '\r', '\n', '\x1a', '\n'};
/// The container format version (header and section table) this code
/// writes and reads.
inline constexpr uint32_t kFormatVersion = 1;
/// The manifest schema version this code writes and reads. It changes when
/// a runtime that ignores a new key would compute wrong results, not when a
/// key is added that an older runtime can safely ignore. Version 2 added a
/// target's "bf16_params": a version 1 runtime would bind those params as
/// f32 and feed their bytes to kernels that read bf16.
inline constexpr int64_t kManifestVersion = 2;
/// Bytes of the fixed header: magic, version, section count, checksum.
inline constexpr uint64_t kHeaderSize = 24;
/// Bytes of one section table entry: name, offset, size.
inline constexpr uint64_t kSectionEntrySize = 80;
/// Bytes reserved for a section name, including its terminating NUL.
inline constexpr size_t kSectionNameSize = 64;
/// Every section starts at a multiple of this.
inline constexpr uint64_t kSectionAlignment = 64;
/// The section holding the JSON manifest.
inline constexpr char kManifestSection[] = "manifest.json";

/// FNV-1a 64 of `size` bytes, continuing from `hash` (pass the previous
/// result to hash data in pieces).
uint64_t fnv1a64(const void *data, size_t size,
                 uint64_t hash = 0xcbf29ce484222325ull);

/// Builds an artifact in memory and writes it in one go.
class Writer {
public:
  /// Adds a section; sections are laid out in the order they are added.
  /// Names are checked by write(): at most 63 bytes, non-empty, unique.
  void addSection(std::string name, std::vector<uint8_t> bytes);
  /// Adds a section holding a copy of `size` bytes at `data`.
  void addSection(std::string name, const void *data, size_t size);

  /// Writes the artifact to `path`: first to `path.tmp`, then renamed over
  /// `path`, so a reader never sees a half-written file. Fails when a
  /// section name is invalid or duplicated, or when there is no
  /// `manifest.json` section.
  absl::Status write(const std::string &path) const;

private:
  struct Section {
    std::string name;
    std::vector<uint8_t> bytes;
  };
  std::vector<Section> sections;
};

/// A validated artifact, mapped read-only for the lifetime of the object.
class Artifact {
public:
  /// Maps `path` and checks, in this order: the magic, the format version,
  /// the section table (inside the file, names NUL-terminated and unique,
  /// each section aligned, inside the file without overflow and not
  /// overlapping the header, the table or another section), the checksum,
  /// and the manifest (valid JSON object with "format": "dscx" and
  /// "version": kManifestVersion). Every error is one line starting with
  /// `path`, e.g. "model.dscx: checksum mismatch (file is corrupted or
  /// truncated)".
  static absl::StatusOr<std::unique_ptr<Artifact>>
  open(const std::string &path);

  ~Artifact() = default;
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  /// The bytes of section `name` (inside the read-only mapping, 64-byte
  /// aligned), or std::nullopt when there is no such section.
  std::optional<std::string_view> section(std::string_view name) const;
  /// The parsed manifest (a JSON object).
  const json::Value &manifest() const { return manifestValue; }
  /// The manifest's JSON text as stored.
  const std::string &manifestText() const { return manifestJson; }
  /// The path the artifact was opened with, for error messages.
  const std::string &path() const { return filePath; }

private:
  explicit Artifact(std::string path) : filePath(std::move(path)) {}
  absl::Status validate();

  std::string filePath;
  MappedFile file;
  std::map<std::string, std::string_view, std::less<>> sections;
  json::Value manifestValue;
  std::string manifestJson;
};

} // namespace dsc::artifact

#endif // DSC_RUNTIME_ARTIFACT_ARTIFACT_H
