//===- dsc-compile.cpp - Ahead-of-time compiler driver --------------------===//
//
// dsc-compile MODEL -o OUT [--target cpu,sm_80,sm_90a]
//             [--emit import|fused|ptx|artifact] [--shapes-only]
//             [--embed-weights]
//
// MODEL is a Hugging Face checkpoint directory or a .mlir file holding the
// canonical graph. The default output is one .dscx artifact: the manifest,
// the host shared object for `cpu` and PTX (and cubins when ptxas exists)
// for each GPU target.
//
//===----------------------------------------------------------------------===//

#include "codegen/FoldWeights.h"
#include "codegen/Passes.h"
#include "codegen/Targets.h"
#include "dialects/dsc/DscDialect.h"
#include "dialects/dsc/DscOps.h"
#include "frontends/hf/Importer.h"
#include "frontends/onnx/OnnxImporter.h"
#include "passes/Passes.h"
#include "runtime/WeightBinder.h"
#include "runtime/artifact/Artifact.h"
#include "runtime/support/HostCpu.h"
#include "runtime/support/Json.h"
#include "runtime/support/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/InitAllDialects.h"
#include "mlir/InitAllExtensions.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Support/Timing.h"
#include "mlir/Target/LLVMIR/Dialect/All.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <future>
#include <map>
#include <numeric>
#include <optional>
#include <set>

using namespace mlir;
namespace cl = llvm::cl;
namespace artifact = ::dsc::artifact;
namespace hf = ::dsc::hf;
namespace json = ::dsc::json;
namespace rt = ::dsc::runtime;
namespace st = ::dsc::st;

