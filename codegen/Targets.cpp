//===- Targets.cpp - Compile lowered modules to target binaries -----------===//

#include "codegen/Targets.h"
#include "runtime/support/HostCpu.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/ExecutionEngine/OptUtils.h"
#include "mlir/Target/LLVMIR/Dialect/Builtin/BuiltinToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/GPU/GPUToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/LLVMIR/LLVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Dialect/NVVM/NVVMToLLVMIRTranslation.h"
#include "mlir/Target/LLVMIR/Export.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/LegacyPassManager.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Process.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/Threading.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

#include <cstdlib>

using namespace mlir;
using namespace mlir::dsc;

bool mlir::dsc::isSupportedTarget(StringRef target) {
  return llvm::is_contained(supportedTargets(), target);
}

ArrayRef<StringRef> mlir::dsc::supportedTargets() {
  static const StringRef targets[] = {"cpu", "sm_80", "sm_90a"};
  return targets;
}

namespace {
/// A temporary file removed when it goes out of scope.
struct TempFile {
  SmallString<128> path;
  ~TempFile() {
    if (!path.empty())
      llvm::sys::fs::remove(path);
  }
  LogicalResult create(StringRef prefix, StringRef suffix, std::string &error) {
    int fd;
    if (std::error_code ec =
            llvm::sys::fs::createTemporaryFile(prefix, suffix, fd, path)) {
      error = "cannot create a temporary file: " + ec.message();
      return failure();
    }
    llvm::sys::Process::SafelyCloseFileDescriptor(fd);
    return success();
  }
};

/// Runs `program args...`, capturing stderr into `error` on failure.
LogicalResult run(StringRef program, ArrayRef<StringRef> args,
                  std::string &error) {
  TempFile log;
  if (failed(log.create("dsc-tool", "log", error)))
    return failure();
  std::optional<StringRef> redirects[] = {std::nullopt, StringRef(log.path),
                                          StringRef(log.path)};
  std::string execError;
  int rc = llvm::sys::ExecuteAndWait(program, args, std::nullopt, redirects, 0,
                                     0, &execError);
  if (rc == 0)
    return success();
  auto output = llvm::MemoryBuffer::getFile(log.path);
  error = (program + " failed" + (execError.empty() ? "" : ": " + execError) +
           (output ? ": " + (*output)->getBuffer().trim() : ""))
              .str();
  return failure();
}

/// Libc functions the GPU host code calls directly (upstream's gpu-to-llvm
/// does not use MLIR's generic allocation functions). Routed through the
/// same slots as dsc-allocation-hooks makes for the CPU code, so that the
/// runtime can hand out memory the GPU reaches.
struct LibcImport {
  StringLiteral function, slot;
};
constexpr LibcImport kLibcImports[] = {
    {"malloc", "dsc_alloc_hook"},
    {"aligned_alloc", "dsc_aligned_alloc_hook"},
    {"free", "dsc_free_hook"},
};

/// An exported, writable pointer named `name`, initialized to `initial`
/// (null when none).
llvm::GlobalVariable *createSlot(llvm::Module &module, StringRef name,
                                 llvm::Constant *initial) {
  auto *ptrType = llvm::PointerType::get(module.getContext(), 0);
  return new llvm::GlobalVariable(
      module, ptrType, /*isConstant=*/false, llvm::GlobalValue::ExternalLinkage,
      initial ? initial : llvm::ConstantPointerNull::get(ptrType), name);
}

/// Turns every call of `callee` into a call through the exported, writable
/// pointer `slot`, which starts out as `initial`. Without an initial
/// function, a call through an unfilled slot calls `unbound(name)` (the
/// runtime's error path) instead of address zero.
void routeThroughSlot(llvm::Module &module, llvm::Function &callee,
                      StringRef slot, llvm::Constant *initial,
                      llvm::GlobalVariable *unbound = nullptr) {
  llvm::LLVMContext &context = module.getContext();
  auto *ptrType = llvm::PointerType::get(context, 0);
  llvm::GlobalVariable *global = createSlot(module, slot, initial);
  auto *stub = llvm::Function::Create(callee.getFunctionType(),
                                      llvm::GlobalValue::InternalLinkage,
                                      "dsc.import." + callee.getName(), module);
  llvm::IRBuilder<> b(llvm::BasicBlock::Create(context, "entry", stub));
  llvm::Value *target = b.CreateLoad(ptrType, global);
  if (unbound) {
    auto *missing = llvm::BasicBlock::Create(context, "unbound", stub);
    auto *bound = llvm::BasicBlock::Create(context, "bound", stub);
    b.CreateCondBr(b.CreateIsNull(target), missing, bound);
    b.SetInsertPoint(missing);
    auto *reportType = llvm::FunctionType::get(llvm::Type::getVoidTy(context),
                                               {ptrType}, false);
    b.CreateCall(reportType, b.CreateLoad(ptrType, unbound),
                 {b.CreateGlobalString(callee.getName())});
    b.CreateUnreachable();
    b.SetInsertPoint(bound);
  }
  SmallVector<llvm::Value *> args;
  for (llvm::Argument &arg : stub->args())
    args.push_back(&arg);
  llvm::CallInst *call = b.CreateCall(callee.getFunctionType(), target, args);
  if (stub->getReturnType()->isVoidTy())
    b.CreateRetVoid();
  else
    b.CreateRet(call);
  // Calls only: the slot's initializer keeps referring to libc itself.
  for (llvm::Use &use : llvm::make_early_inc_range(callee.uses()))
    if (auto *site = dyn_cast<llvm::CallBase>(use.getUser());
        site && site->isCallee(&use))
      use.set(stub);
}

/// Replaces the static constructor (destructor) list `list` by the exported
/// function `name` that runs the same functions in the same order.
void runStaticListOnRequest(llvm::Module &module, StringRef list,
                            StringRef name) {
  auto *ctors = module.getGlobalVariable(list);
  auto *fnType = llvm::FunctionType::get(
      llvm::Type::getVoidTy(module.getContext()), /*isVarArg=*/false);
  auto *fn = llvm::Function::Create(fnType, llvm::GlobalValue::ExternalLinkage,
                                    name, module);
  llvm::IRBuilder<> b(
      llvm::BasicBlock::Create(module.getContext(), "entry", fn));
  if (ctors && ctors->hasInitializer()) {
    SmallVector<std::pair<uint64_t, llvm::Function *>> entries;
    if (auto *array = dyn_cast<llvm::ConstantArray>(ctors->getInitializer()))
      for (llvm::Value *op : array->operands()) {
        auto *entry = cast<llvm::ConstantStruct>(op);
        uint64_t priority =
            cast<llvm::ConstantInt>(entry->getOperand(0))->getZExtValue();
        if (auto *f = dyn_cast<llvm::Function>(entry->getOperand(1)))
          entries.push_back({priority, f});
      }
    llvm::stable_sort(entries, llvm::less_first());
    for (auto &[priority, f] : entries)
      b.CreateCall(f);
    ctors->eraseFromParent();
  }
  b.CreateRetVoid();
}

/// The GPU host code calls MLIR's GPU runtime interface (mgpuModuleLoadJIT,
/// mgpuLaunchKernel, ...), dsc's (dsc_gpu_*) and libc's allocator, and loads
/// its kernel modules in static constructors. A shared object dlopen'ed by the
/// dsc runtime must not depend on either: every such call goes through an
/// exported slot `dsc_import_<function>` the runtime fills (and the allocator's
/// through the allocation hooks), and the constructors (destructors) run when
/// the runtime calls `dsc_gpu_modules_load` (`dsc_gpu_modules_unload`), after
/// it filled the slots.
void bindGpuRuntimeImports(llvm::Module &module) {
  llvm::GlobalVariable *unbound =
      createSlot(module, "dsc_import_unbound", nullptr);
  for (llvm::Function &f : llvm::make_early_inc_range(module.functions())) {
    if (!f.isDeclaration() || f.use_empty())
      continue;
    // MLIR's GPU runtime interface, and dsc's own GPU runtime functions
    // (dsc_gpu_tensor_map_bf16 and the other dsc_gpu_tensor_map_*).
    if (f.getName().starts_with("mgpu") ||
        f.getName().starts_with("dsc_gpu_")) {
      routeThroughSlot(module, f, ("dsc_import_" + f.getName()).str(), nullptr,
                       unbound);
      if (f.use_empty())
        f.eraseFromParent();
      continue;
    }
    for (const LibcImport &libc : kLibcImports)
      if (f.getName() == libc.function)
        routeThroughSlot(module, f, libc.slot, &f);
  }
  runStaticListOnRequest(module, "llvm.global_ctors", "dsc_gpu_modules_load");
  runStaticListOnRequest(module, "llvm.global_dtors", "dsc_gpu_modules_unload");
}
} // namespace

