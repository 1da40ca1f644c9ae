//===- KvCacheTest.cpp - The paged latent KV cache's bookkeeping ----------===//

#include "runtime/KvCache.h"

#include <gtest/gtest.h>

#include <vector>

namespace {

using dsc::runtime::KvCache;
using dsc::runtime::KvCacheShape;

/// 2 layers, pages of 4 tokens, entries of 3 values.
constexpr KvCacheShape kShape{2, 4, 3};

/// The entry a test stores for (layer, sequence, position): distinct values.
float entryValue(int64_t layer, int64_t seq, int64_t position, int64_t i) {
  return float(layer * 1000 + seq * 100 + position * 10 + i);
}

/// latents [layers, batch, seq, width] for new tokens at `starts[b]` on.
std::vector<float> latentsFor(int64_t batch, int64_t seq,
                              const std::vector<int64_t> &starts) {
  std::vector<float> out(kShape.layers * batch * seq * kShape.width);
  for (int64_t l = 0; l < kShape.layers; ++l)
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t s = 0; s < seq; ++s)
        for (int64_t i = 0; i < kShape.width; ++i)
          out[((l * batch + b) * seq + s) * kShape.width + i] =
              entryValue(l, b, starts[b] + s, i);
  return out;
}

/// The entry of (layer, sequence, position) as `@decode` reads it: through
/// the block table into [layers, pages, pageSize, width].
std::vector<float> readEntry(const KvCache &cache, int64_t layer, int64_t seq,
                             int64_t position) {
  int64_t maxPages = 0;
  std::vector<int64_t> table = cache.blockTable(maxPages);
  int64_t page = table[seq * maxPages + position / kShape.pageSize];
  const float *row =
      cache.storage() +
      ((layer * cache.pages() + page) * kShape.pageSize +
       position % kShape.pageSize) *
          kShape.width;
  return std::vector<float>(row, row + kShape.width);
}

TEST(KvCache, StoresEntriesWhereTheBlockTableSays) {
  std::vector<float> storage(kShape.layers * 5 * kShape.pageSize *
                             kShape.width);
  KvCache cache(storage.data(), kShape, 5);
  EXPECT_EQ(cache.capacityTokens(), 20);
  cache.reset(2);
  // Prompts of 6 and 2 tokens (right-padded to 6 in the call), then one
  // decode step each.
  ASSERT_TRUE(cache.reserve({7, 3}).ok());
  cache.store(latentsFor(2, 6, {0, 0}).data(), 2, 6, {6, 2});
  cache.store(latentsFor(2, 1, {6, 2}).data(), 2, 1, {1, 1});
  EXPECT_EQ(cache.length(0), 7);
  EXPECT_EQ(cache.length(1), 3);
  for (int64_t l = 0; l < kShape.layers; ++l) {
    for (int64_t p = 0; p < 7; ++p)
      EXPECT_EQ(readEntry(cache, l, 0, p)[2], entryValue(l, 0, p, 2));
    for (int64_t p = 0; p < 3; ++p)
      EXPECT_EQ(readEntry(cache, l, 1, p)[0], entryValue(l, 1, p, 0));
  }
  // Sequence 0 spans two pages, sequence 1 one: the table pads its row.
  int64_t maxPages = 0;
  std::vector<int64_t> table = cache.blockTable(maxPages);
  EXPECT_EQ(maxPages, 2);
  EXPECT_NE(table[0], table[1]);
  EXPECT_NE(table[2], table[0]);
  EXPECT_NE(table[2], table[1]);
}

TEST(KvCache, ReservingPastTheCapacityFailsAndAllocatesNothing) {
  std::vector<float> storage(kShape.layers * 2 * kShape.pageSize *
                             kShape.width);
  KvCache cache(storage.data(), kShape, 2);
  cache.reset(2);
  absl::Status full = cache.reserve({5, 4});
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(full.message(),
            "the KV cache is full: 2 sequence(s) of 9 tokens in all need 3 "
            "more pages of 4 tokens, but only 2 of 2 are free (capacity 8 "
            "tokens; raise it with dsc-run --kv-cache-tokens)");
  // Nothing was taken: what fits still fits.
  EXPECT_TRUE(cache.reserve({4, 4}).ok());
  EXPECT_EQ(cache.reserve({5, 4}).code(), absl::StatusCode::kResourceExhausted);
}

TEST(KvCache, ResetFreesEveryPage) {
  std::vector<float> storage(kShape.layers * 2 * kShape.pageSize *
                             kShape.width);
  KvCache cache(storage.data(), kShape, 2);
  cache.reset(1);
  ASSERT_TRUE(cache.reserve({8}).ok());
  cache.reset(2);
  EXPECT_TRUE(cache.reserve({4, 4}).ok());
  EXPECT_EQ(cache.length(0), 0);
}

} // namespace
