//===- OnnxModel.cpp - An ONNX model file, read and validated -------------===//

#include "frontends/onnx/OnnxModel.h"

#include "runtime/support/Errors.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstring>
#include <limits>

namespace dsc::onnx_frontend {
namespace {

constexpr int64_t kMinOpset = 13, kMaxOpset = 21;

struct TypeInfo {
  int32_t code;
  std::string_view name;
  int64_t size;
};

constexpr TypeInfo kTypes[] = {
    {1, "f32", 4},   {2, "u8", 1},        {3, "i8", 1},   {6, "i32", 4},
    {7, "i64", 8},   {9, "bool", 1},      {10, "f16", 2}, {11, "f64", 8},
    {16, "bf16", 2}, {17, "f8e4m3fn", 1},
};

const TypeInfo *typeInfo(int32_t code) {
  for (const TypeInfo &t : kTypes)
    if (t.code == code)
      return &t;
  return nullptr;
}

std::string formatShape(const std::vector<int64_t> &shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

bool isDefaultDomain(const std::string &domain) {
  return domain.empty() || domain == "ai.onnx";
}

/// The directory part of `path`, with its trailing slash ("" for none).
std::string directoryOf(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash + 1);
}

OnnxValueInfo readValueInfo(const onnx::ValueInfoProto &info) {
  OnnxValueInfo value;
  value.name = info.name();
  if (info.type().has_tensor_type()) {
    const onnx::TypeProto::Tensor &tensor = info.type().tensor_type();
    value.type = tensor.elem_type();
    for (const onnx::TensorShapeProto::Dimension &d : tensor.shape().dim()) {
      OnnxDim dim;
      if (d.has_dim_value())
        dim.size = d.dim_value();
      else
        dim.symbol = d.dim_param();
      value.dims.push_back(std::move(dim));
    }
  }
  return value;
}

} // namespace

std::string_view onnxTypeName(int32_t code) {
  const TypeInfo *t = typeInfo(code);
  return t ? t->name : std::string_view();
}

int64_t onnxTypeSize(int32_t code) {
  const TypeInfo *t = typeInfo(code);
  return t ? t->size : 0;
}

const std::vector<std::string_view> &OnnxModel::supportedOps() {
  // What torch.onnx.export writes for DeepSeek-style models (opset 17 from
  // the TorchScript exporter, 18 from the dynamo one): the issue's list, and
  // the few ops around them that such exports contain.
  static const std::vector<std::string_view> ops = {
      "Add",
      "And",
      "Cast",
      "Concat",
      "Constant",
      "ConstantOfShape",
      "Cos",
      "CumSum",
      "Div",
      "Einsum",
      "Equal",
      "Exp",
      "Expand",
      "Flatten",
      "Gather",
      "GatherElements",
      "GatherND",
      "Gemm",
      "Greater",
      "GreaterOrEqual",
      "Identity",
      "If",
      "Less",
      "LessOrEqual",
      "MatMul",
      "Max",
      "Min",
      "Mul",
      "Neg",
      "Not",
      "Or",
      "Pow",
      "Range",
      "Reciprocal",
      "ReduceMax",
      "ReduceMean",
      "ReduceSum",
      "Reshape",
      "ScatterElements",
      "ScatterND",
      "Shape",
      "Sigmoid",
      "Sin",
      "Slice",
      "Softmax",
      "Split",
      "Sqrt",
      "Squeeze",
      "Sub",
      "Tanh",
      "TopK",
      "Transpose",
      "Trilu",
      "Unsqueeze",
      "Where",
  };

  return ops;
}

OnnxModel::~OnnxModel() = default;

const onnx::GraphProto &OnnxModel::graph() const { return model->graph(); }

int OnnxModel::nodeCount() const { return model->graph().node_size(); }

const OnnxInitializer *OnnxModel::findInitializer(std::string_view name) const {
  for (const OnnxInitializer &init : inits)
    if (init.name == name)
      return &init;
  return nullptr;
}

absl::StatusOr<std::unique_ptr<OnnxModel>>
OnnxModel::load(const std::string &path) {
  absl::StatusOr<MappedFile> file = MappedFile::open(path);
  if (!file.ok())
    return file.status();
  if (file->size() > uint64_t(std::numeric_limits<int>::max()))
    return absl::InvalidArgumentError(absl::StrCat(
        path, ": ", file->size(),
        " bytes, over protobuf's 2 GB limit for one message (large ONNX "
        "models keep their weights in external data files)"));
  std::unique_ptr<OnnxModel> result(new OnnxModel());
  result->path = path;
  result->model = std::make_unique<onnx::ModelProto>();
  if (!result->model->ParseFromArray(file->data(), int(file->size())))
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": not an ONNX model: the protobuf does not parse "
                           "(a truncated or corrupted file?)"));
  if (absl::Status s = result->validate(); !s.ok())
    return s;
  return result;
}

