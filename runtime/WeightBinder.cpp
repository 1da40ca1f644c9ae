//===- WeightBinder.cpp - Pack checkpoint tensors into parameters ---------===//

#include "runtime/WeightBinder.h"

#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cstring>
#include <limits>
#include <map>
#include <optional>
#include <thread>
#include <vector>

namespace dsc::runtime {

namespace {

constexpr std::string_view kStackPlaceholder = "{}";

struct ElementTypeEntry {
  ElementType type;
  const char *name;
  size_t size;
};

constexpr ElementTypeEntry kElementTypes[] = {
    {ElementType::I64, "i64", 8},
    {ElementType::F32, "f32", 4},
    {ElementType::F8E4M3, "f8e4m3", 1},
    {ElementType::BF16, "bf16", 2},
};

const ElementTypeEntry &entryOf(ElementType type) {
  return kElementTypes[static_cast<size_t>(type)];
}

/// The safetensors header spelling of `dtype`, for StrCat (which takes
/// Debian's absl::string_view, not std::string_view).
std::string nameOf(st::DType dtype) {
  return std::string(st::dtypeName(dtype));
}

} // namespace

const char *elementTypeName(ElementType type) { return entryOf(type).name; }

std::optional<ElementType> parseElementType(std::string_view name) {
  for (const ElementTypeEntry &e : kElementTypes)
    if (name == e.name)
      return e.type;
  return std::nullopt;
}

size_t elementSize(ElementType type) { return entryOf(type).size; }

//===----------------------------------------------------------------------===//
// ParamSpec
//===----------------------------------------------------------------------===//

absl::StatusOr<ParamSpec> ParamSpec::fromJson(const json::Value &arg) {
  const json::Value *name = arg.find("name");
  if (!name || !name->isString() || name->getString().empty())
    return absl::InvalidArgumentError(
        "param without a \"name\" string in the manifest");
  ParamSpec spec;
  spec.name = name->getString();
  auto error = [&](const auto &...parts) {
    return absl::InvalidArgumentError(
        absl::StrCat("param ", quote(spec.name), ": ", parts...));
  };

  const json::Value *dtype = arg.find("dtype");
  std::optional<ElementType> type;
  if (dtype && dtype->isString())
    type = parseElementType(dtype->getString());
  if (!type || (*type != ElementType::F32 && *type != ElementType::F8E4M3))
    return error("\"dtype\" must be \"f32\" or \"f8e4m3\", found ",
                 dtype ? dtype->dump() : "nothing");
  spec.dtype = *type;

  const json::Value *shape = arg.find("shape");
  if (!shape || !shape->isArray())
    return error("\"shape\" must be an array of integers");
  for (const json::Value &dim : shape->getArray()) {
    if (!dim.isInteger() || dim.getInt() < 0)
      return error("\"shape\" ", shape->dump(),
                   " must hold non-negative integers (params have static "
                   "shapes)");
    spec.shape.push_back(dim.getInt());
  }
  std::optional<int64_t> elements = checkedProduct(spec.shape);
  int64_t bytes;
  if (!elements ||
      __builtin_mul_overflow(
          *elements, static_cast<int64_t>(elementSize(spec.dtype)), &bytes))
    return error("shape ", formatShape(spec.shape), " is too large");

  bool hasPlaceholder = spec.name.find(kStackPlaceholder) != std::string::npos;
  if (const json::Value *stack = arg.find("stack")) {
    if (!stack->isInteger() || stack->getInt() < 1)
      return error("\"stack\" must be a positive integer, found ",
                   stack->dump());
    spec.stack = stack->getInt();
    if (spec.shape.empty() || spec.shape[0] != spec.stack)
      return error("shape ", formatShape(spec.shape), " must start with the ",
                   "stack size ", spec.stack);
    if (!hasPlaceholder)
      return error("a stacked param's name must contain \"{}\"");
  } else if (hasPlaceholder) {
    return error("the name contains \"{}\" but there is no \"stack\"");
  }
  return spec;
}

int64_t ParamSpec::numElements() const {
  return checkedProduct(shape).value_or(-1);
}

size_t ParamSpec::numBytes() const {
  return static_cast<size_t>(numElements()) * elementSize(dtype);
}

std::vector<int64_t> ParamSpec::sliceShape() const {
  std::vector<int64_t> slice = shape;
  if (stack)
    slice.erase(slice.begin());
  return slice;
}

std::string ParamSpec::tensorName(int64_t index) const {
  if (stack == 0)
    return name;
  return absl::StrReplaceAll(name, {{"{}", absl::StrCat(index)}});
}

//===----------------------------------------------------------------------===//
// Packing
//===----------------------------------------------------------------------===//

absl::Status packParam(const st::Checkpoint &checkpoint, const ParamSpec &param,
                       void *out) {
  const std::vector<int64_t> sliceShape = param.sliceShape();
  int64_t sliceElements = checkedProduct(sliceShape).value_or(-1);
  if (sliceElements < 0 || param.numElements() < 0)
    return absl::InvalidArgumentError(absl::StrCat("param ", quote(param.name),
                                                   ": invalid shape ",
                                                   formatShape(param.shape)));
  const size_t sliceBytes =
      static_cast<size_t>(sliceElements) * elementSize(param.dtype);

  uint8_t *dest = static_cast<uint8_t *>(out);
  for (int64_t i = 0, e = param.stack ? param.stack : 1; i < e;
       ++i, dest += sliceBytes) {
    std::string name = param.tensorName(i);
    const st::TensorInfo *t = checkpoint.find(name);
    if (!t)
      return absl::NotFoundError(absl::StrCat(
          checkpoint.directory(), ": no tensor ", quote(name),
          param.stack
              ? absl::StrCat(" (for the stacked param ", quote(param.name), ")")
              : ""));
    if (t->shape != sliceShape)
      return absl::InvalidArgumentError(
          absl::StrCat(t->file, ": tensor ", quote(name), " has shape ",
                       formatShape(t->shape), ", the artifact expects ",
                       formatShape(sliceShape)));
    switch (param.dtype) {
    case ElementType::F32:
    case ElementType::BF16: {
      if (t->dtype != st::DType::F32 && t->dtype != st::DType::BF16 &&
          t->dtype != st::DType::F16 && t->dtype != st::DType::F64)
        // FP8 values mean nothing without their block scales, which the
        // compiled code applies itself to f8e4m3 params.
        return absl::InvalidArgumentError(absl::StrCat(
            t->file, ": tensor ", quote(name), " is ", nameOf(t->dtype),
            "; the artifact's ", elementTypeName(param.dtype),
            " param needs F32, BF16, F16 or F64 (recompile so that this "
            "weight is an f8e4m3 param)"));
      if (param.dtype == ElementType::F32) {
        if (absl::Status s =
                st::convertToF32(*t, reinterpret_cast<float *>(dest));
            !s.ok())
          return s;
        break;
      }
      // bf16 (the weights of a target's tensor-core GEMMs, experts'
      // stacks slice by slice): a BF16 tensor as it is, others through
      // f32, rounded to nearest even.
      if (t->dtype == st::DType::BF16) {
        if (t->numBytes != sliceBytes)
          return absl::InvalidArgumentError(absl::StrCat(
              t->file, ": tensor ", quote(name), " holds ", t->numBytes,
              " bytes, its shape needs ", sliceBytes));
        std::memcpy(dest, t->data, sliceBytes);
        break;
      }
      std::vector<float> wide(static_cast<size_t>(sliceElements));
      if (absl::Status s = st::convertToF32(*t, wide.data()); !s.ok())
        return s;
      st::narrowToBf16(wide.data(), wide.size(),
                       reinterpret_cast<uint16_t *>(dest));
      break;
    }
    case ElementType::F8E4M3:
      if (t->dtype != st::DType::F8_E4M3)
        return absl::InvalidArgumentError(absl::StrCat(
            t->file, ": tensor ", quote(name), " is ", nameOf(t->dtype),
            "; the artifact's f8e4m3 param needs F8_E4M3 (the checkpoint "
            "does not match the one the artifact was compiled for)"));
      std::memcpy(dest, t->data, sliceBytes);
      break;
    case ElementType::I64:
      return absl::InvalidArgumentError(absl::StrCat(
          "param ", quote(param.name), ": ", elementTypeName(param.dtype),
          " params are not supported"));
    }
  }
  return absl::OkStatus();
}

std::vector<const st::TensorInfo *>
storedSlices(const st::Checkpoint &checkpoint, const ParamSpec &param) {
  st::DType stored = st::DType::F32;
  switch (param.dtype) {
  case ElementType::F32:
    stored = st::DType::F32;
    break;
  case ElementType::BF16:
    stored = st::DType::BF16;
    break;
  case ElementType::F8E4M3:
    stored = st::DType::F8_E4M3;
    break;
  case ElementType::I64:
    return {};
  }
  const std::vector<int64_t> sliceShape = param.sliceShape();
  std::optional<int64_t> sliceElements = checkedProduct(sliceShape);
  if (!sliceElements || param.numElements() < 0)
    return {};
  const uint64_t sliceBytes =
      static_cast<uint64_t>(*sliceElements) * elementSize(param.dtype);
  std::vector<const st::TensorInfo *> slices;
  for (int64_t i = 0, e = param.stack ? param.stack : 1; i < e; ++i) {
    const st::TensorInfo *t = checkpoint.find(param.tensorName(i));
    if (!t || t->dtype != stored || t->shape != sliceShape ||
        t->numBytes != sliceBytes ||
        reinterpret_cast<uintptr_t>(t->data) % elementSize(param.dtype) != 0)
      return {};
    slices.push_back(t);
  }
  return slices;
}

const void *backToBack(const std::vector<const st::TensorInfo *> &slices) {
  if (slices.empty())
    return nullptr;
  // A file's data section is one mapping: slice i must start where slice 0
  // does plus i slices.
  const st::TensorInfo *head = slices.front();
  for (size_t i = 1; i < slices.size(); ++i)
    if (slices[i]->file != head->file ||
        slices[i]->data != head->data + i * head->numBytes)
      return nullptr;
  return head->data;
}

const void *storedAsPacked(const st::Checkpoint &checkpoint,
                           const ParamSpec &param) {
  return backToBack(storedSlices(checkpoint, param));
}

std::optional<StitchedMapping>
stitchSlices(const st::Checkpoint &checkpoint,
             const std::vector<const st::TensorInfo *> &slices) {
  if (slices.size() < 2)
    return std::nullopt;
  // The identity of each file the tensors were read from, so that
  // stitching maps no other file that has taken its path since.
  std::map<std::string, std::pair<uint64_t, uint64_t>> identities;
  for (const std::unique_ptr<st::File> &file : checkpoint.files())
    identities.emplace(file->path(), file->identity());
  std::vector<StitchedMapping::Piece> pieces;
  for (const st::TensorInfo *t : slices) {
    auto identity = identities.find(t->file);
    if (identity == identities.end())
      return std::nullopt;
    pieces.push_back(
        {t->file, identity->second, t->fileOffset, t->numBytes, t->data});
  }
  return StitchedMapping::stitch(pieces);
}

//===----------------------------------------------------------------------===//
// Random weights
//===----------------------------------------------------------------------===//

namespace {

/// splitmix64: a fast generator whose every output is a full 64-bit mix of
/// its counter, so that each param's stream depends on its own seed only.
struct SplitMix64 {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

/// FNV-1a of `name`: each param's own stream.
uint64_t nameHash(std::string_view name) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (char c : name)
    h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  return h;
}

bool endsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() &&
         s.substr(s.size() - suffix.size()) == suffix;
}

} // namespace

