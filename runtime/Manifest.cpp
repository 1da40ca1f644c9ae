//===- Manifest.cpp - The typed view of an artifact's manifest ------------===//

#include "runtime/Manifest.h"

#include "runtime/support/Errors.h"
#include "runtime/support/HostCpu.h"

#include "absl/strings/str_cat.h"

namespace dsc::runtime {

namespace {

/// Reads the manifest of one artifact; every error names the artifact and
/// the JSON path of the offending value.
class ManifestReader {
public:
  explicit ManifestReader(const artifact::Artifact &artifact)
      : artifact(artifact) {}

  absl::StatusOr<Manifest> read();

private:
  template <typename... Parts>
  absl::Status error(const std::string &where, const Parts &...parts) const {
    return absl::InvalidArgumentError(
        absl::StrCat(artifact.path(), ": manifest: ", where,
                     where.empty() ? "" : ": ", parts...));
  }

  /// The string member `key` of `object`; absent is an error when
  /// `required`, otherwise an empty string.
  absl::StatusOr<std::string> getString(const json::Value &object,
                                        const char *key,
                                        const std::string &where,
                                        bool required = true) const {
    const json::Value *value = object.find(key);
    if (!value && !required)
      return std::string();
    if (!value || !value->isString())
      return error(where, "\"", key, "\" must be a string");
    return value->getString();
  }

  /// Reads the string member `key` of `object` into `out` (see getString).
  absl::Status readString(const json::Value &object, const char *key,
                          const std::string &where, std::string &out,
                          bool required = true) const {
    absl::StatusOr<std::string> value = getString(object, key, where, required);
    if (!value.ok())
      return value.status();
    out = std::move(*value);
    return absl::OkStatus();
  }

  /// The array member `key` of `object`.
  absl::StatusOr<const json::Value::ArrayStorage *>
  getArray(const json::Value &object, const char *key,
           const std::string &where) const {
    const json::Value *value = object.find(key);
    if (!value || !value->isArray())
      return error(where, "\"", key, "\" must be an array");
    return &value->getArray();
  }

  /// Reads the section name `key` of `object` into `out` and checks that the
  /// artifact has that section; absent is an error when `required`,
  /// otherwise an empty name.
  absl::Status readSection(const json::Value &object, const char *key,
                           const std::string &where, std::string &out,
                           bool required = true) const {
    if (absl::Status s = readString(object, key, where, out, required); !s.ok())
      return s;
    if ((required || !out.empty()) && !artifact.section(out))
      return error(where, "section ", quote(out), " is not in the artifact");
    return absl::OkStatus();
  }

  absl::StatusOr<Argument> readArgument(const json::Value &arg,
                                        const std::string &where,
                                        bool embeddedWeights) const;
  absl::StatusOr<EntryPoint> readEntryPoint(const json::Value &entry,
                                            const std::string &where,
                                            bool embeddedWeights) const;
  absl::StatusOr<Target> readTarget(const json::Value &target,
                                    const std::string &where) const;

