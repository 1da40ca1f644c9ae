//===- Workspace.cpp - The compiled code's allocations --------------------===//

#include "runtime/Workspace.h"

#include "absl/strings/str_cat.h"

#include <cstdlib>

namespace dsc::runtime {
namespace {

/// The allocations of the call in progress on this thread.
struct Workspace {
  uint64_t limit = 0;
  uint64_t live = 0;
  uint64_t peak = 0;
  uint64_t failedRequest = 0;
  std::unordered_map<void *, uint64_t> blocks;
  std::jmp_buf abandon;
};

thread_local Workspace *current = nullptr;

/// Abandons the call: control returns to runInWorkspace's setjmp. No frame
/// in between (compiled code, the hooks below) has destructors to run.
[[noreturn]] void exhausted(uint64_t request) {
  current->failedRequest = request;
  std::longjmp(current->abandon, 1);
}

void *track(void *block, uint64_t size) {
  if (!block)
    exhausted(size);
  current->blocks.emplace(block, size);
  current->live += size;
  current->peak = std::max(current->peak, current->live);
  return block;
}

bool passesLimit(uint64_t size) {
  return current->limit &&
         (size > current->limit || current->live > current->limit - size);
}

extern "C" void *workspaceAlloc(uint64_t size) {
  if (!current)
    return std::malloc(size);
  if (passesLimit(size))
    exhausted(size);
  return track(std::malloc(size), size);
}

extern "C" void *workspaceAlignedAlloc(uint64_t alignment, uint64_t size) {
  void *block = nullptr;
  if (!current)
    return posix_memalign(&block, alignment, size) == 0 ? block : nullptr;
  if (passesLimit(size))
    exhausted(size);
  if (posix_memalign(&block, alignment, size) != 0)
    block = nullptr;
  return track(block, size);
}

extern "C" void workspaceFree(void *block) {
  if (current && block) {
    auto it = current->blocks.find(block);
    if (it != current->blocks.end()) {
      current->live -= it->second;
      current->blocks.erase(it);
    }
  }
  std::free(block);
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

absl::Status runInWorkspace(void (*entry)(void **), void **argv,
                            uint64_t limit) {
  Workspace workspace;
  workspace.limit = limit;
  Workspace *outer = current;
  current = &workspace;
  if (setjmp(workspace.abandon) != 0) {
    // The call was abandoned mid-way: nothing it allocated is referenced
    // any more.
    for (auto &[block, size] : workspace.blocks)
      std::free(block);
    current = outer;
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
