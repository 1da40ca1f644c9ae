//===- Workspace.h - The compiled code's allocations ------------*- C++ -*-===//
//
// The host code allocates its intermediate buffers through exported hooks
// (`dsc-allocation-hooks`). The runtime points them here: every allocation
// of one call is tracked against an optional byte limit, and an allocation
// that fails (or would pass the limit) abandons the call with longjmp,
// frees what the call had allocated and becomes a RESOURCE_EXHAUSTED status
// instead of a crash inside compiled code.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_WORKSPACE_H
#define DSC_RUNTIME_WORKSPACE_H

#include "runtime/BlockAllocator.h"
#include "runtime/HostModule.h"

#include "absl/status/status.h"

#include <cstdint>

namespace dsc::runtime {

/// Points the host module's allocation hooks at the workspace allocator.
/// Modules without hooks (older artifacts) keep libc's allocator.
void installAllocationHooks(const HostModule &module);

/// Runs `entry(argv)` with its allocations tracked; `limit` bytes (0: no
/// limit) may be live at once. Returns RESOURCE_EXHAUSTED, with everything
/// the call allocated freed, when an allocation fails or passes the limit.
absl::Status runInWorkspace(void (*entry)(void **), void **argv, uint64_t limit,
                            BlockAllocator &allocator = heapAllocator());

/// Abandons the call in progress on this thread (inside runInWorkspace),
/// which then frees the call's blocks and returns `status`. For runtime
/// functions the compiled code calls (the GPU runtime interface) whose
/// failure must not end the process. Outside a call it aborts: a dsc bug.
[[noreturn]] void abandonCall(absl::Status status);

} // namespace dsc::runtime

#endif // DSC_RUNTIME_WORKSPACE_H