namespace {

cl::OptionCategory category("dsc-compile options");

cl::opt<std::string> modelPath(cl::Positional, cl::Required,
                               cl::desc("<checkpoint dir or .mlir file>"),
                               cl::cat(category));
cl::opt<std::string> outputPath("o", cl::Required,
                                cl::desc("Output file (a directory for "
                                         "--emit ptx; - for stdout with "
                                         "--emit import|fused)"),
                                cl::value_desc("path"), cl::cat(category));
cl::opt<std::string> targetList("target", cl::init("cpu,sm_90a"),
                                cl::desc("Comma-separated targets: cpu, "
                                         "sm_80, sm_90a"),
                                cl::cat(category));
enum class Emit { Import, Fused, Ptx, Artifact };
cl::opt<Emit> emit(
    "emit", cl::init(Emit::Artifact), cl::desc("What to write"),
    cl::values(clEnumValN(Emit::Import, "import", "the imported graph (MLIR)"),
               clEnumValN(Emit::Fused, "fused",
                          "the graph after the graph pipeline (MLIR)"),
               clEnumValN(Emit::Ptx, "ptx",
                          "one .ptx file per kernel and "
                          "GPU target into directory -o"),
               clEnumValN(Emit::Artifact, "artifact",
                          "one .dscx artifact (default)")),
    cl::cat(category));
cl::opt<bool> shapesOnly("shapes-only",
                         cl::desc("Import config.json alone; no weights are "
                                  "read (bind them at load time)"),
                         cl::cat(category));
cl::opt<bool> embedWeights("embed-weights",
                           cl::desc("Store the packed weights in the "
                                    "artifact (self-contained file)"),
                           cl::cat(category));
cl::opt<bool> noFusion("no-fusion",
                       cl::desc("Skip the fusion passes (compile the "
                                "canonical graph as imported)"),
                       cl::cat(category));
cl::opt<std::string> importAttention(
    "import-attention", cl::init("naive"),
    cl::desc("How the imported graph computes attention: naive (as "
             "transformers: decompressed keys and values) or absorbed (as "
             "DeepSeek's reference code with attn_impl=absorb); the fusion "
             "finds both"),
    cl::cat(category));
cl::opt<bool> importDecomposed(
    "import-decomposed",
    cl::desc("Import RMSNorm, SwiGLU, RoPE and the router as plain "
             "arithmetic, as a frontend that does not know DeepSeek would; "
             "dsc-fuse-elementwise and dsc-fuse-moe recover them"),
    cl::cat(category));
cl::opt<bool> noKvCache(
    "no-kv-cache",
    cl::desc("Do not add the KV-cached prefill and decode entry points "
             "(generation then recomputes the whole sequence per token)"),
    cl::cat(category));
cl::opt<std::string> kvCacheType(
    "kv-cache-type", cl::init("auto"),
    cl::desc("Element type of the latent KV cache: f32, bf16 (half the "
             "bytes; entries are rounded to bf16 when stored), or auto: bf16 "
             "when a GPU is among the targets (its MLA decode kernel reads "
             "bf16), else f32"),
    cl::cat(category));
cl::opt<std::string> mlaForm(
    "mla-form", cl::init("auto"),
    cl::desc("How fused latent attention computes: auto (by cost), naive "
             "(decompressed keys and values) or absorbed (weight absorption)"),
    cl::cat(category));
cl::opt<bool> fusionReport(
    "fusion-report",
    cl::desc("Print a table on stderr: per layer and fusion pattern, fused "
             "or the reason it did not"),
    cl::cat(category));
cl::opt<bool> libraryReport(
    "library-report",
    cl::desc(
        "Print, per GPU target, each GEMM, SwiGLU, combine, attention, "
        "router, RMSNorm or e4m3 weight the kernel library did not take (it "
        "stays generated code, or the weight is dequantized in full), "
        "and why"),
    cl::cat(category));
cl::opt<std::string> hostCpu(
    "cpu", cl::init(std::string(::dsc::kDefaultHostCpu)),
    cl::desc("x86-64 level of the host code: x86-64, x86-64-v2, x86-64-v3 "
             "(AVX2, FMA; the default), x86-64-v4 (AVX-512: GEMMs in 16 "
             "lanes, 4 x 4 tiles), x86-64-v4-bf16 (and AVX512_BF16: with "
             "--bf16-linear-inputs, the linear layers' GEMMs on bf16 dot "
             "products) or native (the highest this machine runs); the "
             "runtime refuses code the CPU it runs on cannot execute"),
    cl::value_desc("level"), cl::cat(category));
cl::opt<bool> fixedShapes(
    "fixed-shapes",
    cl::desc("Lower the CPU code with the GPU's fixed-shape forms (decode "
             "attention over the whole block table, the routed experts per "
             "slot), to check them against CPU references"),
    cl::cat(category));
cl::opt<bool> bf16LinearInputs(
    "bf16-linear-inputs",
    cl::desc("Lower the CPU code as the GPU's tensor-core GEMMs compute: "
             "the weights of linear layers, routed experts and MLA's kv_b "
             "bound as bf16, their inputs rounded to bf16, to check the "
             "GPU's numerics "
             "against CPU references"),
    cl::cat(category));
using CpuWeights = mlir::dsc::CodegenOptions::CpuWeights;
cl::opt<CpuWeights> cpuWeights(
    "cpu-weights", cl::init(CpuWeights::Stored),
    cl::desc("How the CPU code binds the weights of linear layers, routed "
             "experts and MLA's kv_b"),
    cl::values(clEnumValN(CpuWeights::Stored, "auto",
                          "bf16 where the checkpoint stores them as BF16 (the "
                          "same values in half the bytes; the embedding "
                          "table too), else f32 (default)"),
               clEnumValN(CpuWeights::F32, "f32", "as f32"),
               clEnumValN(CpuWeights::Bf16, "bf16",
                          "as bf16, rounded to nearest even from other "
                          "types")),
    cl::cat(category));
cl::opt<int64_t> cpuParallelMinWork(
    "cpu-parallel-min-work",
    cl::init(mlir::dsc::CodegenOptions().parallelMinMultiplyAdds),
    cl::desc("CPU target: the multiply-adds from which a GEMM's output "
             "columns are split among the runtime's threads (dsc-run "
             "--threads); a negative value splits none. The results are the "
             "same for any number of threads"),
    cl::value_desc("multiply-adds"), cl::cat(category));
cl::opt<int64_t> cpuGemmBlockK(
    "cpu-gemm-block-k", cl::init(mlir::dsc::CodegenOptions().gemmBlockK),
    cl::desc("CPU target: the depth of a GEMM's cache blocks, a multiple of "
             "the k a vector step takes, 8 (16 with --cpu x86-64-v4, 32 with "
             "x86-64-v4-bf16) (0: no cache blocks): each output sums its k "
             "in blocks of this depth, in the same order whatever its tile "
             "or thread"),
    cl::value_desc("k"), cl::cat(category));
cl::opt<int64_t> cpuGemmBlockBytes(
    "cpu-gemm-block-bytes",
    cl::init(mlir::dsc::CodegenOptions().gemmBlockBytes),
    cl::desc("CPU target: the bytes of weights in a GEMM's cache block (its "
             "columns at the block's depth), for the L2 cache"),
    cl::value_desc("bytes"), cl::cat(category));
cl::opt<int64_t> gemmLargeTileBlocks(
    "gemm-large-tile-blocks", cl::init(mlir::dsc::kLargeTileBlocks),
    cl::desc("sm_90a: the blocks of 128-row tiles a linear layer's GEMM must "
             "make to take that tile (wgmma fed by TMA; below, the 64-row "
             "mma.sync tile). The default, 264, is two waves on an H100's or "
             "H200's 132 SMs; a GPU with other SM counts may want twice its "
             "own"),
    cl::value_desc("blocks"), cl::cat(category));
cl::opt<int64_t> gemmSplitKBlocks(
    "gemm-split-k-blocks", cl::init(-1),
    cl::desc("GPU targets: a linear layer's GEMM on the 64-row tile whose grid "
             "has fewer blocks than this (a decode's few rows times a narrow "
             "layer) splits its K into parts that make this many, then sums "
             "them. Default: the chip's SMs (132 for sm_90a, 108 for sm_80); "
             "0 splits none"),
    cl::value_desc("blocks"), cl::cat(category));
cl::opt<bool> quiet("quiet", cl::desc("No progress lines on stderr"),
                    cl::cat(category));

/// One line per stage on stderr, with the time it took.
class Progress {
public:
  void stage(const std::string &what) {
    finish();
    current = what;
    start = std::chrono::steady_clock::now();
    if (!quiet)
      llvm::errs() << "[dsc-compile] " << what << "...\n";
  }
  void finish() {
    if (current.empty() || quiet)
      return;
    double ms = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - start)
                    .count();
    llvm::errs() << "[dsc-compile]   done in " << llvm::format("%.1f", ms)
                 << " ms\n";
    current.clear();
  }

private:
  std::string current;
  std::chrono::steady_clock::time_point start;
};

/// A host shared object built on a thread of its own: its bytes, or the
/// error that stopped it.
struct HostBuild {
  std::vector<char> bytes;
  std::string error;
};

int fail(const std::string &message) {
  llvm::errs() << "dsc-compile: " << message << "\n";
  return 1;
}