/// LLVM's targets, registered once, before any host object builds on a
/// thread of its own: registering writes the registry's entries (and its
/// list of targets), which such a build reads. All of them, NVPTX too, so
/// that the GPU lowering's own registration of NVPTX later finds it listed
/// and adds nothing.
static void registerLlvmTargets() {
  static llvm::once_flag once;
  llvm::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
  });
}

mlir::dsc::HostModule::HostModule() = default;
mlir::dsc::HostModule::HostModule(HostModule &&) = default;
mlir::dsc::HostModule &mlir::dsc::HostModule::operator=(HostModule &&other) {
  if (this == &other)
    return *this;
  // The module before the context it lives in (members are destroyed in
  // the reverse of their order, which the destructor gets right).
  module.reset();
  context = std::move(other.context);
  module = std::move(other.module);
  return *this;
}
mlir::dsc::HostModule::~HostModule() = default;

FailureOr<mlir::dsc::HostModule>
mlir::dsc::translateHostModule(ModuleOp module, std::string &error) {
  // The GPU host code holds gpu.binary and gpu.launch_func ops, translated
  // by the GPU dialect's offloading interface.
  bool hasGpuCode = !module.getOps<gpu::BinaryOp>().empty();
  DialectRegistry registry;
  registerBuiltinDialectTranslation(registry);
  registerLLVMDialectTranslation(registry);
  registerGPUDialectTranslation(registry);
  registerNVVMDialectTranslation(registry);
  gpu::registerOffloadingLLVMTranslationInterfaceExternalModels(registry);
  module.getContext()->appendDialectRegistry(registry);
  registerLlvmTargets();

  HostModule host;
  host.context = std::make_unique<llvm::LLVMContext>();
  host.module = translateModuleToLLVMIR(module, *host.context, "dsc_host");
  if (!host.module) {
    error = "translation of the host module to LLVM IR failed";
    return failure();
  }
  if (hasGpuCode)
    bindGpuRuntimeImports(*host.module);
  return host;
}

