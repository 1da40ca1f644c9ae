//===- StitchedMapping.h - File ranges seen back to back --------*- C++ -*-===//
//
// A stacked weight (an expert stack: one [N, K] tensor per expert) is read
// by the compiled code as one [experts, N, K] array, but a checkpoint
// stores its experts as separate tensors, in name order ("experts.10"
// before "experts.2"), with other tensors between them, in one shard or
// several. A StitchedMapping shows such ranges of files back to back in
// one read-only range of address space without copying them: the pages
// that lie wholly inside a range map the file's own pages (MAP_FIXED over
// a reserved range); only the pages two ranges share, or that a range
// begins or ends inside, hold a copy of their bytes.
//
// That takes each range's offset in its file and its place in the whole to
// agree modulo the page size, as they do for a stack of experts whose size
// is a multiple of the page (every expert matrix of DeepSeek's shapes:
// 1408 x 2048 bf16 is 1408 pages) stored among tensors of such sizes.
// Otherwise stitching declines, and the caller copies the bytes instead.
//
// Linux (and POSIX mmap) only; like MappedFile, it relies on nobody
// rewriting the files while they are mapped.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_STITCHEDMAPPING_H
#define DSC_RUNTIME_SUPPORT_STITCHEDMAPPING_H

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dsc {

class StitchedMapping {
public:
  /// One range of a file.
  struct Piece {
    /// The file, and its device and inode numbers (MappedFile::identity):
    /// a path that names another file by now is not mapped.
    std::string path;
    std::pair<uint64_t, uint64_t> identity;
    /// Where the range starts in the file, and its bytes.
    uint64_t offset = 0;
    uint64_t size = 0;
    /// The same bytes, readable (the file's existing mapping): the source
    /// of the pages that are copied.
    const uint8_t *bytes = nullptr;
  };

  /// `pieces` back to back, or std::nullopt where they cannot be stitched
  /// or should not be: no pieces, an empty one, offsets that do not agree
  /// with the pieces' places modulo the page size, more than half the
  /// bytes in pages to copy (pieces of a page or two, whose copy is as
  /// large as packing them), more mappings than the budget leaves, or a
  /// system call that fails (a file gone or replaced). Nothing is left
  /// mapped then.
  static std::optional<StitchedMapping>
  stitch(const std::vector<Piece> &pieces);

  /// The mappings the live StitchedMappings of this process hold. Each
  /// stitch keeps it within half the kernel's limit (`vm.max_map_count`,
  /// 65530 by default): every other mapping of the process, malloc's
  /// among them, shares that limit, and a stitch declined just packs its
  /// weight instead.
  static int64_t liveMappings();

  StitchedMapping(StitchedMapping &&other) noexcept;
  StitchedMapping &operator=(StitchedMapping &&other) noexcept;
  StitchedMapping(const StitchedMapping &) = delete;
  StitchedMapping &operator=(const StitchedMapping &) = delete;
  ~StitchedMapping();

  /// The first piece's first byte; the others follow.
  const uint8_t *data() const { return reserved + lead; }
  /// The pieces' bytes in all.
  uint64_t size() const { return total; }
  /// The bytes copied into pages of their own (the rest map the files).
  uint64_t copiedBytes() const { return copied; }

private:
  StitchedMapping(uint8_t *reserved, uint64_t span, uint64_t lead,
                  int64_t mappings);

  /// The whole range (page-aligned, `span` bytes) and where the first
  /// piece starts in it.
  uint8_t *reserved = nullptr;
  uint64_t span = 0, lead = 0;
  uint64_t total = 0, copied = 0;
  /// The mappings counted in liveMappings() for this one (at most).
  int64_t mappings = 0;
};

} // namespace dsc

#endif // DSC_RUNTIME_SUPPORT_STITCHEDMAPPING_H