std::string dtypeOf(Type type) {
  if (type.isF32())
    return "f32";
  if (type.isBF16())
    return "bf16";
  if (isa<Float8E4M3FNType>(type))
    return "f8e4m3";
  if (type.isInteger(64))
    return "i64";
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

json::Value shapeOf(RankedTensorType type) {
  json::Value shape = json::Value::array();
  for (int64_t d : type.getShape())
    shape.push(ShapedType::isDynamic(d) ? int64_t(-1) : d);
  return shape;
}

/// The entry points a compiled model may have, in manifest order:
/// `forward`, and the KV-cached `prefill` and `decode` (dsc-kv-cache).
constexpr const char *kEntryPoints[] = {"forward", "prefill", "decode"};

/// The manifest's arguments of entry point `fn`, read after weights became
/// arguments: its inputs and params in argument order, then its outputs.
/// Inputs and outputs are named by their `dsc.input` and `dsc.output`
/// attributes (dsc-kv-cache sets them), else "tokens" and "logits".
FailureOr<json::Value> describeEntryArgs(func::FuncOp fn) {
  json::Value args = json::Value::array();
  for (unsigned i = 0; i < fn.getNumArguments(); ++i) {
    auto type = dyn_cast<RankedTensorType>(fn.getArgument(i).getType());
    if (!type) {
      fn.emitError("argument ") << i << " is not a ranked tensor";
      return failure();
    }
    json::Value arg = json::Value::object();
    if (auto name = fn.getArgAttrOfType<StringAttr>(i, "dsc.weight")) {
      arg.set("role", "param").set("name", name.str());
      if (auto stack = fn.getArgAttrOfType<IntegerAttr>(i, "dsc.stack"))
        arg.set("stack", stack.getInt());
    } else {
      auto input = fn.getArgAttrOfType<StringAttr>(i, "dsc.input");
      arg.set("role", "input")
          .set("name", input    ? input.str()
                       : i == 0 ? std::string("tokens")
                                : "input" + std::to_string(i));
    }
    arg.set("dtype", dtypeOf(type.getElementType()))
        .set("shape", shapeOf(type));
    args.push(std::move(arg));
  }
  for (unsigned i = 0; i < fn.getNumResults(); ++i) {
    auto type = dyn_cast<RankedTensorType>(fn.getResultTypes()[i]);
    if (!type) {
      fn.emitError("result ") << i << " is not a ranked tensor";
      return failure();
    }
    auto name = fn.getResultAttrOfType<StringAttr>(i, "dsc.output");
    args.push(json::Value::object()
                  .set("role", "output")
                  .set("name", name     ? name.str()
                               : i == 0 ? std::string("logits")
                                        : "output" + std::to_string(i))
                  .set("dtype", dtypeOf(type.getElementType()))
                  .set("shape", shapeOf(type)));
  }
  return args;
}

/// Checks `@forward`, the entry point every artifact has: token ids
/// tensor<?x?xi64> (and weights) to logits tensor<?x?xVxf32>.
LogicalResult checkForward(ModuleOp module) {
  auto forward = module.lookupSymbol<func::FuncOp>("forward");
  if (!forward || forward.isExternal() || forward.getNumResults() != 1) {
    module.emitError("the graph must define `func.func @forward(tokens) -> "
                     "logits`");
    return failure();
  }
  auto result = dyn_cast<RankedTensorType>(forward.getResultTypes()[0]);
  auto tokens =
      forward.getNumArguments()
          ? dyn_cast<RankedTensorType>(forward.getArgument(0).getType())
          : RankedTensorType();
  unsigned inputs = 0;
  for (unsigned i = 0; i < forward.getNumArguments(); ++i)
    inputs += !forward.getArgAttr(i, "dsc.weight");
  if (inputs != 1 || !tokens || tokens.getRank() != 2 ||
      !tokens.getElementType().isInteger(64) || !result ||
      result.getRank() != 3 || !result.getElementType().isF32() ||
      ShapedType::isDynamic(result.getShape().back())) {
    forward.emitError("@forward must take token ids tensor<?x?xi64> (and "
                      "weights) and return logits tensor<?x?xVxf32> with a "
                      "static vocabulary V");
    return failure();
  }
  return success();
}

/// The manifest's entry points: name, symbol and arguments of each.
FailureOr<json::Value> describeEntryPoints(ModuleOp module) {
  if (failed(checkForward(module)))
    return failure();
  json::Value entries = json::Value::array();
  for (const char *name : kEntryPoints) {
    auto fn = module.lookupSymbol<func::FuncOp>(name);
    if (!fn)
      continue;
    FailureOr<json::Value> args = describeEntryArgs(fn);
    if (failed(args))
      return failure();
    json::Value entry = json::Value::object()
                            .set("name", name)
                            .set("symbol", std::string("dsc_entry_") + name)
                            .set("args", std::move(*args));
    if (fn->hasAttr("dsc.stores_cache_entries"))
      entry.set("stores_cache_entries", true);
    entries.push(std::move(entry));
  }
  return entries;
}

LogicalResult writeText(const std::string &path, StringRef text,
                        std::string &error) {
  std::string ec;
  auto file = openOutputFile(path, &ec);
  if (!file) {
    error = ec;
    return failure();
  }
  file->os() << text;
  file->keep();
  return success();
}

/// The fusion passes' per-function remarks ("fusion report: FN: PATTERN:
/// STATUS"), as a table.
class FusionReport {
public:
  /// Keeps a fusion remark; lets every other diagnostic through.
  LogicalResult collect(Diagnostic &diag) {
    std::string text = diag.str();
    StringRef rest(text);
    if (diag.getSeverity() != DiagnosticSeverity::Remark ||
        !rest.consume_front("fusion report: "))
      return failure();
    auto [function, tail] = rest.split(": ");
    auto [pattern, status] = tail.split(": ");
    std::string layer;
    if (auto name = dyn_cast<NameLoc>(diag.getLocation()))
      layer = name.getName().str();
    // A function that is not a layer (the entry point) is only worth a row
    // when it held a candidate.
    if (layer.empty() && !status.starts_with("fused") &&
        !status.starts_with("not fused"))
      return success();
    rows.push_back(
        {layer.empty() ? function.str() : layer, pattern.str(), status.str()});
    return success();
  }

  unsigned misses() const {
    return llvm::count_if(rows, [](const Row &row) {
      return StringRef(row.status).starts_with("not fused");
    });
  }

  void print(raw_ostream &os) const {
    // Layer by layer (numerically: model.layers.10 after model.layers.9).
    std::vector<Row> sorted = rows;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const Row &a, const Row &b) {
                       return StringRef(a.layer).compare_numeric(b.layer) < 0;
                     });
    os << llvm::format("%-24s %-8s %s\n", "layer", "pattern", "status");
    for (const Row &row : sorted)
      os << llvm::format("%-24s %-8s %s\n", row.layer.c_str(),
                         row.pattern.c_str(), row.status.c_str());
  }

private:
  struct Row {
    std::string layer, pattern, status;
  };
  std::vector<Row> rows;
};

