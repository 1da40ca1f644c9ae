//===- dsc-kernels.cpp - Compile dsc's kernel library to PTX --------------===//
//
// The hand-scheduled kernels of codegen/kernels/ (gpu, nvgpu and nvvm
// dialects) lowered for one chip, one PTX file per gpu.module:
//
//   dsc-kernels codegen/kernels/grouped_gemm_bf16.mlir --chip sm_90a -o DIR
//
// writes DIR/<module>.<chip>.ptx, checked by ptxas when the CUDA Toolkit is
// installed. The runtime benchmarks (tools/gpu-check.sh) load these files.
// A gpu.module with a `dsc.chips` list is compiled for those chips only;
// one with `dsc.ptx = N` needs PTX ISA N / 10 . N % 10 (default 8.0).
//
//===----------------------------------------------------------------------===//

#include "codegen/Targets.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdlib>

using namespace mlir;
namespace cl = llvm::cl;

static cl::opt<std::string> input(cl::Positional, cl::Required,
                                  cl::desc("<kernel library .mlir>"));
static cl::opt<std::string> chip("chip", cl::init("sm_90a"),
                                 cl::desc("NVIDIA target: sm_80 or sm_90a"));
static cl::opt<std::string> outputDir("o", cl::Required,
                                      cl::desc("output directory"));

static int fail(const llvm::Twine &message) {
  llvm::errs() << "dsc-kernels: " << message << "\n";
  return 1;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::ParseCommandLineOptions(argc, argv,
                              "dsc-kernels: compile dsc's kernel library to "
                              "PTX for one chip\n");
  if (chip != "sm_80" && chip != "sm_90a")
    return fail("unknown chip '" + chip + "' (expected sm_80 or sm_90a)");
  registerAllPasses();
  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  MLIRContext context(registry);

  llvm::SourceMgr sources;
  OwningOpRef<ModuleOp> module =
      parseSourceFile<ModuleOp>(input, sources, &context);
  if (!module)
    return fail("cannot parse " + input);
  // A gpu.module may name the chips it is written for (dsc.chips, e.g.
  // wgmma and TMA exist from sm_90a on); for any other chip it is left out.
  // It may also need a newer PTX ISA than 8.0 (dsc.ptx, e.g. 84 for FP8
  // mma.sync); the file is compiled with the newest any module asks for.
  int kept = 0, ptxVersion = 80;
  if (module->getOps<gpu::GPUModuleOp>().empty())
    return fail(input + " holds no gpu.module");
  for (gpu::GPUModuleOp gpuModule :
       llvm::make_early_inc_range(module->getOps<gpu::GPUModuleOp>())) {
    auto chips = gpuModule->getAttrOfType<ArrayAttr>("dsc.chips");
    if (!chips || llvm::any_of(chips, [](Attribute a) {
          auto s = dyn_cast<StringAttr>(a);
          return s && s.getValue() == chip;
        })) {
      ++kept;
      if (auto ptx = gpuModule->getAttrOfType<IntegerAttr>("dsc.ptx")) {
        // PTX ISA 8.0 to 9.x: what LLVM 22's NVPTX backend can write.
        if (ptx.getInt() < 80 || ptx.getInt() > 99)
          return fail(input + ": " + gpuModule.getName() + " asks for PTX " +
                      std::to_string(ptx.getInt()) +
                      " (dsc.ptx must be 80 to 99)");
        ptxVersion = std::max<int>(ptxVersion, ptx.getInt());
      }
      continue;
    }
    llvm::errs() << "dsc-kernels: " << gpuModule.getName() << " is for "
                 << chips << " only; not compiled for " << chip << "\n";
    gpuModule.erase();
  }
  if (kept == 0)
    return 0;
  // libdevice comes from the toolkit named by CUDA_HOME.
  if (std::optional<std::string> toolkit = dsc::findCudaToolkit();
      toolkit && !std::getenv("CUDA_HOME"))
    ::setenv("CUDA_HOME", toolkit->c_str(), /*overwrite=*/0);
  PassManager pm(&context);
  if (failed(parsePassPipeline(
          "gpu-lower-to-nvvm-pipeline{cubin-chip=" + chip +
              " cubin-features=+ptx" + std::to_string(ptxVersion) +
              " cubin-format=isa opt-level=3}",
          pm, llvm::errs())) ||
      failed(pm.run(*module)))
    return fail("lowering " + input + " failed");
  std::vector<dsc::GpuKernelBinary> kernels = dsc::collectPtx(*module);
  if (kernels.empty())
    return fail(input + " holds no gpu.module");

  llvm::sys::fs::create_directories(outputDir);
  std::optional<std::string> ptxas = dsc::findPtxas();
  for (dsc::GpuKernelBinary &kernel : kernels) {
    std::string error;
    if (ptxas && failed(dsc::assemblePtx(*ptxas, chip, kernel, error)))
      return fail(error);
    llvm::SmallString<256> path(outputDir);
    llvm::sys::path::append(path, kernel.name + "." + chip + ".ptx");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return fail("cannot write " + path + ": " + ec.message());
    os << kernel.ptx;
  }
  return 0;
}
