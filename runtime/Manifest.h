//===- Manifest.h - The typed view of an artifact's manifest ----*- C++ -*-===//
//
// The manifest (section `manifest.json` of a .dscx artifact) is written by
// dsc-compile. Its schema, version 2 (artifact::kManifestVersion):
//
//   {"format": "dscx", "version": 2, "compiler": "dsc 0.1.0",
//    "model": {"architecture": "DeepseekV3ForCausalLM", "vocab_size": 256,
//              "source": "/abs/checkpoint/dir", ...},
//    "weights": {"embedded": false},
//    "entry_points": [{"name": "forward", "symbol": "dsc_entry_forward",
//                      "args": [ARG, ...]}],
//    "targets": [{"name": "cpu", "kind": "host-shared-object",
//                 "section": "cpu/host.so", "host_cpu": "x86-64-v3"},
//                {"name": "sm_90a", "kind": "ptx", "host_cpu": "x86-64-v3",
//                 "kernels": [{"name": "k0", "section": "sm_90a/k0.ptx",
//                              "cubin": "sm_90a/k0.cubin"}],
//                 "bf16_params": ["lm_head.weight", ...],
//                 "graph_capturable": ["decode"]}]}
//
// where each ARG is {"role": "input"|"param"|"output", "name", "dtype":
// "i64"|"f32"|"f8e4m3", "shape": [dims, -1 for a dynamic one]} plus, for
// params, optional "stack" (see ParamSpec) and, when the weights are
// embedded, "section": the section holding the packed bytes, and
// "section_dtype": "bf16" when they are bf16 values of an f32 param (every
// target takes it as bf16; a runtime that ignored the key would find the
// section half the size it expects, and say so). The compiled
// entry symbol takes one descriptor per ARG, in this order.
//
// Unknown keys are ignored so that later compilers can add information
// without breaking older runtimes of the same manifest version; a key an
// older runtime must not ignore (as "bf16_params") bumps the version.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_MANIFEST_H
#define DSC_RUNTIME_MANIFEST_H

#include "runtime/WeightBinder.h"
#include "runtime/artifact/Artifact.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dsc::runtime {

/// What an entry-point argument is for.
enum class ArgRole { Input, Param, Output };

/// One argument of an entry point.
struct Argument {
  ArgRole role = ArgRole::Input;
  std::string name;
  ElementType dtype = ElementType::F32;
  /// Dimensions; -1 marks a dynamic one (inputs and outputs only).
  std::vector<int64_t> shape;
  /// For params: what to bind (name, dtype and shape repeat the above).
  ParamSpec param;
  /// For params of an artifact with embedded weights: their section, and
  /// whether it holds bf16 values ("section_dtype": "bf16", for an f32
  /// param every target takes as bf16) rather than the param's type.
  std::string section;
  bool sectionBf16 = false;
};

/// One compiled function the runtime can call.
struct EntryPoint {
  std::string name;
  /// The exported symbol of the host code: void symbol(void **argv).
  std::string symbol;
  std::vector<Argument> args;
  /// `decode` stores its new entries into `kv_cache` itself (the runtime
  /// then only advances the sequences' lengths); absent: false.
  bool storesCacheEntries = false;
};

/// One GPU kernel of a `ptx` target.
struct Kernel {
  std::string name;
  std::string ptxSection;
  /// Empty when ptxas was not available at compile time.
  std::string cubinSection;
};

/// Code for one device: a host shared object or GPU kernels.
struct Target {
  std::string name;
  /// "host-shared-object" or "ptx".
  std::string kind;
  /// For host-shared-object targets: the shared object; for ptx targets:
  /// the host shared object that launches the kernels (empty in artifacts
  /// of dsc before the CUDA backend).
  std::string section;
  /// For ptx targets.
  std::vector<Kernel> kernels;
  /// The x86-64 level of the host code (runtime/support/HostCpu.h);
  /// "x86-64" when the manifest does not say (artifacts of dsc before it).
  std::string hostCpu = "x86-64";
  /// For ptx targets: the entry points whose host code touches no device
  /// data, so that a CUDA graph can hold a call (dsc-check-graph-capture).
  std::vector<std::string> graphCapturable;
  /// The f32 params (by name) this target's code takes as
  /// bf16 (dsc-bf16-linear-weights), packed rounded to nearest even.
  std::vector<std::string> bf16Params;
};

/// The manifest of an artifact, validated.
struct Manifest {
  std::string compiler;
  std::string architecture;
  /// 0 when the manifest does not say.
  int64_t vocabSize = 0;
  /// The longest sequence the model serves (max_position_embeddings); 0
  /// when the manifest does not say.
  int64_t maxPositions = 0;
  /// The checkpoint the artifact was compiled from; may be empty.
  std::string source;
  bool embeddedWeights = false;
  std::vector<EntryPoint> entryPoints;
  std::vector<Target> targets;

  /// The entry point called `name`, or nullptr.
  const EntryPoint *findEntryPoint(std::string_view name) const;
  /// The target called `name`, or nullptr.
  const Target *findTarget(std::string_view name) const;
};

/// Reads and checks the manifest of `artifact`: required keys with the right
/// types, valid arguments, and every section it names present in the
/// artifact. Errors are one line: "PATH: manifest: entry_points[0].args[3]:
/// ...".
absl::StatusOr<Manifest> parseManifest(const artifact::Artifact &artifact);

} // namespace dsc::runtime

#endif // DSC_RUNTIME_MANIFEST_H
