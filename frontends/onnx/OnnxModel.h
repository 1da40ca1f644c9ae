//===- OnnxModel.h - An ONNX model file, read and validated -----*- C++ -*-===//
//
// The first half of the ONNX frontend: reads a `.onnx` file as untrusted
// input and checks everything the importer will rely on, so that a bad file
// fails here with one line naming the file and the initializer, node or
// field, never later with a crash:
//
// - the protobuf parses and holds a graph;
// - the default-domain opset is one dsc reads (13 to 21);
// - every initializer has a supported dtype, a valid shape and exactly the
//   bytes its shape needs, from raw_data, the typed fields, or external
//   data (a file next to the model, offset and length inside it);
// - every node's op is one the importer handles (ops of other domains or
//   unknown ones are named with their node and opset).
//
// Converting the graph to the canonical dsc graph is OnnxImporter's job.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_FRONTENDS_ONNX_ONNXMODEL_H
#define DSC_FRONTENDS_ONNX_ONNXMODEL_H

#include "runtime/support/MappedFile.h"

#include "absl/status/statusor.h"

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace onnx {
class ModelProto;
class GraphProto;
} // namespace onnx

namespace dsc::onnx_frontend {

/// The element types dsc reads, by their ONNX TensorProto codes.
enum class OnnxType : int32_t {
  Float = 1,
  Uint8 = 2,
  Int8 = 3,
  Int32 = 6,
  Int64 = 7,
  Bool = 9,
  Float16 = 10,
  Double = 11,
  BFloat16 = 16,
  Float8E4M3FN = 17,
};

/// "f32", "bf16", ...; "" for a code dsc does not read.
std::string_view onnxTypeName(int32_t code);
/// Bytes per element; 0 for a code dsc does not read.
int64_t onnxTypeSize(int32_t code);

/// One dimension of a graph input or output: a size or a symbol ("batch").
struct OnnxDim {
  int64_t size = -1;
  std::string symbol;
};

struct OnnxValueInfo {
  std::string name;
  int32_t type = 0;
  std::vector<OnnxDim> dims;
};

/// An initializer's bytes (little-endian, row-major), wherever they live.
struct OnnxInitializer {
  std::string name;
  int32_t type = 0;
  std::vector<int64_t> shape;
  std::string_view bytes;
};

class OnnxModel {
public:
  /// Reads and validates `path` (see the file comment). Errors are one line
  /// "PATH: ...".
  static absl::StatusOr<std::unique_ptr<OnnxModel>>
  load(const std::string &path);
  ~OnnxModel();

  /// The default-domain opset.
  int64_t opset() const { return opsetVersion; }
  const onnx::GraphProto &graph() const;
  /// The graph's nodes.
  int nodeCount() const;
  const std::vector<OnnxValueInfo> &inputs() const { return graphInputs; }
  const std::vector<OnnxValueInfo> &outputs() const { return graphOutputs; }
  const std::vector<OnnxInitializer> &initializers() const { return inits; }
  /// The initializer called `name`, or nullptr.
  const OnnxInitializer *findInitializer(std::string_view name) const;

  /// The ops of the default domain the importer handles.
  static const std::vector<std::string_view> &supportedOps();

private:
  OnnxModel() = default;
  absl::Status validate();
  absl::Status readInitializers();

  std::string path;
  std::unique_ptr<onnx::ModelProto> model;
  int64_t opsetVersion = 0;
  std::vector<OnnxValueInfo> graphInputs, graphOutputs;
  std::vector<OnnxInitializer> inits;
  /// Bytes that do not live in the protobuf's raw_data: converted typed
  /// fields and mapped external files.
  std::vector<std::string> converted;
  std::map<std::string, MappedFile> externalFiles;
};

} // namespace dsc::onnx_frontend

#endif // DSC_FRONTENDS_ONNX_ONNXMODEL_H