FailureOr<std::vector<char>>
mlir::dsc::buildHostSharedObject(HostModule host, StringRef cpu,
                                 std::string &error) {
  llvm::Module *llvmModule = host.module.get();
  // One x86-64 level, recorded in the manifest and checked when the
  // runtime loads the code.
  llvm::Triple triple("x86_64-unknown-linux-gnu");
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return failure();
  std::unique_ptr<llvm::TargetMachine> machine(target->createTargetMachine(
      triple, ::dsc::hostCpuLlvmName(cpu), ::dsc::hostCpuLlvmFeatures(cpu),
      llvm::TargetOptions(), llvm::Reloc::PIC_, std::nullopt,
      llvm::CodeGenOptLevel::Aggressive));
  llvmModule->setTargetTriple(triple);
  llvmModule->setDataLayout(machine->createDataLayout());

  auto optimize =
      makeOptimizingTransformer(/*optLevel=*/3, /*sizeLevel=*/0, machine.get());
  if (llvm::Error err = optimize(llvmModule)) {
    error = "LLVM optimization failed: " + llvm::toString(std::move(err));
    return failure();
  }

  TempFile object, shared;
  if (failed(object.create("dsc-host", "o", error)) ||
      failed(shared.create("dsc-host", "so", error)))
    return failure();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(object.path, ec);
    if (ec) {
      error = "cannot write " + object.path.str().str() + ": " + ec.message();
      return failure();
    }
    llvm::legacy::PassManager pm;
    if (machine->addPassesToEmitFile(pm, os, nullptr,
                                     llvm::CodeGenFileType::ObjectFile)) {
      error = "the x86-64 backend cannot emit object files";
      return failure();
    }
    pm.run(*llvmModule);
    os.close();
    if (os.has_error()) {
      error = "cannot write " + object.path.str().str() + ": " +
              os.error().message();
      os.clear_error(); // Reported: do not let the destructor abort.
      return failure();
    }
  }
  // Link with the C compiler driver ($DSC_LINKER, cc, clang-22): it knows
  // the platform's crt files and libm, which the generated code calls.
  std::string linker;
  for (const char *candidate : {(const char *)std::getenv("DSC_LINKER"), "cc",
                                "clang-22", "gcc", "clang"}) {
    if (!candidate || !*candidate)
      continue;
    if (auto found = llvm::sys::findProgramByName(candidate)) {
      linker = *found;
      break;
    }
  }
  if (linker.empty()) {
    error = "no linker found: install a C compiler (cc) or set DSC_LINKER";
    return failure();
  }
  if (failed(run(linker,
                 // -z defs: every symbol must resolve against libc/libm now,
                 // not when the runtime dlopens the artifact.
                 {linker, "-shared", "-Wl,-z,defs", "-o", shared.path,
                  object.path, "-lm"},
                 error)))
    return failure();
  auto bytes = llvm::MemoryBuffer::getFile(shared.path);
  if (!bytes) {
    error = "cannot read the linked host object: " + bytes.getError().message();
    return failure();
  }
  return std::vector<char>((*bytes)->getBufferStart(),
                           (*bytes)->getBufferEnd());
}

