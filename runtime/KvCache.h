//===- KvCache.h - The paged latent KV cache of a session -------*- C++ -*-===//
//
// With fused latent attention a token's cache entry is its compressed
// latent and rotated rope key (kv_lora_rank + qk_rope_head_dim values per
// layer), not per-head keys and values. The cache stores entries in pages of
// `pageSize` tokens, shared by all sequences: a sequence owns a list of
// pages (its block table) that grows as it does, so sequences of different
// lengths waste at most one partial page each.
//
// Storage layout (what `@decode` reads): [layers, pages, pageSize, width]
// f32 or bf16, row-major. The compiled code only reads the cache; the
// runtime stores the entries each `@prefill` or `@decode` call returns (in
// f32; a bf16 cache rounds them to nearest even).
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_KVCACHE_H
#define DSC_RUNTIME_KVCACHE_H

#include "absl/status/status.h"

#include <cstdint>
#include <functional>
#include <vector>

namespace dsc::runtime {

/// What the cache stores its values as.
enum class KvCacheElement { F32, BF16 };

/// The geometry of a cache, from the artifact's `@decode` signature.
struct KvCacheShape {
  int64_t layers = 0;
  int64_t pageSize = 0;
  /// Values per token per layer: kv_lora_rank + qk_rope_head_dim.
  int64_t width = 0;
  KvCacheElement element = KvCacheElement::F32;

  int64_t elementBytes() const {
    return element == KvCacheElement::BF16 ? 2 : 4;
  }
  /// Bytes one token costs over all layers.
  int64_t bytesPerToken() const { return layers * width * elementBytes(); }
};

/// Page bookkeeping and entry stores over caller-owned storage.
class KvCache {
public:
  /// Copies `bytes` bytes from host memory to `offset` bytes into storage
  /// the host cannot write itself (a GPU's memory).
  using Writer = std::function<absl::Status(int64_t offset, const void *from,
                                            size_t bytes)>;

  /// `storage` holds `pages` pages; it must outlive the cache. Without a
  /// `writer`, the host writes the storage directly.
  KvCache(void *storage, KvCacheShape shape, int64_t pages,
          Writer writer = nullptr);

  const KvCacheShape &shape() const { return geometry; }
  int64_t pages() const { return pageCount; }
  int64_t capacityTokens() const { return pageCount * geometry.pageSize; }
  /// [layers, pages, pageSize, width] of `shape().element`.
  void *storage() const { return data; }

  /// Starts `count` empty sequences (numbered 0 .. count - 1), dropping
  /// the previous ones and freeing all pages.
  void reset(int64_t count);
  /// Gives each sequence b enough pages to hold `lengths[b]` tokens. Fails
  /// with ResourceExhausted, allocating nothing, when the pages run out.
  absl::Status reserve(const std::vector<int64_t> &lengths);
  /// Tokens sequence b holds (entries stored so far).
  int64_t length(int64_t b) const { return lengths[b]; }

  /// Stores entries returned by a call over `batch` sequences of `seq`
  /// new tokens (`latents` [layers, batch, seq, width]): for each sequence
  /// b, its first `counts[b]` new tokens go to positions length(b) on.
  /// The pages must have been reserved. A bf16 cache rounds each value to
  /// nearest even. Fails only when the writer does.
  absl::Status store(const float *latents, int64_t batch, int64_t seq,
                     const std::vector<int64_t> &counts);

  /// Counts `counts[b]` more entries for each sequence b, stored by someone
  /// else (a decode call that writes the cache itself).
  void advance(const std::vector<int64_t> &counts);

  /// The block table [batch, maxPages] (i64) of all sequences, each row
  /// padded with page -1: beyond its sequence's length, never read (the
  /// attention clamps it) and never written (a decode that stores its
  /// entries skips it).
  std::vector<int64_t> blockTable(int64_t &maxPages) const;

private:
  void *data;
  Writer write;
  KvCacheShape geometry;
  int64_t pageCount;
  std::vector<int64_t> freePages;
  std::vector<std::vector<int64_t>> pagesOf;
  std::vector<int64_t> lengths;
};

} // namespace dsc::runtime

#endif // DSC_RUNTIME_KVCACHE_H