absl::Status OnnxModel::validate() {
  auto error = [&](auto &&...parts) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", parts...));
  };
  if (!model->has_graph() || model->ir_version() <= 0)
    return error("not an ONNX model: no graph or no IR version");
  for (const onnx::OperatorSetIdProto &set : model->opset_import())
    if (isDefaultDomain(set.domain()))
      opsetVersion = set.version();
  if (opsetVersion == 0)
    return error("no opset for the default (ai.onnx) domain");
  if (opsetVersion < kMinOpset || opsetVersion > kMaxOpset)
    return error("opset ", opsetVersion,
                 " of the default domain is not supported (dsc reads opsets ",
                 kMinOpset, " to ", kMaxOpset, ")");

  const onnx::GraphProto &g = model->graph();
  for (const onnx::ValueInfoProto &info : g.input())
    graphInputs.push_back(readValueInfo(info));
  for (const onnx::ValueInfoProto &info : g.output())
    graphOutputs.push_back(readValueInfo(info));
  if (graphOutputs.empty())
    return error("the graph has no outputs");

  const std::vector<std::string_view> &ops = supportedOps();
  for (int i = 0; i < g.node_size(); ++i) {
    const onnx::NodeProto &node = g.node(i);
    std::string name =
        node.name().empty() ? absl::StrCat("#", i) : quote(node.name());
    if (!isDefaultDomain(node.domain()))
      return error("node ", name, " (op ", quote(node.op_type()), " of domain ",
                   quote(node.domain()),
                   ") is not supported: dsc reads the ai.onnx domain only");
    if (std::find(ops.begin(), ops.end(), node.op_type()) == ops.end())
      return error("node ", name, " (op ", quote(node.op_type()), ", opset ",
                   opsetVersion, ") is not supported");
  }
  return readInitializers();
}

absl::Status OnnxModel::readInitializers() {
  const onnx::GraphProto &g = model->graph();
  converted.reserve(g.initializer_size());
  for (const onnx::TensorProto &t : g.initializer()) {
    std::string what = absl::StrCat("initializer ", quote(t.name()));
    auto error = [&](auto &&...parts) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": ", what, ": ", parts...));
    };
    if (t.name().empty())
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": an initializer has no name"));
    int64_t elementSize = onnxTypeSize(t.data_type());
    if (elementSize == 0)
      return error("data type ", t.data_type(), " is not supported");
    OnnxInitializer init;
    init.name = t.name();
    init.type = t.data_type();
    int64_t elements = 1;
    for (int64_t d : t.dims()) {
      if (d < 0)
        return error("negative dimension ", d);
      if (d && elements > (int64_t(1) << 48) / d)
        return error("shape too large");
      elements *= d;
      init.shape.push_back(d);
    }
    const int64_t needed = elements * elementSize;
    std::string shapeText = absl::StrCat(formatShape(init.shape), " ",
                                         std::string(onnxTypeName(init.type)));

    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      std::string location;
      int64_t offset = 0, length = -1;
      for (const onnx::StringStringEntryProto &kv : t.external_data()) {
        char *end = nullptr;
        if (kv.key() == "location") {
          location = kv.value();
        } else if (kv.key() == "offset" || kv.key() == "length") {
          long long v = std::strtoll(kv.value().c_str(), &end, 10);
          if (kv.value().empty() || *end || v < 0)
            return error("external data ", kv.key(), " ", quote(kv.value()),
                         " is not a byte count");
          (kv.key() == "offset" ? offset : length) = v;
        }
      }
      if (location.empty())
        return error("external data without a location");
      // Relative to the model, and inside its directory.
      if (location[0] == '/' || location.find("..") != std::string::npos)
        return error("external data location ", quote(location),
                     " must be a relative path without '..'");
      if (length >= 0 && length != needed)
        return error("external data length ", length, " but shape ", shapeText,
                     " needs ", needed, " bytes");
      std::string file = directoryOf(path) + location;
      auto it = externalFiles.find(file);
      if (it == externalFiles.end()) {
        absl::StatusOr<MappedFile> mapped = MappedFile::open(file);
        if (!mapped.ok())
          return error("external data file ", quote(location),
                       " cannot be read: ", mapped.status().message());
        it = externalFiles.emplace(file, std::move(*mapped)).first;
      }
      const MappedFile &data = it->second;
      if (uint64_t(offset) > data.size() ||
          uint64_t(needed) > data.size() - uint64_t(offset))
        return error("external data bytes [", offset, ", ", offset + needed,
                     ") are outside ", quote(location), " (", data.size(),
                     " bytes)");
      init.bytes = std::string_view(
          reinterpret_cast<const char *>(data.data()) + offset, needed);
    } else if (t.has_raw_data()) {
      if (int64_t(t.raw_data().size()) != needed)
        return error(t.raw_data().size(), " bytes of raw data but shape ",
                     shapeText, " needs ", needed);
      init.bytes = t.raw_data();
    } else {
      // The typed fields: one entry per element (16- and 8-bit types keep
      // their bit pattern in int32_data).
      std::string &bytes = converted.emplace_back(needed, '\0');
      auto fill = [&](const auto &field, const char *fieldName) {
        if (int64_t(field.size()) != elements)
          return error(field.size(), " values in ", fieldName, " but shape ",
                       shapeText, " needs ", elements);
        for (int64_t i = 0; i < elements; ++i) {
          auto value = field.Get(int(i));
          std::memcpy(bytes.data() + i * elementSize, &value,
                      size_t(elementSize));
        }
        return absl::OkStatus();
      };
      absl::Status status;
      switch (OnnxType(init.type)) {
      case OnnxType::Float:
        status = fill(t.float_data(), "float_data");
        break;
      case OnnxType::Double:
        status = fill(t.double_data(), "double_data");
        break;
      case OnnxType::Int64:
        status = fill(t.int64_data(), "int64_data");
        break;
      default:
        // Little-endian: the low bytes of each int32 are the element.
        status = fill(t.int32_data(), "int32_data");
        break;
      }
      if (!status.ok())
        return status;
      init.bytes = bytes;
    }
    inits.push_back(std::move(init));
  }
  return absl::OkStatus();
}

} // namespace dsc::onnx_frontend