/// Runs `pm` on `module`, `report` collecting the diagnostics it keeps.
template <typename Report>
LogicalResult runCollecting(PassManager &pm, ModuleOp module, Report &report) {
  ScopedDiagnosticHandler collect(module.getContext(), [&](Diagnostic &diag) {
    return report.collect(diag);
  });
  return pm.run(module);
}

/// dsc-lower-to-linalg's and dsc-library-gemms' remarks on what the kernel
/// library did not take (attention, a router or an RMSNorm, a GEMM, SwiGLU or
/// combine left as generated code, an e4m3 weight dequantized in full), with
/// where it was.
class LibraryReport {
public:
  /// Keeps such a remark; lets every other diagnostic through.
  LogicalResult collect(Diagnostic &diag) {
    std::string text = diag.str();
    StringRef what(text);
    if (diag.getSeverity() != DiagnosticSeverity::Remark ||
        !llvm::any_of(kPrefixes, [&](StringRef prefix) {
          return what.starts_with(prefix);
        }))
      return failure();
    rows.push_back({where(diag.getLocation()), text});
    return success();
  }

  size_t size() const { return rows.size(); }

  void print(StringRef target, raw_ostream &os) const {
    for (const Row &row : rows)
      os << target << ": " << row.where << ": " << row.what << "\n";
  }

private:
  static constexpr StringLiteral kPrefixes[] = {
      "GEMM left as generated code",      "SwiGLU left as generated code",
      "combine left as it was",           "e4m3 weight dequantized in full",
      "attention left as generated code", "router left as generated code",
      "RMSNorm left as generated code"};

  /// A location as a user finds it: the layer's name where the importer
  /// gave one, else file:line:col.
  static std::string where(Location loc) {
    std::string out;
    loc->walk([&](Location inner) {
      if (auto name = dyn_cast<NameLoc>(inner)) {
        out = name.getName().str();
        return WalkResult::interrupt();
      }
      if (auto file = dyn_cast<FileLineColLoc>(inner); file && out.empty())
        out = (file.getFilename().str() + ":" + Twine(file.getLine()) + ":" +
               Twine(file.getColumn()))
                  .str();
      return WalkResult::advance();
    });
    return out.empty() ? "(unknown location)" : out;
  }

  struct Row {
    std::string where, what;
  };
  std::vector<Row> rows;
};

/// The KV cache a token costs per layer with fused latent attention (the
/// latent and the rope key) against caching decompressed keys and values.
void printKvCacheGeometry(ModuleOp module, raw_ostream &os) {
  std::set<std::array<int64_t, 5>> seen;
  module.walk([&](mlir::dsc::MlaOp op) {
    int64_t heads = op.getQNope().getType().getDimSize(2),
            dn = op.getQNope().getType().getDimSize(3),
            dr = op.getKPe().getType().getDimSize(2),
            c = op.getLatent().getType().getDimSize(2),
            dv = op.getType().getDimSize(3);
    if (!seen.insert({heads, dn, dr, c, dv}).second)
      return;
    int64_t latent = c + dr, decompressed = heads * (dn + dr + dv);
    os << llvm::format(
        "kv cache per token per layer: latent %lld values (%lld bytes "
        "bf16) vs decompressed %lld values (%lld bytes bf16), %.1fx smaller\n",
        static_cast<long long>(latent), static_cast<long long>(2 * latent),
        static_cast<long long>(decompressed),
        static_cast<long long>(2 * decompressed),
        static_cast<double>(decompressed) / latent);
  });
}

/// Prints `module` to `path` ("-" for stdout).
LogicalResult writeModule(ModuleOp module, const std::string &path,
                          std::string &error) {
  std::string text;
  llvm::raw_string_ostream os(text);
  module->print(os);
  return writeText(path, text, error);
}

