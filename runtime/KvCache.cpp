//===- KvCache.cpp - The paged latent KV cache of a session ---------------===//

#include "runtime/KvCache.h"

#include "runtime/support/Safetensors.h"

#include "absl/strings/str_cat.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace dsc::runtime {

KvCache::KvCache(void *storage, KvCacheShape shape, int64_t pages,
                 Writer writer)
    : data(storage), write(std::move(writer)), geometry(shape),
      pageCount(pages) {
  reset(0);
}

void KvCache::reset(int64_t count) {
  freePages.clear();
  // Handed out from the back: page 0 first.
  for (int64_t p = pageCount - 1; p >= 0; --p)
    freePages.push_back(p);
  pagesOf.assign(count, {});
  lengths.assign(count, 0);
}

absl::Status KvCache::reserve(const std::vector<int64_t> &wanted) {
  assert(wanted.size() == pagesOf.size() && "one length per sequence");
  int64_t needed = 0;
  for (size_t b = 0; b < wanted.size(); ++b) {
    int64_t pages = (wanted[b] + geometry.pageSize - 1) / geometry.pageSize;
    needed += std::max<int64_t>(0, pages - int64_t(pagesOf[b].size()));
  }
  if (needed > int64_t(freePages.size())) {
    int64_t tokens = 0;
    for (int64_t w : wanted)
      tokens += w;
    return absl::ResourceExhaustedError(absl::StrCat(
        "the KV cache is full: ", wanted.size(), " sequence(s) of ", tokens,
        " tokens in all need ", needed, " more pages of ", geometry.pageSize,
        " tokens, but only ", freePages.size(), " of ", pageCount,
        " are free (capacity ", capacityTokens(),
        " tokens; raise it with dsc-run --kv-cache-tokens)"));
  }
  for (size_t b = 0; b < wanted.size(); ++b)
    while (int64_t(pagesOf[b].size()) * geometry.pageSize < wanted[b]) {
      pagesOf[b].push_back(freePages.back());
      freePages.pop_back();
    }
  return absl::OkStatus();
}

absl::Status KvCache::store(const float *latents, int64_t batch, int64_t seq,
                            const std::vector<int64_t> &counts) {
  const int64_t width = geometry.width, pageSize = geometry.pageSize;
  const bool bf16 = geometry.element == KvCacheElement::BF16;
  // A run of entries, in the cache's element type, for a writer.
  std::vector<uint16_t> rounded(bf16 ? pageSize * width : 0);
  for (int64_t b = 0; b < batch; ++b) {
    assert(counts[b] <= seq && "more entries than the call returned");
    // Runs of positions within one page: contiguous in the latents (for a
    // layer and sequence) and in the page, so one copy each.
    for (int64_t s = 0; s < counts[b];) {
      int64_t position = lengths[b] + s;
      assert(position / pageSize < int64_t(pagesOf[b].size()) &&
             "store past the reserved pages");
      int64_t page = pagesOf[b][position / pageSize];
      int64_t run = std::min(counts[b] - s, pageSize - position % pageSize);
      size_t values = size_t(run * width);
      for (int64_t l = 0; l < geometry.layers; ++l) {
        const float *from = latents + ((l * batch + b) * seq + s) * width;
        int64_t to =
            ((l * pageCount + page) * pageSize + position % pageSize) * width;
        if (write) {
          if (bf16)
            std::transform(from, from + values, rounded.begin(), st::f32ToBf16);
          if (absl::Status status =
                  write(to * geometry.elementBytes(),
                        bf16 ? static_cast<const void *>(rounded.data()) : from,
                        values * geometry.elementBytes());
              !status.ok())
            return status;
        } else if (bf16) {
          std::transform(from, from + values,
                         static_cast<uint16_t *>(data) + to, st::f32ToBf16);
        } else {
          std::memcpy(static_cast<float *>(data) + to, from,
                      values * sizeof(float));
        }
      }
      s += run;
    }
    lengths[b] += counts[b];
  }
  return absl::OkStatus();
}

void KvCache::advance(const std::vector<int64_t> &counts) {
  assert(counts.size() == lengths.size() && "one count per sequence");
  for (size_t b = 0; b < counts.size(); ++b) {
    lengths[b] += counts[b];
    assert(lengths[b] <= int64_t(pagesOf[b].size()) * geometry.pageSize &&
           "entries past the reserved pages");
  }
}

std::vector<int64_t> KvCache::blockTable(int64_t &maxPages) const {
  maxPages = 1;
  for (const std::vector<int64_t> &pages : pagesOf)
    maxPages = std::max<int64_t>(maxPages, pages.size());
  std::vector<int64_t> table(pagesOf.size() * maxPages, -1);
  for (size_t b = 0; b < pagesOf.size(); ++b)
    std::copy(pagesOf[b].begin(), pagesOf[b].end(),
              table.begin() + b * maxPages);
  return table;
}

} // namespace dsc::runtime
