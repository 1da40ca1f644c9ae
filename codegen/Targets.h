//===- Targets.h - Compile lowered modules to target binaries ---*- C++ -*-===//
//
// The last step of codegen for each target: the CPU module (LLVM dialect) to
// a host shared object, and the GPU module to PTX per kernel, checked and
// assembled by ptxas when the CUDA Toolkit is present.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_CODEGEN_TARGETS_H
#define DSC_CODEGEN_TARGETS_H

#include "mlir/IR/BuiltinOps.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace llvm {
class LLVMContext;
class Module;
} // namespace llvm

namespace mlir::dsc {

/// The targets dsc compiles for.
bool isSupportedTarget(StringRef target);
/// "cpu", "sm_80", "sm_90a".
ArrayRef<StringRef> supportedTargets();

/// A lowered module's host code as LLVM IR, in an LLVM context of its own:
/// nothing of MLIR's, so buildHostSharedObject may run on another thread
/// while the MLIR context goes on with other work.
struct HostModule {
  std::unique_ptr<llvm::LLVMContext> context;
  std::unique_ptr<llvm::Module> module; // After its context: freed first.

  // Out of line: llvm::Module is incomplete here.
  HostModule();
  HostModule(HostModule &&);
  HostModule &operator=(HostModule &&);
  ~HostModule();
};

/// Translates an LLVM-dialect module to LLVM IR (on the thread that uses
/// its MLIR context). For the host side of a GPU target (a module holding
/// `gpu.binary` ops) the object embeds the kernels' PTX and leaves the GPU
/// runtime calls and the module loading to the dsc runtime: see
/// docs/architecture.md. Fails with a message in `error`.
FailureOr<HostModule> translateHostModule(ModuleOp module, std::string &error);

/// Optimizes `host` and compiles it to native code for x86-64 level `cpu`
/// (x86-64, x86-64-v2, -v3, -v4 or -v4-bf16; runtime/support/HostCpu.h), then
/// links it into a shared object (with the system C compiler driver as linker).
/// Safe on any thread. Returns the shared object's bytes, or fails with a
/// message in `error`.
FailureOr<std::vector<char>>
buildHostSharedObject(HostModule host, StringRef cpu, std::string &error);

/// translateHostModule, then buildHostSharedObject.
FailureOr<std::vector<char>>
compileHostSharedObject(ModuleOp module, StringRef cpu, std::string &error);

/// One GPU kernel module's PTX, and its cubin when ptxas assembled it.
struct GpuKernelBinary {
  std::string name;
  std::string ptx;
  std::vector<char> cubin;
};

/// Collects the PTX of every `gpu.binary` in `module`.
std::vector<GpuKernelBinary> collectPtx(ModuleOp module);

/// The ptxas of the CUDA Toolkit, if installed ($CUDA_HOME/bin, PATH,
/// /usr/local/cuda/bin).
std::optional<std::string> findPtxas();

/// The CUDA Toolkit root (the directory above ptxas's bin/), if installed.
std::optional<std::string> findCudaToolkit();

/// Assembles `kernel.ptx` for `chip` with ptxas into `kernel.cubin`.
LogicalResult assemblePtx(const std::string &ptxas, StringRef chip,
                          GpuKernelBinary &kernel, std::string &error);

} // namespace mlir::dsc

#endif // DSC_CODEGEN_TARGETS_H
