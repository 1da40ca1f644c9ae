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
  /// Where the run starts in the reservation, and its bytes.
  uint64_t place, bytes;
};

} // namespace

std::optional<StitchedMapping>
StitchedMapping::stitch(const std::vector<Piece> &pieces) {
  const long pageSize = ::sysconf(_SC_PAGESIZE);
  if (pieces.empty() || pageSize <= 0)
    return std::nullopt;
  const uint64_t page = static_cast<uint64_t>(pageSize);
  auto down = [page](uint64_t at) { return at - at % page; };
  auto up = [&](uint64_t at) { return down(at + page - 1); };

  // A piece at `place` must start in its file at lead + place, modulo the
  // page: then its whole pages line up with the file's. (Places below are
  // offsets from the reservation, whose first page the first piece starts
  // `lead` bytes into.)
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
      runs.push_back({i, i + 1, lead + total, piece.size});
    }
    if (__builtin_add_overflow(total, piece.size, &total))
      return std::nullopt;
  }
  uint64_t span;
  if (__builtin_add_overflow(lead + total, page - 1, &span))
    return std::nullopt;
  span = down(span);

  // Each run's whole pages map its file's; the bytes outside them are
  // copied. Past half the bytes, mapping saves too little for its
  // mappings.
  std::vector<std::pair<uint64_t, uint64_t>> copiedRanges;
  uint64_t toCopy = 0;
  for (const Run &run : runs) {
    const uint64_t begin = run.place, end = begin + run.bytes;
    const uint64_t first = up(begin), last = down(end);
    if (first >= last) {
      copiedRanges.emplace_back(begin, end);
    } else {
      if (begin < first)
        copiedRanges.emplace_back(begin, first);
      if (last < end)
        copiedRanges.emplace_back(last, end);
    }
  }
  for (auto [from, to] : copiedRanges)
    toCopy += to - from;
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
  uint8_t *const reserved = stitched.reserved;

  Descriptors files;
  for (const Run &run : runs) {
    const uint64_t first = up(run.place), last = down(run.place + run.bytes);
    if (first >= last)
      continue;
    const Piece &head = pieces[run.begin];
    int fd = files.of(head);
    if (fd < 0)
      return std::nullopt;
    const size_t length = static_cast<size_t>(last - first);
    if (::mmap(reserved + first, length, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
               static_cast<off_t>(head.offset + (first - run.place))) ==
        MAP_FAILED) {
      // A MAP_FIXED that fails may have unmapped our pages there already:
      // take them back before another thread's mapping lands in the hole,
      // which unmapping the range would then take too.
      ::mmap(reserved + first, length, PROT_NONE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
      return std::nullopt;
    }
  }

  // Copy the other bytes into anonymous pages (the reservation's),
  // writable while they are filled. A page two runs share gets both runs'
  // bytes.
  auto protect = [&](int protection) {
    for (auto [from, to] : copiedRanges)
      if (::mprotect(reserved + down(from),
                     static_cast<size_t>(up(to) - down(from)), protection) != 0)
        return false;
    return true;
  };
  if (!protect(PROT_READ | PROT_WRITE))
    return std::nullopt;
  uint64_t place = lead;
  size_t next = 0;
  for (const Piece &piece : pieces) {
    const uint64_t begin = place, end = begin + piece.size;
    // The copied ranges are in order: skip those before this piece.
    while (next < copiedRanges.size() && copiedRanges[next].second <= begin)
      ++next;
    for (size_t r = next; r < copiedRanges.size(); ++r) {
      const uint64_t from = std::max(begin, copiedRanges[r].first);
      const uint64_t to = std::min(end, copiedRanges[r].second);
      if (from >= end)
        break;
      if (from < to)
        std::memcpy(reserved + from, piece.bytes + (from - begin),
                    static_cast<size_t>(to - from));
    }
    place = end;
  }
  stitched.copied = toCopy;
  if (!protect(PROT_READ))
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