/// Says how a GPU will run decode attention when it is not the kernel
/// library's MLA decode (which needs a bf16 KV cache of widths it has).
void noteGpuDecodeAttention(ModuleOp module) {
  mlir::dsc::MlaDecodeOp decode;
  module.walk([&](mlir::dsc::MlaDecodeOp op) {
    decode = op;
    return WalkResult::interrupt();
  });
  if (!decode)
    return;
  int64_t latent = decode.getLatent().getType().getDimSize(2),
          rope = decode.getKPe().getType().getDimSize(2);
  if (!decode.getCache().getType().getElementType().isBF16())
    llvm::errs() << "dsc-compile: note: GPU decode attention runs as generated "
                    "code over an f32 KV cache (--kv-cache-type bf16 runs the "
                    "kernel library's MLA decode)\n";
  else if (!mlir::dsc::libraryHasMlaDecode(latent, rope))
    llvm::errs() << "dsc-compile: note: the kernel library has no MLA decode "
                    "for latent width "
                 << latent << " and rope width " << rope
                 << ": GPU decode attention runs as generated code\n";
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  // Passes are registered before the pass manager's options, so that
  // --mlir-print-ir-after=dsc-fuse-mla and the like can name them.
  mlir::dsc::registerGraphPipelines();
  mlir::dsc::registerCodegenPipelines();
  registerAllPasses();
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerPassManagerCLOptions();
  registerDefaultTimingManagerCLOptions();
  // --help lists dsc-compile's options and MLIR's IR-dump and timing
  // options, not the hundreds of LLVM backend flags that also register.
  static cl::OptionCategory mlirCategory(
      "MLIR options (IR dumps per pass, pass timing and statistics)");
  for (auto &entry : cl::getRegisteredOptions())
    if (entry.first.starts_with("mlir-"))
      entry.second->addCategory(mlirCategory);
  cl::HideUnrelatedOptions({&category, &mlirCategory});
  cl::ParseCommandLineOptions(
      argc, argv,
      "dsc-compile: ahead-of-time compiler for DeepSeek-architecture models\n\n"
      "  dsc-compile MODEL -o OUT [--target cpu,sm_80,sm_90a]\n"
      "              [--emit import|fused|ptx|artifact] [--shapes-only] "
      "[--embed-weights]\n\n"
      "MODEL is a Hugging Face checkpoint directory (config.json + "
      "safetensors), an .onnx file (token ids to logits; its weights are "
      "embedded) or a .mlir file.\nIR dumps: --mlir-print-ir-after-all; "
      "timings: --mlir-timing.\n");

  SmallVector<StringRef> targets;
  {
    SmallVector<StringRef> listed;
    StringRef(targetList).split(listed, ',', -1, /*KeepEmpty=*/false);
    for (StringRef t : listed) {
      t = t.trim();
      if (!mlir::dsc::isSupportedTarget(t))
        return fail("--target: unknown target '" + t.str() +
                    "' (expected cpu, sm_80 or sm_90a)");
      if (!llvm::is_contained(targets, t))
        targets.push_back(t);
    }
  }
  if (targets.empty())
    return fail("--target: no target given (expected cpu, sm_80 or sm_90a)");
  std::string cpu = hostCpu == "native" ? std::string(::dsc::bestHostCpu())
                                        : std::string(hostCpu);
  if (!::dsc::isHostCpuLevel(cpu))
    return fail("--cpu: unknown level '" + hostCpu + "' (expected " +
                ::dsc::hostCpuLevelList("native") + ")");
  if (bf16LinearInputs && cpuWeights.getNumOccurrences() &&
      cpuWeights != CpuWeights::Bf16)
    return fail("--bf16-linear-inputs binds the linear weights as bf16; it "
                "cannot be combined with --cpu-weights " +
                std::string(cpuWeights == CpuWeights::F32 ? "f32" : "auto"));
  // The CPU's GEMMs sum k in blocks of a multiple of their vector step.
  const int64_t kStep = mlir::dsc::cpuGemmKStep(mlir::dsc::cpuGemmTiles(cpu));
  if (llvm::is_contained(targets, "cpu") &&
      (cpuGemmBlockK < 0 || cpuGemmBlockK % kStep != 0))
    return fail("--cpu-gemm-block-k: expected a multiple of " +
                std::to_string(kStep) + " (the k a vector step of " + cpu +
                " takes; 0 for no blocks), not " +
                std::to_string(cpuGemmBlockK));
  if (cpuGemmBlockBytes < 1)
    return fail("--cpu-gemm-block-bytes: expected a positive size, not " +
                std::to_string(cpuGemmBlockBytes));
  if (gemmLargeTileBlocks < 1)
    return fail("--gemm-large-tile-blocks: expected a positive count, not " +
                std::to_string(gemmLargeTileBlocks));
  if (gemmSplitKBlocks.getNumOccurrences() && gemmSplitKBlocks < 0)
    return fail("--gemm-split-k-blocks: expected a count (0 for none), not " +
                std::to_string(gemmSplitKBlocks));
  if (kvCacheType != "auto" && kvCacheType != "f32" && kvCacheType != "bf16")
    return fail("--kv-cache-type: expected auto, f32 or bf16, not '" +
                kvCacheType + "'");
  // One cache format serves every target of the artifact: the GPU's when
  // there is one (FlashMLA-style decode reads a bf16 latent cache).
  std::string cacheType = kvCacheType;
  if (cacheType == "auto")
    cacheType = llvm::any_of(targets, [](StringRef t) { return t != "cpu"; })
                    ? "bf16"
                    : "f32";
  if (mlaForm != "auto" && mlaForm != "naive" && mlaForm != "absorbed")
    return fail("--mla-form: expected auto, naive or absorbed, not '" +
                mlaForm + "'");
  if (importAttention != "naive" && importAttention != "absorbed")
    return fail("--import-attention: expected naive or absorbed, not '" +
                importAttention + "'");
  bool isMlir = StringRef(modelPath).ends_with(".mlir");
  // An ONNX file carries its weights: the artifact always embeds them.
  std::unique_ptr<::dsc::onnx_frontend::OnnxModel> onnxModel;
  if (StringRef(modelPath).ends_with(".onnx")) {
    absl::StatusOr<std::unique_ptr<::dsc::onnx_frontend::OnnxModel>> onnx =
        ::dsc::onnx_frontend::OnnxModel::load(modelPath);
    if (!onnx.ok())
      return fail(std::string(onnx.status().message()));
    onnxModel = std::move(*onnx);
    if (shapesOnly)
      return fail("--shapes-only reads a checkpoint's config.json; an ONNX "
                  "file has its weights");
    embedWeights = true;
  }
  if (embedWeights && shapesOnly)
    return fail("--embed-weights needs the weights; drop --shapes-only");
  if (embedWeights && isMlir)
    return fail("--embed-weights needs a checkpoint directory as MODEL, "
                "not a .mlir file");
  if (emit == Emit::Ptx &&
      llvm::all_of(targets, [](StringRef t) { return t == "cpu"; }))
    return fail("--emit ptx needs a GPU target (--target sm_80 or sm_90a)");

  DialectRegistry registry;
  registerAllDialects(registry);
  registerAllExtensions(registry);
  registerAllToLLVMIRTranslations(registry);
  registry.insert<mlir::dsc::DscDialect>();
  MLIRContext context(registry);
  context.loadAllAvailableDialects();
  DefaultTimingManager timing;
  applyDefaultTimingManagerCLOptions(timing);
  TimingScope rootTiming = timing.getRootScope();
  Progress progress;

  // 1. Import.
  progress.stage("import " + modelPath);
  OwningOpRef<ModuleOp> module;
  std::string source;
  if (isMlir) {
    llvm::SourceMgr sourceMgr;
    SourceMgrDiagnosticHandler handler(sourceMgr, &context);
    module =
        parseSourceFile<ModuleOp>(modelPath, sourceMgr, ParserConfig(&context));
    if (!module)
      return fail(modelPath + ": cannot parse the MLIR file");
  } else if (onnxModel) {
    auto imported =
        ::dsc::onnx_frontend::importOnnx(context, *onnxModel, modelPath);
    if (!imported.ok())
      return fail(std::string(imported.status().message()));
    module = std::move(*imported);
    SmallString<256> abs(modelPath);
    llvm::sys::fs::make_absolute(abs);
    source = abs.str().str();
  } else {
    if (!llvm::sys::fs::is_directory(modelPath))
      return fail(modelPath +
                  ": not a checkpoint directory, .onnx or .mlir file");
    hf::ImportOptions options;
    options.shapesOnly = shapesOnly;
    options.absorbedAttention = importAttention == "absorbed";
    options.decomposed = importDecomposed;
    auto imported = hf::importCheckpoint(context, modelPath, options);
    if (!imported.ok())
      return fail(std::string(imported.status().message()));
    module = std::move(*imported);
    SmallString<256> abs(modelPath);
    llvm::sys::fs::make_absolute(abs);
    source = abs.str().str();
  }
  std::string error;
  if (emit == Emit::Import) {
    return failed(writeModule(*module, outputPath, error)) ? fail(error) : 0;
  }

  // 2. Graph pipeline, and weights to arguments (target independent).
  progress.stage("graph pipeline");
  {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    TimingScope scope = rootTiming.nest("graph");
    pm.enableTiming(scope);
    mlir::dsc::GraphOptions graphOptions;
    graphOptions.fuse = !noFusion;
    graphOptions.report = true;
    graphOptions.mlaForm = mlaForm;
    // An ONNX graph is run as it is (forward over token ids): its
    // attention's mask is the graph's, which no cache can extend.
    graphOptions.kvCache = !noKvCache && !onnxModel;
    graphOptions.kvCacheType = cacheType;
    graphOptions.elementwiseChains = onnxModel != nullptr;
    mlir::dsc::buildGraphPipeline(pm, graphOptions);
    FusionReport report;
    if (failed(runCollecting(pm, *module, report)))
      return fail("graph pipeline failed");
    if (fusionReport) {
      report.print(llvm::errs());
      printKvCacheGeometry(*module, llvm::errs());
    }
    if (unsigned misses = report.misses())
      llvm::errs() << "dsc-compile: note: " << misses
                   << " fusion candidate(s) did not fuse and run unfused"
                   << (fusionReport ? "" : " (see --fusion-report)") << "\n";
  }
  if (emit == Emit::Fused) {
    return failed(writeModule(*module, outputPath, error)) ? fail(error) : 0;
  }

  // Work on the weights alone (transposes, joins, slices a fusion left) is
  // done once here when the weights are at hand (an ONNX model's
  // initializers, which the artifact embeds), not on every call.
  std::map<std::string, std::vector<float>> foldedWeights;
  if (onnxModel) {
    progress.stage("fold weight-only computations");
    TimingScope foldTiming = rootTiming.nest("fold weights");
    auto weightData = [&](StringRef name, ArrayRef<int64_t> shape,
                          std::vector<float> &data) {
      const ::dsc::onnx_frontend::OnnxInitializer *init =
          onnxModel->findInitializer(name.str());
      // Packing reports a weight without its initializer; here the
      // computation just stays in the graph.
      if (!init ||
          init->shape != std::vector<int64_t>(shape.begin(), shape.end()))
        return false;
      data.resize(std::accumulate(shape.begin(), shape.end(), int64_t{1},
                                  std::multiplies<int64_t>()));
      ::dsc::onnx_frontend::initializerToF32(*init, data.data());
      return true;
    };
    unsigned folded =
        mlir::dsc::foldWeightComputations(*module, weightData, foldedWeights);
    if (!quiet)
      llvm::errs() << "[dsc-compile]   " << folded
                   << " weight-only value(s) packed as weights\n";
  }
  {
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    TimingScope scope = rootTiming.nest("weights to arguments");
    pm.enableTiming(scope);
    pm.addPass(mlir::dsc::createDscWeightsToArguments());
    if (failed(pm.run(*module)))
      return fail("turning weights into arguments failed");
  }
  FailureOr<json::Value> entryPoints = describeEntryPoints(*module);
  if (failed(entryPoints))
    return fail("cannot describe the entry points");

  // 3. Per target codegen.
  artifact::Writer writer;
  json::Value targetsJson = json::Value::array();
  // The targets' sections, in the order they are made. A host object
  // builds on a thread of its own once its module is LLVM IR (LLVM's
  // optimizer and code generator need nothing of the MLIR context) while
  // the next target lowers: for cpu,sm_90a the CPU object's LLVM work,
  // some 20 s for DeepSeek-V3, overlaps the sm_90a lowering.
  struct Section {
    std::string name;
    std::vector<char> bytes;
    std::future<HostBuild> host; // The bytes, when pending.
  };
  std::vector<Section> sections;
  auto buildHost = [&](ModuleOp lowered, StringRef target,
                       std::string name) -> LogicalResult {
    progress.stage(target.str() + ": translate the host code to LLVM IR");
    FailureOr<mlir::dsc::HostModule> host =
        mlir::dsc::translateHostModule(lowered, error);
    if (failed(host)) {
      error = target.str() + ": " + error;
      return failure();
    }
    sections.push_back(
        {std::move(name),
         {},
         std::async(std::launch::async, [host = std::move(*host), cpu,
                                         target = target.str()]() mutable {
           HostBuild built;
           FailureOr<std::vector<char>> so = mlir::dsc::buildHostSharedObject(
               std::move(host), cpu, built.error);
           if (succeeded(so))
             built.bytes = std::move(*so);
           else
             built.error = target + ": " + built.error;
           return built;
         })});
    return success();
  };
  std::optional<std::string> ptxas = mlir::dsc::findPtxas();
  bool wantsGpu = llvm::any_of(targets, [](StringRef t) { return t != "cpu"; });
  // MLIR's NVVM serializer links libdevice (the __nv_* math functions) from
  // the toolkit named by CUDA_HOME; point it at the one ptxas came from.
  if (std::optional<std::string> toolkit = mlir::dsc::findCudaToolkit();
      toolkit && !std::getenv("CUDA_HOME") && !std::getenv("CUDA_ROOT") &&
      !std::getenv("CUDA_PATH"))
    ::setenv("CUDA_HOME", toolkit->c_str(), /*overwrite=*/0);
  if (wantsGpu && !ptxas && !quiet)
    llvm::errs() << "dsc-compile: warning: no CUDA Toolkit found (ptxas, "
                    "libdevice): PTX is emitted unchecked and its math "
                    "functions stay unresolved __nv_* calls\n";
  if (wantsGpu && !quiet)
    noteGpuDecodeAttention(*module);
  if (emit == Emit::Ptx)
    llvm::sys::fs::create_directories(outputPath);
  for (StringRef target : targets) {
    OwningOpRef<ModuleOp> clone = module->clone();
    PassManager pm(&context);
    if (failed(applyPassManagerCLOptions(pm)))
      return fail("bad pass manager options");
    TimingScope scope = rootTiming.nest(target);
    // A list of names the lowered module holds (an array attribute), as
    // JSON.
    auto names = [&](StringRef attr) {
      json::Value list = json::Value::array();
      if (auto array =
              clone->getOperation()->getAttrOfType<mlir::ArrayAttr>(attr))
        for (mlir::StringAttr name : array.getAsRange<mlir::StringAttr>())
          list.push(json::Value(name.str()));
      return list;
    };
    pm.enableTiming(scope);
    if (target == "cpu") {
      if (emit == Emit::Ptx)
        continue;
      progress.stage("cpu: lower to LLVM");
      mlir::dsc::CodegenOptions options;
      options.fixedShapes = fixedShapes;
      options.bf16LinearInputs = bf16LinearInputs;
      options.cpuWeights = cpuWeights;
      // An embedded table is a section every target reads: bf16 when the
      // CPU is the only target (see the weights below), else the f32 one
      // it reads in place (a gather touches only its rows) rather than a
      // whole table narrowed at load.
      options.embeddingTablesBf16 = !embedWeights || targets.size() == 1;
      options.parallelMinMultiplyAdds = cpuParallelMinWork;
      options.gemmBlockK = cpuGemmBlockK;
      options.gemmBlockBytes = cpuGemmBlockBytes;
      options.hostCpu = cpu;
      mlir::dsc::buildCpuPipeline(pm, options);
      if (failed(pm.run(*clone)))
        return fail("cpu: lowering failed");
      if (failed(buildHost(*clone, target, "cpu/host.so")))
        return fail(error);
      targetsJson.push(json::Value::object()
                           .set("name", "cpu")
                           .set("kind", "host-shared-object")
                           .set("section", "cpu/host.so")
                           .set("host_cpu", cpu)
                           .set("bf16_params", names("dsc.bf16_params")));
      continue;
    }
    progress.stage(target.str() + ": lower to NVVM and PTX");
    mlir::dsc::CodegenOptions options;
    options.chip = target.str();
    options.largeTileBlocks = gemmLargeTileBlocks;
    options.splitKBlocks = gemmSplitKBlocks;
    mlir::dsc::buildNvvmPipeline(pm, options);
    LibraryReport library;
    if (failed(runCollecting(pm, *clone, library)))
      return fail(target.str() + ": lowering failed");
    if (libraryReport)
      library.print(target, llvm::errs());
    else if (library.size() && !quiet)
      llvm::errs() << "dsc-compile: note: " << target << ": " << library.size()
                   << " GEMM(s), SwiGLU(s), combine(s), attention, router(s), "
                      "RMSNorm(s) or e4m3 weight(s) the kernel library did not "
                      "take (see --library-report)\n";
    std::vector<mlir::dsc::GpuKernelBinary> kernels =
        mlir::dsc::collectPtx(*clone);
    // Kernels that differ in MLIR (a static against a dynamic size) can
    // still compile to the same PTX: keep each distinct text once.
    std::vector<mlir::dsc::GpuKernelBinary> distinct;
    std::vector<size_t> distinctOf;
    llvm::StringMap<size_t> byText;
    for (mlir::dsc::GpuKernelBinary &k : kernels) {
      auto [it, inserted] = byText.try_emplace(k.ptx, distinct.size());
      if (inserted)
        distinct.push_back(k);
      distinctOf.push_back(it->second);
    }
    if (ptxas) {
      progress.stage(target.str() + ": assemble " +
                     std::to_string(distinct.size()) + " kernels with ptxas");
      for (mlir::dsc::GpuKernelBinary &k : distinct)
        if (failed(mlir::dsc::assemblePtx(*ptxas, target, k, error)))
          return fail(error);
    }
    for (auto [index, k] : llvm::enumerate(distinct)) {
      if (emit == Emit::Ptx) {
        SmallString<256> path(outputPath);
        llvm::sys::path::append(path, k.name + "." + target.str() + ".ptx");
        if (failed(writeText(path.str().str(), k.ptx, error)))
          return fail(error);
        continue;
      }
      // Numbered: section names are short, kernel names need not be.
      std::string section = target.str() + "/k" + std::to_string(index);
      sections.push_back(
          {section + ".ptx", std::vector<char>(k.ptx.begin(), k.ptx.end())});
      if (!k.cubin.empty())
        sections.push_back({section + ".cubin", k.cubin});
    }
    json::Value kernelsJson = json::Value::array();
    for (auto [k, index] : llvm::zip_equal(kernels, distinctOf)) {
      std::string section = target.str() + "/k" + std::to_string(index);
      json::Value kj = json::Value::object();
      kj.set("name", k.name).set("section", section + ".ptx");
      if (!distinct[index].cubin.empty())
        kj.set("cubin", section + ".cubin");
      kernelsJson.push(std::move(kj));
    }
    if (emit == Emit::Ptx)
      continue;
    // The host side: launches the kernels (whose PTX it embeds) in order.
    std::string hostSection = target.str() + "/host.so";
    if (failed(buildHost(*clone, target, hostSection)))
      return fail(error);
    targetsJson.push(json::Value::object()
                         .set("name", target.str())
                         .set("kind", "ptx")
                         .set("host", hostSection)
                         .set("host_cpu", cpu)
                         .set("kernels", std::move(kernelsJson))
                         .set("graph_capturable", names("dsc.graph_capturable"))
                         .set("bf16_params", names("dsc.bf16_params")));
  }
  if (emit == Emit::Ptx) {
    progress.finish();
    return 0;
  }
  if (llvm::any_of(sections, [](Section &s) { return s.host.valid(); }))
    progress.stage("finish the host shared objects (LLVM, since their "
                   "translation)");
  for (Section &s : sections) {
    if (s.host.valid()) {
      HostBuild built = s.host.get();
      if (!built.error.empty())
        return fail(built.error);
      s.bytes = std::move(built.bytes);
    }
    writer.addSection(std::move(s.name), s.bytes.data(), s.bytes.size());
  }

  // 4. Weights, when embedded: packed exactly as the runtime binds them,
  //    once per distinct param however many entry points take it.
  if (embedWeights) {
    progress.stage("pack weights into the artifact");
    std::unique_ptr<st::Checkpoint> checkpoint;
    if (!onnxModel) {
      auto opened = st::Checkpoint::open(source);
      if (!opened.ok())
        return fail(std::string(opened.status().message()));
      checkpoint = std::move(*opened);
    }
    // A param every target takes as bf16 (their bf16_params) is embedded
    // as bf16 ("section_dtype": "bf16"): half the bytes, and the CPU reads
    // it in place. Others keep the entry point's type, which a target
    // taking bf16 narrows when it binds.
    std::optional<std::set<std::string>> bf16Everywhere;
    for (const json::Value &t : targetsJson.getArray()) {
      std::set<std::string> listed;
      if (const json::Value *names = t.find("bf16_params"))
        for (const json::Value &name : names->getArray())
          listed.insert(name.getString());
      if (!bf16Everywhere)
        bf16Everywhere = std::move(listed);
      else
        for (auto it = bf16Everywhere->begin(); it != bf16Everywhere->end();)
          it = listed.count(*it) ? std::next(it) : bf16Everywhere->erase(it);
    }
    std::map<std::string, std::string> sectionOf;
    json::Value withSections = json::Value::array();
    for (const json::Value &entryPoint : entryPoints->getArray()) {
      json::Value entry = entryPoint;
      json::Value args = json::Value::array();
      for (const json::Value &original : entry.find("args")->getArray()) {
        json::Value arg = original;
        if (arg.find("role")->getString() == "param") {
          absl::StatusOr<rt::ParamSpec> spec = rt::ParamSpec::fromJson(arg);
          if (!spec.ok())
            return fail(std::string(spec.status().message()));
          std::string key = arg.dump();
          auto [it, inserted] = sectionOf.try_emplace(
              key, "weights/" + std::to_string(sectionOf.size()));
          const bool asBf16 = spec->dtype == rt::ElementType::F32 &&
                              bf16Everywhere &&
                              bf16Everywhere->count(spec->name);
          if (inserted) {
            rt::ParamSpec packed = *spec;
            if (asBf16)
              packed.dtype = rt::ElementType::BF16;
            std::vector<uint8_t> bytes(packed.numBytes());
            // f32 values, as bytes or narrowed to bf16 ones.
            auto store = [&](const float *values) {
              if (asBf16)
                st::narrowToBf16(values, size_t(packed.numElements()),
                                 reinterpret_cast<uint16_t *>(bytes.data()));
              else
                std::memcpy(bytes.data(), values, bytes.size());
            };
            if (auto it = foldedWeights.find(spec->name);
                it != foldedWeights.end()) {
              if (int64_t(it->second.size()) != packed.numElements())
                return fail("folded weight '" + spec->name +
                            "' has the wrong size");
              store(it->second.data());
            } else if (onnxModel) {
              // The importer made an f32 weight of each float initializer.
              const ::dsc::onnx_frontend::OnnxInitializer *init =
                  onnxModel->findInitializer(spec->name);
              if (!init)
                return fail(modelPath + ": no initializer '" + spec->name +
                            "' for a weight of the graph");
              if (init->shape != spec->shape)
                return fail(modelPath + ": initializer '" + spec->name +
                            "' does not have the shape of its weight");
              if (asBf16) {
                std::vector<float> values(size_t(packed.numElements()));
                ::dsc::onnx_frontend::initializerToF32(*init, values.data());
                store(values.data());
              } else {
                ::dsc::onnx_frontend::initializerToF32(
                    *init, reinterpret_cast<float *>(bytes.data()));
              }
            } else if (absl::Status s =
                           rt::packParam(**&checkpoint, packed, bytes.data());
                       !s.ok()) {
              return fail(std::string(s.message()));
            }
            writer.addSection(it->second, std::move(bytes));
          }
          arg.set("section", it->second);
          if (asBf16)
            arg.set("section_dtype", "bf16");
        }
        args.push(std::move(arg));
      }
      entry.set("args", std::move(args));
      withSections.push(std::move(entry));
    }
    *entryPoints = std::move(withSections);
  }

  // 5. Manifest and artifact.
  progress.stage("write " + outputPath);
  auto forward = module->lookupSymbol<func::FuncOp>("forward");
  auto logits = cast<RankedTensorType>(forward.getResultTypes()[0]);
  std::string architecture = "unknown";
  if (auto attr = (*module)->getAttrOfType<StringAttr>("dsc.model"))
    architecture = attr.str();
  json::Value model = json::Value::object();
  model.set("architecture", architecture)
      .set("vocab_size", logits.getShape().back())
      .set("source", source);
  if (auto positions =
          (*module)->getAttrOfType<IntegerAttr>("dsc.max_positions"))
    model.set("max_positions", positions.getInt());
  json::Value manifest = json::Value::object();
  manifest.set("format", "dscx")
      .set("version", artifact::kManifestVersion)
      .set("compiler", "dsc 0.1.0")
      .set("model", std::move(model))
      .set("weights", json::Value::object().set("embedded", bool(embedWeights)))
      .set("entry_points", std::move(*entryPoints))
      .set("targets", std::move(targetsJson));
  std::string text = manifest.dump();
  writer.addSection("manifest.json", text.data(), text.size());
  if (absl::Status s = writer.write(outputPath); !s.ok())
    return fail(std::string(s.message()));
  progress.finish();
  return 0;
}