FailureOr<std::vector<char>>
mlir::dsc::compileHostSharedObject(ModuleOp module, StringRef cpu,
                                   std::string &error) {
  FailureOr<HostModule> host = translateHostModule(module, error);
  if (failed(host))
    return failure();
  return buildHostSharedObject(std::move(*host), cpu, error);
}

std::vector<GpuKernelBinary> mlir::dsc::collectPtx(ModuleOp module) {
  std::vector<GpuKernelBinary> kernels;
  module.walk([&](gpu::BinaryOp binary) {
    for (Attribute attr : binary.getObjects()) {
      auto object = dyn_cast<gpu::ObjectAttr>(attr);
      if (!object || object.getFormat() != gpu::CompilationTarget::Assembly)
        continue;
      kernels.push_back(
          {binary.getSymName().str(), object.getObject().getValue().str(), {}});
    }
  });
  return kernels;
}

std::optional<std::string> mlir::dsc::findPtxas() {
  // $CUDA_HOME names the toolkit the user chose; then PATH; then the
  // toolkit's default location.
  if (const char *home = std::getenv("CUDA_HOME")) {
    SmallString<256> bin(home);
    llvm::sys::path::append(bin, "bin");
    if (auto found = llvm::sys::findProgramByName("ptxas", {bin}))
      return *found;
  }
  if (auto found = llvm::sys::findProgramByName("ptxas"))
    return *found;
  if (auto found =
          llvm::sys::findProgramByName("ptxas", {"/usr/local/cuda/bin"}))
    return *found;
  return std::nullopt;
}

std::optional<std::string> mlir::dsc::findCudaToolkit() {
  std::optional<std::string> ptxas = findPtxas();
  if (!ptxas)
    return std::nullopt;
  SmallString<256> root(*ptxas);
  llvm::sys::path::remove_filename(root); // bin/
  llvm::sys::path::remove_filename(root); // the toolkit
  return root.str().str();
}

LogicalResult mlir::dsc::assemblePtx(const std::string &ptxas, StringRef chip,
                                     GpuKernelBinary &kernel,
                                     std::string &error) {
  TempFile ptx, cubin;
  if (failed(ptx.create("dsc-kernel", "ptx", error)) ||
      failed(cubin.create("dsc-kernel", "cubin", error)))
    return failure();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(ptx.path, ec);
    if (!ec)
      os << kernel.ptx;
    os.close();
    if (ec || os.has_error()) {
      error = "cannot write " + ptx.path.str().str() + ": " +
              (ec ? ec : os.error()).message();
      os.clear_error();
      return failure();
    }
  }
  std::string arch = ("-arch=" + chip).str();
  if (failed(run(ptxas, {ptxas, arch, "-o", cubin.path, ptx.path}, error))) {
    error = "kernel '" + kernel.name + "' for " + chip.str() + ": " + error;
    return failure();
  }
  auto bytes = llvm::MemoryBuffer::getFile(cubin.path);
  if (!bytes) {
    error = "cannot read the cubin of '" + kernel.name + "'";
    return failure();
  }
  kernel.cubin.assign((*bytes)->getBufferStart(), (*bytes)->getBufferEnd());
  return success();
}
