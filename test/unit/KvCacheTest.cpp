//===- KvCacheTest.cpp - The paged latent KV cache's bookkeeping ----------===//

#include "runtime/KvCache.h"

#include "runtime/support/Safetensors.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

namespace {

using dsc::runtime::KvCache;
using dsc::runtime::KvCacheElement;
using dsc::runtime::KvCacheShape;
using dsc::st::bf16ToF32;
using dsc::st::f32ToBf16;

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
  const float *row = static_cast<const float *>(cache.storage()) +
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
  ASSERT_TRUE(cache.store(latentsFor(2, 6, {0, 0}).data(), 2, 6, {6, 2}).ok());
  ASSERT_TRUE(cache.store(latentsFor(2, 1, {6, 2}).data(), 2, 1, {1, 1}).ok());
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
  // The padding is no page at all: a decode that stores its entries
  // skips it.
  EXPECT_EQ(table[3], -1);
  // Entries stored by the call itself only move the lengths on.
  cache.advance({1, 0});
  EXPECT_EQ(cache.length(0), 8);
  EXPECT_EQ(cache.length(1), 3);
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

TEST(KvCache, Bf16CacheStoresRoundedEntries) {
  KvCacheShape shape = kShape;
  shape.element = KvCacheElement::BF16;
  EXPECT_EQ(shape.bytesPerToken(), kShape.bytesPerToken() / 2);
  std::vector<uint16_t> storage(shape.layers * 2 * shape.pageSize *
                                shape.width);
  KvCache cache(storage.data(), shape, 2);
  cache.reset(1);
  ASSERT_TRUE(cache.reserve({5}).ok());
  // Position 4 is the first row of the second page.
  std::vector<float> latents = latentsFor(1, 5, {0});
  latents[4 * shape.width + 1] = 1.0f + 0x1p-8f + 0x1p-10f; // rounds up
  ASSERT_TRUE(cache.store(latents.data(), 1, 5, {5}).ok());
  int64_t maxPages = 0;
  std::vector<int64_t> table = cache.blockTable(maxPages);
  const uint16_t *row =
      storage.data() + (table[1] * shape.pageSize + 0) * shape.width;
  EXPECT_EQ(bf16ToF32(row[0]), entryValue(0, 0, 4, 0));
  EXPECT_EQ(bf16ToF32(row[1]), 1.0f + 0x1p-7f);
}

// Storage the host cannot write (a GPU's) goes through the writer, one
// run of positions within a page at a time, at the offsets a direct store
// writes.
TEST(KvCache, WriterStoresWhatADirectStoreWrites) {
  for (KvCacheElement element : {KvCacheElement::F32, KvCacheElement::BF16}) {
    KvCacheShape shape = kShape;
    shape.element = element;
    size_t bytes = size_t(shape.layers * 3 * shape.pageSize * shape.width *
                          shape.elementBytes());
    std::vector<uint8_t> direct(bytes), written(bytes);
    int64_t calls = 0;
    KvCache plain(direct.data(), shape, 3);
    KvCache viaWriter(nullptr, shape, 3,
                      [&](int64_t offset, const void *from, size_t n) {
                        EXPECT_LE(offset + int64_t(n), int64_t(bytes));
                        std::memcpy(written.data() + offset, from, n);
                        ++calls;
                        return absl::OkStatus();
                      });
    for (KvCache *cache : {&plain, &viaWriter}) {
      cache->reset(2);
      ASSERT_TRUE(cache->reserve({6, 3}).ok());
      ASSERT_TRUE(
          cache->store(latentsFor(2, 5, {0, 0}).data(), 2, 5, {5, 3}).ok());
    }
    EXPECT_EQ(direct, written);
    // Sequence 0's five entries span two pages (4 + 1), sequence 1's
    // three fit one.
    EXPECT_EQ(calls, 3 * shape.layers);
  }
  KvCache failing(nullptr, kShape, 2, [](int64_t, const void *, size_t) {
    return absl::InternalError("copy failed");
  });
  failing.reset(1);
  ASSERT_TRUE(failing.reserve({1}).ok());
  EXPECT_EQ(failing.store(latentsFor(1, 1, {0}).data(), 1, 1, {1}).message(),
            "copy failed");
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(f32ToBf16(1.0f), 0x3f80);
  // Halfway between 1 and 1 + 2^-7: ties go to the even one, 1.
  EXPECT_EQ(f32ToBf16(1.0f + 0x1p-8f), 0x3f80);
  // Halfway between 1 + 2^-7 (odd) and 1 + 2^-6: up, to the even one.
  EXPECT_EQ(f32ToBf16(1.0f + 0x1p-7f + 0x1p-8f), 0x3f82);
  EXPECT_EQ(f32ToBf16(-2.5f), 0xc020);
  EXPECT_EQ(f32ToBf16(std::numeric_limits<float>::infinity()), 0x7f80);
  EXPECT_EQ(f32ToBf16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_TRUE(std::isnan(
      bf16ToF32(f32ToBf16(std::numeric_limits<float>::quiet_NaN()))));
  // A NaN whose payload sits only in the low half stays a NaN.
  uint32_t lowNan = 0x7f800001;
  float f;
  std::memcpy(&f, &lowNan, sizeof(f));
  EXPECT_TRUE(std::isnan(bf16ToF32(f32ToBf16(f))));
}

} // namespace