void fillRandomParam(const ParamSpec &param, uint64_t seed, void *out) {
  const int64_t count = param.numElements();
  std::string_view name = param.name;
  // A constant for the params whose scale a model relies on.
  std::optional<float> constant;
  std::string lower(name);
  for (char &c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (endsWith(lower, "bias"))
    constant = 0.0f;
  else if (lower.find("norm") != std::string::npos)
    constant = 1.0f;
  else if (endsWith(lower, "scale_inv"))
    constant = 1.0f / 64;
  const uint64_t stream = seed ^ nameHash(name);
  // Chunks of 1M values, each from its own generator, filled by all the
  // machine's threads (V3's MoE layer alone is 11G values): the values do
  // not depend on the thread count.
  constexpr int64_t kChunk = int64_t{1} << 20;
  auto fillChunk = [&](int64_t first, int64_t last) {
    SplitMix64 rng{stream + static_cast<uint64_t>(first / kChunk) *
                                0xd1b54a32d192ed03ull};
    // Uniform in [-0.03, 0.03], two values from each 64 random bits.
    uint64_t bits = 0;
    auto value = [&](int64_t i) {
      if (constant)
        return *constant;
      bits = i % 2 == 0 ? rng.next() : bits >> 32;
      return (static_cast<float>(bits & 0xffffff) / 0x800000 - 1.0f) * 0.03f;
    };
    for (int64_t i = first; i < last; ++i) {
      switch (param.dtype) {
      case ElementType::F32:
        static_cast<float *>(out)[i] = value(i);
        break;
      case ElementType::BF16:
        static_cast<uint16_t *>(out)[i] = st::f32ToBf16(value(i));
        break;
      case ElementType::F8E4M3: {
        // A random sign and a code below 0x38 (1.0): never NaN (0x7f,
        // 0xff).
        uint64_t r = rng.next();
        static_cast<uint8_t *>(out)[i] =
            static_cast<uint8_t>((r & 0x80) | ((r >> 8) % 0x38));
        break;
      }
      case ElementType::I64:
        static_cast<int64_t *>(out)[i] = 0;
        break;
      }
    }
  };
  const int64_t chunks = (count + kChunk - 1) / kChunk;
  const int64_t threads = std::min<int64_t>(
      chunks, std::max(1u, std::thread::hardware_concurrency()));
  std::atomic<int64_t> next{0};
  auto work = [&] {
    for (int64_t c = next++; c < chunks; c = next++)
      fillChunk(c * kChunk, std::min(count, (c + 1) * kChunk));
  };
  std::vector<std::thread> pool;
  for (int64_t t = 1; t < threads; ++t)
    pool.emplace_back(work);
  work();
  for (std::thread &thread : pool)
    thread.join();
}

} // namespace dsc::runtime