  const artifact::Artifact &artifact;
};

absl::StatusOr<Argument>
ManifestReader::readArgument(const json::Value &arg, const std::string &where,
                             bool embeddedWeights) const {
  if (!arg.isObject())
    return error(where, "not an object");
  Argument result;
  absl::StatusOr<std::string> role = getString(arg, "role", where);
  if (!role.ok())
    return role.status();
  if (*role == "param") {
    result.role = ArgRole::Param;
    absl::StatusOr<ParamSpec> param = ParamSpec::fromJson(arg);
    if (!param.ok())
      return error(where, param.status().message());
    result.param = std::move(*param);
    result.name = result.param.name;
    result.dtype = result.param.dtype;
    result.shape = result.param.shape;
    if (embeddedWeights) {
      if (absl::Status s = readSection(arg, "section", where, result.section);
          !s.ok())
        return s;
      // A param every target reads as bf16 is embedded as bf16.
      if (const json::Value *type = arg.find("section_dtype")) {
        if (!type->isString() || type->getString() != "bf16" ||
            result.param.dtype != ElementType::F32)
          return error(where,
                       "'section_dtype' must be \"bf16\", for an f32 param");
        result.sectionBf16 = true;
      }
    }
    return result;
  }
  if (*role == "input")
    result.role = ArgRole::Input;
  else if (*role == "output")
    result.role = ArgRole::Output;
  else
    return error(where, "unknown role ", quote(*role),
                 " (expected input, param or output)");
  if (absl::Status s = readString(arg, "name", where, result.name); !s.ok())
    return s;
  absl::StatusOr<std::string> dtype = getString(arg, "dtype", where);
  if (!dtype.ok())
    return dtype.status();
  std::optional<ElementType> type = parseElementType(*dtype);
  if (!type)
    return error(where, "unknown dtype ", quote(*dtype),
                 " (expected i64, f32 or f8e4m3)");
  result.dtype = *type;
  absl::StatusOr<const json::Value::ArrayStorage *> shape =
      getArray(arg, "shape", where);
  if (!shape.ok())
    return shape.status();
  for (const json::Value &dim : **shape) {
    if (!dim.isInteger() || dim.getInt() < -1)
      return error(where, "\"shape\" must hold integers >= -1 (-1 is a "
                          "dynamic dimension)");
    result.shape.push_back(dim.getInt());
  }
  return result;
}

absl::StatusOr<EntryPoint>
ManifestReader::readEntryPoint(const json::Value &entry,
                               const std::string &where,
                               bool embeddedWeights) const {
  if (!entry.isObject())
    return error(where, "not an object");
  EntryPoint result;
  if (absl::Status s = readString(entry, "name", where, result.name); !s.ok())
    return s;
  if (absl::Status s = readString(entry, "symbol", where, result.symbol);
      !s.ok())
    return s;
  absl::StatusOr<const json::Value::ArrayStorage *> args =
      getArray(entry, "args", where);
  if (!args.ok())
    return args.status();
  for (size_t i = 0; i < (*args)->size(); ++i) {
    absl::StatusOr<Argument> arg = readArgument(
        (**args)[i], absl::StrCat(where, ".args[", i, "]"), embeddedWeights);
    if (!arg.ok())
      return arg.status();
    result.args.push_back(std::move(*arg));
  }
  if (const json::Value *stores = entry.find("stores_cache_entries")) {
    if (!stores->isBool())
      return error(where, "\"stores_cache_entries\" must be true or false");
    result.storesCacheEntries = stores->getBool();
  }
  return result;
}

absl::StatusOr<Target>
ManifestReader::readTarget(const json::Value &target,
                           const std::string &where) const {
  if (!target.isObject())
    return error(where, "not an object");
  Target result;
  if (absl::Status s = readString(target, "name", where, result.name); !s.ok())
    return s;
  if (absl::Status s = readString(target, "kind", where, result.kind); !s.ok())
    return s;
  if (target.find("host_cpu")) {
    if (absl::Status s = readString(target, "host_cpu", where, result.hostCpu);
        !s.ok())
      return s;
    if (!isHostCpuLevel(result.hostCpu))
      return error(where, "unknown host_cpu ", quote(result.hostCpu),
                   " (expected ", hostCpuLevelList(), ")");
  }
  // Optional lists of names: absent in artifacts of dsc before CUDA graphs
  // (nothing is captured) and before bf16 linear weights (every param as
  // its entry points say).
  auto readNames = [&](const char *key, const char *what,
                       std::vector<std::string> &out) -> absl::Status {
    if (!target.find(key))
      return absl::OkStatus();
    absl::StatusOr<const json::Value::ArrayStorage *> names =
        getArray(target, key, where);
    if (!names.ok())
      return names.status();
    for (size_t i = 0; i < (*names)->size(); ++i) {
      const json::Value &name = (**names)[i];
      if (!name.isString())
        return error(absl::StrCat(where, ".", key, "[", i, "]"),
                     absl::StrCat("must be ", what));
      out.push_back(name.getString());
    }
    return absl::OkStatus();
  };
  if (absl::Status s =
          readNames("bf16_params", "a param's name", result.bf16Params);
      !s.ok())
    return s;
  if (result.kind == "host-shared-object") {
    if (absl::Status s = readSection(target, "section", where, result.section);
        !s.ok())
      return s;
    return result;
  }
  if (result.kind != "ptx")
    return error(where, "unknown target kind ", quote(result.kind),
                 " (expected host-shared-object or ptx)");
  if (absl::Status s = readSection(target, "host", where, result.section,
                                   /*required=*/false);
      !s.ok())
    return s;
  absl::StatusOr<const json::Value::ArrayStorage *> kernels =
      getArray(target, "kernels", where);
  if (!kernels.ok())
    return kernels.status();
  for (size_t i = 0; i < (*kernels)->size(); ++i) {
    const json::Value &kernel = (**kernels)[i];
    std::string kernelWhere = absl::StrCat(where, ".kernels[", i, "]");
    if (!kernel.isObject())
      return error(kernelWhere, "not an object");
    Kernel k;
    if (absl::Status s = readString(kernel, "name", kernelWhere, k.name);
        !s.ok())
      return s;
    if (absl::Status s =
            readSection(kernel, "section", kernelWhere, k.ptxSection);
        !s.ok())
      return s;
    if (absl::Status s = readSection(kernel, "cubin", kernelWhere,
                                     k.cubinSection, /*required=*/false);
        !s.ok())
      return s;
    result.kernels.push_back(std::move(k));
  }
  if (absl::Status s = readNames("graph_capturable", "an entry point's name",
                                 result.graphCapturable);
      !s.ok())
    return s;
  return result;
}

absl::StatusOr<Manifest> ManifestReader::read() {
  // Artifact::open has checked that the manifest is an object with the
  // right "format" and "version".
  const json::Value &root = artifact.manifest();
  Manifest manifest;
  if (absl::Status s = readString(root, "compiler", "", manifest.compiler,
                                  /*required=*/false);
      !s.ok())
    return s;

  const json::Value *model = root.find("model");
  if (!model || !model->isObject())
    return error("", "\"model\" must be an object");
  if (absl::Status s = readString(*model, "architecture", "model",
                                  manifest.architecture, /*required=*/false);
      !s.ok())
    return s;
  if (absl::Status s = readString(*model, "source", "model", manifest.source,
                                  /*required=*/false);
      !s.ok())
    return s;
  if (const json::Value *vocab = model->find("vocab_size")) {
    if (!vocab->isInteger() || vocab->getInt() < 1)
      return error("model", "\"vocab_size\" must be a positive integer");
    manifest.vocabSize = vocab->getInt();
  }
  if (const json::Value *positions = model->find("max_positions")) {
    if (!positions->isInteger() || positions->getInt() < 1)
      return error("model", "\"max_positions\" must be a positive integer");
    manifest.maxPositions = positions->getInt();
  }

  if (const json::Value *weights = root.find("weights")) {
    const json::Value *embedded =
        weights->isObject() ? weights->find("embedded") : nullptr;
    if (!embedded || !embedded->isBool())
      return error("weights", "\"embedded\" must be true or false");
    manifest.embeddedWeights = embedded->getBool();
  }

  absl::StatusOr<const json::Value::ArrayStorage *> entries =
      getArray(root, "entry_points", "");
  if (!entries.ok())
    return entries.status();
  for (size_t i = 0; i < (*entries)->size(); ++i) {
    absl::StatusOr<EntryPoint> entry =
        readEntryPoint((**entries)[i], absl::StrCat("entry_points[", i, "]"),
                       manifest.embeddedWeights);
    if (!entry.ok())
      return entry.status();
    if (manifest.findEntryPoint(entry->name))
      return error(absl::StrCat("entry_points[", i, "]"),
                   "duplicate entry point ", quote(entry->name));
    manifest.entryPoints.push_back(std::move(*entry));
  }

  absl::StatusOr<const json::Value::ArrayStorage *> targets =
      getArray(root, "targets", "");
  if (!targets.ok())
    return targets.status();
  for (size_t i = 0; i < (*targets)->size(); ++i) {
    absl::StatusOr<Target> target =
        readTarget((**targets)[i], absl::StrCat("targets[", i, "]"));
    if (!target.ok())
      return target.status();
    if (manifest.findTarget(target->name))
      return error(absl::StrCat("targets[", i, "]"), "duplicate target ",
                   quote(target->name));
    manifest.targets.push_back(std::move(*target));
  }
  return manifest;
}

} // namespace

const EntryPoint *Manifest::findEntryPoint(std::string_view name) const {
  for (const EntryPoint &e : entryPoints)
    if (e.name == name)
      return &e;
  return nullptr;
}

const Target *Manifest::findTarget(std::string_view name) const {
  for (const Target &t : targets)
    if (t.name == name)
      return &t;
  return nullptr;
}

absl::StatusOr<Manifest> parseManifest(const artifact::Artifact &artifact) {
  return ManifestReader(artifact).read();
}

} // namespace dsc::runtime
