//===- Workspace.cpp - The compiled code's allocations --------------------===//

#include "runtime/Workspace.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

#include <algorithm>
#include <csetjmp>
#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace dsc::runtime {
namespace {

/// The allocations of the call in progress on this thread.
struct Workspace {
  BlockAllocator *allocator = nullptr;
  uint64_t limit = 0;
  uint64_t live = 0;
  uint64_t peak = 0;
  uint64_t failedRequest = 0;
  /// Set when the call is abandoned for another reason than memory.
  absl::Status failure;
  /// The call's live blocks and their sizes. Open addressing: no
  /// allocation per block (a node map's were a tenth of a decode step).
  absl::flat_hash_map<void *, uint64_t> blocks;
  std::jmp_buf abandon;
};

thread_local Workspace *current = nullptr;

/// Abandons the call: control returns to runInWorkspace's setjmp. No frame
/// in between (compiled code, the hooks below) has destructors to run.
[[noreturn]] void exhausted(uint64_t request) {
  current->failedRequest = request;
  std::longjmp(current->abandon, 1);
}

bool passesLimit(uint64_t size) {
  return current->limit &&
         (size > current->limit || current->live > current->limit - size);
}

void *allocateTracked(uint64_t size, uint64_t alignment) {
  if (!current)
    return heapAllocator().allocate(size, alignment);
  if (passesLimit(size))
    exhausted(size);
  void *block = current->allocator->allocate(size, alignment);
  if (!block)
    exhausted(size);
  current->blocks.emplace(block, size);
  current->live += size;
  current->peak = std::max(current->peak, current->live);
  return block;
}

extern "C" void *workspaceAlloc(uint64_t size) {
  return allocateTracked(size, alignof(std::max_align_t));
}

extern "C" void *workspaceAlignedAlloc(uint64_t alignment, uint64_t size) {
  return allocateTracked(size, alignment);
}

extern "C" void workspaceFree(void *block) {
  if (!block)
    return;
  if (!current) {
    heapAllocator().release(block);
    return;
  }
  if (auto it = current->blocks.find(block); it != current->blocks.end()) {
    current->live -= it->second;
    current->blocks.erase(it);
  }
  current->allocator->release(block);
}

void setHook(const HostModule &module, const char *name, void *function) {
  absl::StatusOr<void *> slot = module.symbol(name);
  if (slot.ok())
    *static_cast<void **>(*slot) = function;
}

} // namespace

void installAllocationHooks(const HostModule &module) {
  setHook(module, "dsc_alloc_hook", reinterpret_cast<void *>(&workspaceAlloc));
  setHook(module, "dsc_aligned_alloc_hook",
          reinterpret_cast<void *>(&workspaceAlignedAlloc));
  setHook(module, "dsc_free_hook", reinterpret_cast<void *>(&workspaceFree));
}

void abandonCall(absl::Status status) {
  if (!current) {
    std::fprintf(stderr, "dsc: internal error outside a call: %s\n",
                 std::string(status.message()).c_str());
    std::abort();
  }
  current->failure = std::move(status);
  std::longjmp(current->abandon, 1);
}

absl::Status runInWorkspace(void (*entry)(void **), void **argv, uint64_t limit,
                            BlockAllocator &allocator) {
  Workspace workspace;
  // A decode step makes a few hundred allocations; most are freed before
  // the next, so this many slots are rarely outgrown.
  workspace.blocks.reserve(256);
  workspace.allocator = &allocator;
  workspace.limit = limit;
  Workspace *outer = current;
  current = &workspace;
  if (setjmp(workspace.abandon) != 0) {
    // The call was abandoned mid-way: nothing it allocated is referenced
    // any more.
    for (auto &[block, size] : workspace.blocks)
      allocator.release(block);
    current = outer;
    if (!workspace.failure.ok())
      return workspace.failure;
    std::string limitText =
        limit ? absl::StrCat(" (workspace limit ", limit, " bytes)") : "";
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory while running the model: an allocation of ",
                     workspace.failedRequest, " bytes failed with ",
                     workspace.live, " bytes in use", limitText,
                     "; use shorter or fewer sequences, or more memory"));
  }
  entry(argv);
  current = outer;
  return absl::OkStatus();
}

} // namespace dsc::runtime
