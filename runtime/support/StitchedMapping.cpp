//===- StitchedMapping.cpp - File ranges seen back to back ----------------===//

#include "runtime/support/StitchedMapping.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <map>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace dsc {

namespace {

std::atomic<int64_t> liveMappingCount{0};

/// Half of `vm.max_map_count` (65530 when it cannot be read).
int64_t mappingBudget() {
  static const int64_t budget = [] {
    int64_t limit = 65530;
    if (FILE *f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
      long long value = 0;
      if (std::fscanf(f, "%lld", &value) == 1 && value > 0)
        limit = value;
      std::fclose(f);
    }
    return limit / 2;
  }();
  return budget;
}

/// The files a stitch opens, each once, closed when it ends (the mappings
/// keep the files alive).
class Descriptors {
public:
  ~Descriptors() {
    for (const auto &entry : opened)
      if (entry.second >= 0)
        ::close(entry.second);
  }

  /// A descriptor of `piece`'s file, or -1 when it cannot be opened or the
  /// path names another file than the one mapped.
  int of(const StitchedMapping::Piece &piece) {
    auto [it, inserted] = opened.try_emplace(piece.path, -1);
    if (!inserted)
      return it->second;
    int fd = ::open(piece.path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd >= 0 &&
        (::fstat(fd, &st) != 0 ||
         std::make_pair(static_cast<uint64_t>(st.st_dev),
                        static_cast<uint64_t>(st.st_ino)) != piece.identity)) {
      ::close(fd);
      fd = -1;
    }
    return it->second = fd;
  }

private:
  std::map<std::string, int> opened;
};

/// Consecutive pieces that also lie back to back in one file: one mapping.
struct Run {
  size_t begin, end;
  /// The run's place in the whole, and its bytes.
  uint64_t place, bytes;
};

} // namespace

std::optional<StitchedMapping>
StitchedMapping::stitch(const std::vector<Piece> &pieces) {
  const long pageSize = ::sysconf(_SC_PAGESIZE);
  if (pieces.empty() || pageSize <= 0)
    return std::nullopt;
  const uint64_t page = static_cast<uint64_t>(pageSize);
  auto down = [page](uint8_t *p) {
    return p - reinterpret_cast<uintptr_t>(p) % page;
  };
  auto up = [&](uint8_t *p) { return down(p + page - 1); };

  // A piece at `place` must start in its file at lead + place, modulo the
  // page: then its whole pages line up with the file's.
  const uint64_t lead = pieces.front().offset % page;
  std::vector<Run> runs;
  uint64_t total = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const Piece &piece = pieces[i];
    if (piece.size == 0 || piece.offset % page != (lead + total) % page)
      return std::nullopt;
    const Piece *previous = i ? &pieces[i - 1] : nullptr;
    if (previous && previous->path == piece.path &&
        previous->identity == piece.identity &&
        previous->offset + previous->size == piece.offset) {
      runs.back().end = i + 1;
      runs.back().bytes += piece.size;
    } else {
      runs.push_back({i, i + 1, total, piece.size});
    }
    if (__builtin_add_overflow(total, piece.size, &total))
      return std::nullopt;
  }
  uint64_t span;
  if (__builtin_add_overflow(lead + total, page - 1, &span))
    return std::nullopt;
  span -= span % page;

  // What it would copy: each run's bytes outside its whole pages, as
  // placed after a range starting `lead` into a page. Past half the bytes,
  // mapping saves too little for its mappings.
  uint64_t toCopy = 0;
  for (const Run &run : runs) {
    const uint64_t begin = lead + run.place, end = begin + run.bytes;
    const uint64_t first = (begin + page - 1) / page * page;
    const uint64_t last = end / page * page;
    toCopy += first < last ? (first - begin) + (end - last) : run.bytes;
  }
  if (toCopy > total / 2)
    return std::nullopt;
  // Each run is a file mapping and a copied range after it: at most two
  // mappings a run, and one for the reservation's start.
  const int64_t mappings = 2 * static_cast<int64_t>(runs.size()) + 1;
  if (liveMappingCount.load() + mappings > mappingBudget())
    return std::nullopt;

  // Reserve the whole range first, so that the pieces' mappings replace
  // pages of ours (MAP_FIXED) and nothing else's.
  void *range = ::mmap(nullptr, span, PROT_NONE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (range == MAP_FAILED)
    return std::nullopt;
  // From here on, returning std::nullopt unmaps the range.
  StitchedMapping stitched(static_cast<uint8_t *>(range), span, lead, mappings);
  stitched.total = total;
  uint8_t *const base = stitched.reserved + lead;

  Descriptors files;
  // The bytes of each run outside its whole pages, to copy.
  std::vector<std::pair<uint8_t *, uint8_t *>> copiedRanges;
  for (const Run &run : runs) {
    uint8_t *begin = base + run.place, *end = begin + run.bytes;
    uint8_t *first = up(begin), *last = down(end);
    if (first >= last) {
      copiedRanges.emplace_back(begin, end);
      continue;
    }
    const Piece &head = pieces[run.begin];
    int fd = files.of(head);
    if (fd < 0)
      return std::nullopt;
    const size_t length = static_cast<size_t>(last - first);
    if (::mmap(first, length, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
               static_cast<off_t>(head.offset + (first - begin))) ==
        MAP_FAILED) {
      // A MAP_FIXED that fails may have unmapped our pages there already:
      // take them back before another thread's mapping lands in the hole,
      // which unmapping the range would then take too.
      ::mmap(first, length, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      return std::nullopt;
    }
    if (begin < first)
      copiedRanges.emplace_back(begin, first);
    if (last < end)
      copiedRanges.emplace_back(last, end);
  }

  // Copy those bytes into anonymous pages (the reservation's), writable
  // while they are filled. A page two runs share gets both runs' bytes.
  for (auto [from, to] : copiedRanges)
    if (::mprotect(down(from), static_cast<size_t>(up(to) - down(from)),
                   PROT_READ | PROT_WRITE) != 0)
      return std::nullopt;
  uint64_t place = 0;
  size_t next = 0;
  for (const Piece &piece : pieces) {
    uint8_t *begin = base + place, *end = begin + piece.size;
    // The copied ranges are in order: skip those before this piece.
    while (next < copiedRanges.size() && copiedRanges[next].second <= begin)
      ++next;
    for (size_t r = next; r < copiedRanges.size(); ++r) {
      uint8_t *from = std::max(begin, copiedRanges[r].first);
      uint8_t *to = std::min(end, copiedRanges[r].second);
      if (from >= end)
        break;
      if (from < to) {
        std::memcpy(from, piece.bytes + (from - begin),
                    static_cast<size_t>(to - from));
        stitched.copied += static_cast<uint64_t>(to - from);
      }
    }
    place += piece.size;
  }
  for (auto [from, to] : copiedRanges)
    if (::mprotect(down(from), static_cast<size_t>(up(to) - down(from)),
                   PROT_READ) != 0)
      return std::nullopt;
  return stitched;
}

int64_t StitchedMapping::liveMappings() { return liveMappingCount.load(); }

StitchedMapping::StitchedMapping(uint8_t *reserved, uint64_t span,
                                 uint64_t lead, int64_t mappings)
    : reserved(reserved), span(span), lead(lead), mappings(mappings) {
  liveMappingCount += mappings;
}

StitchedMapping::StitchedMapping(StitchedMapping &&other) noexcept
    : reserved(std::exchange(other.reserved, nullptr)), span(other.span),
      lead(other.lead), total(other.total), copied(other.copied),
      mappings(std::exchange(other.mappings, 0)) {}

StitchedMapping &StitchedMapping::operator=(StitchedMapping &&other) noexcept {
  if (this != &other) {
    if (reserved)
      ::munmap(reserved, span);
    liveMappingCount -= mappings;
    reserved = std::exchange(other.reserved, nullptr);
    span = other.span;
    lead = other.lead;
    total = other.total;
    copied = other.copied;
    mappings = std::exchange(other.mappings, 0);
  }
  return *this;
}

StitchedMapping::~StitchedMapping() {
  if (reserved)
    ::munmap(reserved, span);
  liveMappingCount -= mappings;
}

} // namespace dsc
