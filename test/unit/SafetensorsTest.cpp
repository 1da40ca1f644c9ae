//===- SafetensorsTest.cpp - Tests for safetensors reading and writing ----===//

#include "runtime/support/Safetensors.h"
#include "test/unit/TempDirTest.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <optional>
#include <string>

using namespace dsc::st;

namespace {

class SafetensorsTest : public dsc::testing::TempDirTest {
protected:
  /// Writes `bytes` verbatim to `name` in the test directory.
  std::string writeBytes(const std::string &name, const std::string &bytes) {
    std::string p = path(name);
    FILE *f = std::fopen(p.c_str(), "wb");
    EXPECT_NE(f, nullptr);
    if (!bytes.empty()) {
      EXPECT_EQ(std::fwrite(bytes.data(), 1, bytes.size(), f), bytes.size());
    }
    std::fclose(f);
    return p;
  }

  /// Writes a safetensors file with a hand-written header and `dataSize`
  /// zero bytes of data; `claimedHeaderSize` overrides the length field.
  std::string writeRaw(const std::string &name, const std::string &header,
                       size_t dataSize,
                       std::optional<uint64_t> claimedHeaderSize = {}) {
    uint64_t length = claimedHeaderSize.value_or(header.size());
    std::string bytes(reinterpret_cast<const char *>(&length), 8);
    bytes += header;
    bytes.append(dataSize, '\0');
    return writeBytes(name, bytes);
  }

  /// Writes a safetensors file with the library's writer.
  std::string write(const std::string &name,
                    const std::vector<WriteTensor> &tensors,
                    const Metadata &metadata = {}) {
    std::string p = path(name);
    absl::Status status = writeFile(p, tensors, metadata);
    EXPECT_TRUE(status.ok()) << status;
    return p;
  }
};

/// Expects `status` to be an error whose one-line message contains every
/// string in `parts`.
void expectError(const absl::Status &status,
                 std::initializer_list<std::string> parts) {
  ASSERT_FALSE(status.ok());
  std::string message(status.message());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  for (const std::string &part : parts)
    EXPECT_NE(message.find(part), std::string::npos)
        << "missing '" << part << "' in: " << message;
}

template <typename T>
void expectError(const absl::StatusOr<T> &result,
                 std::initializer_list<std::string> parts) {
  expectError(result.status(), parts);
}

template <typename T> std::vector<uint8_t> toBytes(std::vector<T> values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  if (!bytes.empty())
    std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

WriteTensor f32Tensor(std::string name, std::vector<int64_t> shape,
                      std::vector<float> values) {
  return {std::move(name), DType::F32, std::move(shape), toBytes(values)};
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

TEST(DTypeTest, NamesSizesAndParsing) {
  const std::pair<DType, uint64_t> all[] = {
      {DType::F64, 8},  {DType::F32, 4},     {DType::F16, 2},
      {DType::BF16, 2}, {DType::F8_E4M3, 1}, {DType::F8_E5M2, 1},
      {DType::I64, 8},  {DType::I32, 4},     {DType::I16, 2},
      {DType::I8, 1},   {DType::U8, 1},      {DType::BOOL, 1}};
  for (auto [dtype, size] : all) {
    EXPECT_EQ(dtypeSize(dtype), size) << dtypeName(dtype);
    EXPECT_EQ(parseDType(dtypeName(dtype)), dtype);
  }
  EXPECT_EQ(dtypeName(DType::F8_E4M3), "F8_E4M3");
  EXPECT_EQ(parseDType("bf16"), std::nullopt) << "names are case-sensitive";
  EXPECT_EQ(parseDType("F4"), std::nullopt);
}

//===----------------------------------------------------------------------===//
// File: round trip
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriteThenReadBack) {
  std::vector<WriteTensor> tensors = {
      f32Tensor("model.norm.weight", {2, 3}, {1, 2, 3, 4, 5, 6}),
      {"lm_head.weight", DType::BF16, {4}, toBytes<uint16_t>({1, 2, 3, 4})},
      {"step", DType::I64, {}, toBytes<int64_t>({-7})},
      {"empty", DType::U8, {0, 5}, {}},
  };
  std::string p =
      write("model.safetensors", tensors, {{"format", "pt"}, {"note", "a\nb"}});

  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->path(), p);
  ASSERT_EQ((*file)->tensors().size(), tensors.size());
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorInfo &t = (*file)->tensors()[i];
    EXPECT_EQ(t.name, tensors[i].name) << "header order is kept";
    EXPECT_EQ(t.dtype, tensors[i].dtype);
    EXPECT_EQ(t.shape, tensors[i].shape);
    EXPECT_EQ(t.file, p);
    ASSERT_EQ(t.numBytes, tensors[i].bytes.size());
    EXPECT_EQ(std::vector<uint8_t>(t.data, t.data + t.numBytes),
              tensors[i].bytes);
    EXPECT_EQ((*file)->find(t.name), &t);
  }
  EXPECT_EQ((*file)->find("step")->numElements(), 1) << "scalar";
  EXPECT_EQ((*file)->find("empty")->numElements(), 0);
  EXPECT_EQ((*file)->find("model.norm.weight")->numElements(), 6);
  EXPECT_EQ((*file)->find("missing"), nullptr);
  EXPECT_EQ((*file)->find(""), nullptr);
  Metadata expected = {{"format", "pt"}, {"note", "a\nb"}};
  EXPECT_EQ((*file)->metadata(), expected);
}

TEST_F(SafetensorsTest, ReadsHandWrittenHeaderWithGapsAndPadding) {
  // Gaps between tensors are allowed; header padding with spaces is JSON
  // whitespace; zero-size tensors may sit anywhere; unknown keys are ignored.
  std::string p = writeRaw(
      "gaps.safetensors",
      R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[6,8]},)"
      R"("z":{"dtype":"F32","shape":[0],"data_offsets":[7,7],"extra":1},)"
      R"("b":{"dtype":"I16","shape":[1,1],"data_offsets":[0,2]}}    )",
      10);
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_EQ((*file)->tensors().size(), 3u);
  EXPECT_TRUE((*file)->metadata().empty());
}

TEST_F(SafetensorsTest, EmptyHeaderObject) {
  std::string p = writeRaw("none.safetensors", "{}", 0);
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE((*file)->tensors().empty());
}

//===----------------------------------------------------------------------===//
// File: bad input
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, MissingFile) {
  absl::StatusOr<std::unique_ptr<File>> file = File::open(path("nope"));
  EXPECT_EQ(file.status().code(), absl::StatusCode::kNotFound);
  expectError(file, {path("nope"), "cannot open"});
}

TEST_F(SafetensorsTest, DirectoryIsNotAFile) {
  expectError(File::open(dir), {dir, "not a regular file"});
}

TEST_F(SafetensorsTest, EmptyAndTruncatedFiles) {
  std::string empty = writeBytes("empty.safetensors", "");
  expectError(File::open(empty), {empty, "0 bytes", "8-byte header length"});
  std::string truncated = writeBytes("short.safetensors", "abc");
  expectError(File::open(truncated),
              {truncated, "3 bytes", "8-byte header length"});
}

TEST_F(SafetensorsTest, HeaderLengthLargerThanFile) {
  std::string p = writeRaw("big.safetensors", "{}", 8, /*claimed=*/1000);
  expectError(File::open(p),
              {p, "header length 1000 bytes is larger than the file (18 "
                  "bytes"});
  // A length near 2^64 must not wrap around when added to 8.
  std::string wrap = writeRaw("wrap.safetensors", "{}", 8, ~uint64_t{0});
  expectError(File::open(wrap), {wrap, "18446744073709551615"});
}

TEST_F(SafetensorsTest, HeaderNotJson) {
  std::string p = writeRaw("bad.safetensors", "{not json}", 0);
  expectError(File::open(p), {p, "header is not valid JSON",
                              "line 1, column 2 (byte offset 1)"});
  std::string array = writeRaw("array.safetensors", "[1, 2]", 0);
  expectError(File::open(array), {array, "not a JSON object"});
  // The header length cuts a valid JSON document short.
  std::string cut = writeRaw("cut.safetensors", "{\"a\": 1}", 0, 5);
  expectError(File::open(cut), {cut, "not valid JSON"});
}

TEST_F(SafetensorsTest, DuplicateTensorNameInHeader) {
  std::string p =
      writeRaw("dup.safetensors",
               R"({"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
               R"("w":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}})",
               2);
  expectError(File::open(p), {p, "duplicate key"});
}

TEST_F(SafetensorsTest, MetadataMustMapStringsToStrings) {
  std::string p = writeRaw("meta.safetensors",
                           R"({"__metadata__":{"format":"pt","n":3}})", 0);
  expectError(File::open(p), {p, "'__metadata__' key 'n'", "not a string"});
  std::string q =
      writeRaw("meta2.safetensors", R"({"__metadata__":["pt"]})", 0);
  expectError(File::open(q), {q, "'__metadata__'", "not an object"});
}

TEST_F(SafetensorsTest, TensorEntryNotAnObject) {
  std::string p = writeRaw("entry.safetensors", R"({"w":[1,2]})", 0);
  expectError(File::open(p), {p, "tensor 'w'", "not an object"});
}

TEST_F(SafetensorsTest, UnknownDType) {
  std::string p =
      writeRaw("dtype.safetensors",
               R"({"w":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", 1);
  expectError(File::open(p), {p, "tensor 'w'", "unknown dtype 'F4'"});
  std::string q = writeRaw("dtype2.safetensors",
                           R"({"w":{"shape":[2],"data_offsets":[0,1]}})", 1);
  expectError(File::open(q), {q, "tensor 'w'", "missing 'dtype'"});
}

TEST_F(SafetensorsTest, ShapeAndOffsetSizeMismatch) {
  std::string p = writeRaw(
      "mismatch.safetensors",
      R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}})", 16);
  expectError(File::open(p),
              {p, "tensor 'w'", "shape [2, 2] with dtype F32 needs 16 bytes",
               "data_offsets [0, 12] span 12"});
}

TEST_F(SafetensorsTest, OffsetsPastTheEnd) {
  std::string p =
      writeRaw("model.safetensors",
               R"({"model.norm.weight":{"dtype":"F32","shape":[25],)"
               R"("data_offsets":[0,100]}})",
               64);
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_FALSE(file.ok());
  EXPECT_EQ(file.status().message(),
            p + ": tensor 'model.norm.weight': data_offsets [0, 100] exceed "
                "the data section (64 bytes)");
}

TEST_F(SafetensorsTest, ReversedOffsets) {
  std::string p =
      writeRaw("rev.safetensors",
               R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,4]}})", 8);
  expectError(File::open(p), {p, "tensor 'w'", "[8, 4]", "end before"});
}

TEST_F(SafetensorsTest, MalformedOffsets) {
  for (const char *offsets : {"[0]", "[0,1,2]", "[-1,0]", "[0,1.5]", "\"0,1\"",
                              "[0,null]", "[0,18446744073709551616]"}) {
    std::string p = writeRaw(
        "offsets.safetensors",
        std::string(R"({"w":{"dtype":"U8","shape":[1],"data_offsets":)") +
            offsets + "}}",
        8);
    expectError(File::open(p), {p, "tensor 'w'", "'data_offsets'",
                                "two non-negative integers"});
  }
}

TEST_F(SafetensorsTest, OverlappingOffsets) {
  std::string p =
      writeRaw("overlap.safetensors",
               R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
               R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
               24);
  expectError(File::open(p),
              {p, "tensor 'b'", "[8, 24]", "overlap", "tensor 'a' [0, 16]"});
  // Contained in a long earlier tensor, past a short one in between.
  std::string q =
      writeRaw("overlap2.safetensors",
               R"({"long":{"dtype":"U8","shape":[20],"data_offsets":[0,20]},)"
               R"("short":{"dtype":"U8","shape":[2],"data_offsets":[2,4]},)"
               R"("late":{"dtype":"U8","shape":[2],"data_offsets":[10,12]}})",
               24);
  expectError(File::open(q), {q, "overlap", "tensor 'long'"});
  // Identical ranges.
  std::string r =
      writeRaw("overlap3.safetensors",
               R"({"x":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
               R"("y":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
               4);
  expectError(File::open(r), {r, "overlap"});
}

TEST_F(SafetensorsTest, NegativeOrMalformedShape) {
  for (const char *shape :
       {"[-1,4]", "[2.5]", "[1e2]", "4", "[\"4\"]", "[9223372036854775808]"}) {
    std::string p = writeRaw("shape.safetensors",
                             std::string(R"({"w":{"dtype":"U8","shape":)") +
                                 shape + R"(,"data_offsets":[0,4]}})",
                             4);
    expectError(File::open(p), {p, "tensor 'w'", "shape"});
  }
}

TEST_F(SafetensorsTest, ShapeProductOverflow) {
  // 2^62 * 2^62 elements, and 2^62 eight-byte elements: both overflow.
  for (const char *shape :
       {"[4611686018427387904,4611686018427387904]", "[4611686018427387904]"}) {
    std::string p = writeRaw("overflow.safetensors",
                             std::string(R"({"w":{"dtype":"F64","shape":)") +
                                 shape + R"(,"data_offsets":[0,8]}})",
                             8);
    expectError(File::open(p), {p, "tensor 'w'", "does not fit in 64 bits"});
  }
  // A zero dimension makes a huge shape empty, which is valid.
  std::string ok =
      writeRaw("zero.safetensors",
               R"({"w":{"dtype":"F64","shape":[0,4611686018427387904],)"
               R"("data_offsets":[0,0]}})",
               0);
  EXPECT_TRUE(File::open(ok).ok());
}

TEST_F(SafetensorsTest, MissingFields) {
  std::string p =
      writeRaw("noofs.safetensors", R"({"w":{"dtype":"U8","shape":[1]}})", 1);
  expectError(File::open(p), {p, "tensor 'w'", "missing 'data_offsets'"});
  std::string q = writeRaw("noshape.safetensors",
                           R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", 1);
  expectError(File::open(q), {q, "tensor 'w'", "missing 'shape'"});
}

TEST_F(SafetensorsTest, ErrorMessagesStayOnOneLine) {
  std::string p = writeRaw(
      "nl.safetensors",
      R"({"evil\nname":{"dtype":"X","shape":[1],"data_offsets":[0,1]}})", 1);
  expectError(File::open(p), {p, "tensor 'evil\\x0aname'"});
}

//===----------------------------------------------------------------------===//
// Writer
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, WriterAlignsDataAndRejectsBadInput) {
  std::string p = write("aligned.safetensors", {f32Tensor("w", {1}, {1})});
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  // Header padded to a multiple of 8, so the data section starts aligned.
  EXPECT_EQ(reinterpret_cast<uintptr_t>((*file)->find("w")->data) % 8, 0u);

  std::string bad = path("bad.safetensors");
  expectError(writeFile(bad, {{"w", DType::F32, {3}, {1, 2, 3}}}),
              {bad, "tensor 'w'", "does not match its 3 bytes"});
  expectError(
      writeFile(bad, {f32Tensor("w", {1}, {1}), f32Tensor("w", {1}, {2})}),
      {bad, "duplicate tensor name 'w'"});
  expectError(writeFile(bad, {f32Tensor("__metadata__", {1}, {1})}),
              {bad, "reserved"});
  expectError(writeFile(bad, {{"w", DType::F32, {-1}, {}}}),
              {bad, "tensor 'w'"});
  expectError(writeFile(path("no/such/dir.safetensors"), {}),
              {path("no/such/dir.safetensors"), "cannot create"});
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsTest, CheckpointSingleFile) {
  write("model.safetensors",
        {f32Tensor("b", {1}, {2}), f32Tensor("a", {1}, {1})});
  // Ignored: model.safetensors takes precedence over other files.
  write("other.safetensors", {f32Tensor("a", {1}, {3})});
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ((*ckpt)->names(), (std::vector<std::string>{"a", "b"}));
  ASSERT_EQ((*ckpt)->files().size(), 1u);
  ASSERT_NE((*ckpt)->find("a"), nullptr);
  EXPECT_EQ((*ckpt)->find("a")->file, path("model.safetensors"));
  EXPECT_EQ((*ckpt)->find("c"), nullptr);
  EXPECT_EQ((*ckpt)->directory(), dir);
}

TEST_F(SafetensorsTest, CheckpointShardedViaIndex) {
  write("model-00001-of-00002.safetensors",
        {f32Tensor("model.embed_tokens.weight", {2, 2}, {1, 2, 3, 4}),
         f32Tensor("model.layers.0.input_layernorm.weight", {2}, {5, 6})});
  write("model-00002-of-00002.safetensors",
        {f32Tensor("lm_head.weight", {2, 2}, {7, 8, 9, 10}),
         f32Tensor("model.norm.weight", {2}, {11, 12})});
  // Not in the index: must not be opened.
  writeBytes("stray.safetensors", "garbage");
  writeBytes("model.safetensors.index.json", R"({
    "metadata": {"total_size": 48},
    "weight_map": {
      "lm_head.weight": "model-00002-of-00002.safetensors",
      "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
      "model.layers.0.input_layernorm.weight":
          "model-00001-of-00002.safetensors",
      "model.norm.weight": "model-00002-of-00002.safetensors"
    }
  })");
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt =
      Checkpoint::open(dir + "/"); // A trailing slash is fine.
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  ASSERT_EQ((*ckpt)->files().size(), 2u) << "each shard opened once";
  EXPECT_EQ((*ckpt)->files()[0]->path(),
            path("model-00001-of-00002.safetensors"));
  EXPECT_EQ((*ckpt)->names(),
            (std::vector<std::string>{
                "lm_head.weight", "model.embed_tokens.weight",
                "model.layers.0.input_layernorm.weight", "model.norm.weight"}));
  const TensorInfo *norm = (*ckpt)->find("model.norm.weight");
  ASSERT_NE(norm, nullptr);
  EXPECT_EQ(norm->file, path("model-00002-of-00002.safetensors"));
  float values[2];
  ASSERT_TRUE(convertToF32(*norm, values).ok());
  EXPECT_EQ(values[0], 11);
  EXPECT_EQ(values[1], 12);
}

TEST_F(SafetensorsTest, CheckpointIndexNamesMissingShard) {
  write("model-00001.safetensors", {f32Tensor("a", {1}, {1})});
  std::string index = writeBytes("model.safetensors.index.json",
                                 R"({"weight_map": {
      "a": "model-00001.safetensors", "b": "model-00002.safetensors"}})");
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::open(dir);
  EXPECT_EQ(ckpt.status().code(), absl::StatusCode::kNotFound);
  expectError(ckpt, {index, "tensor 'b'", "shard 'model-00002.safetensors'",
                     path("model-00002.safetensors")});
}

TEST_F(SafetensorsTest, CheckpointIndexTensorAbsentFromShard) {
  write("model-00001.safetensors", {f32Tensor("a", {1}, {1})});
  std::string index = writeBytes("model.safetensors.index.json",
                                 R"({"weight_map": {
      "a": "model-00001.safetensors", "b": "model-00001.safetensors"}})");
  expectError(Checkpoint::open(dir),
              {index, "tensor 'b'", "shard 'model-00001.safetensors'",
               "no tensor of that name"});
}

TEST_F(SafetensorsTest, CheckpointIndexBadShardFileOrShard) {
  std::string index = writeBytes("model.safetensors.index.json",
                                 R"({"weight_map": {
      "a": "../outside.safetensors"}})");
  expectError(Checkpoint::open(dir),
              {index, "tensor 'a'", "not a file name in the checkpoint"});
  writeBytes("model.safetensors.index.json", R"({"weight_map": {"a": 3}})");
  expectError(Checkpoint::open(dir), {index, "tensor 'a'"});
  // A corrupt shard: the error names the index, the tensor and the shard's
  // own problem.
  writeBytes("corrupt.safetensors", "xyz");
  writeBytes("model.safetensors.index.json",
             R"({"weight_map": {"a": "corrupt.safetensors"}})");
  expectError(Checkpoint::open(dir),
              {index, "tensor 'a'", "'corrupt.safetensors'", "3 bytes"});
}

TEST_F(SafetensorsTest, CheckpointIndexMalformed) {
  std::string index =
      writeBytes("model.safetensors.index.json", R"({"weight_map": [})");
  expectError(Checkpoint::open(dir), {index, "not valid JSON"});
  writeBytes("model.safetensors.index.json", R"({"metadata": {}})");
  expectError(Checkpoint::open(dir), {index, "missing 'weight_map'"});
}

TEST_F(SafetensorsTest, CheckpointAllSafetensorsFilesSorted) {
  write("b.safetensors", {f32Tensor("y", {1}, {2})});
  write("a.safetensors", {f32Tensor("x", {1}, {1})});
  writeBytes("notes.txt", "not a checkpoint");
  std::filesystem::create_directory(path("sub.safetensors"));
  absl::StatusOr<std::unique_ptr<Checkpoint>> ckpt = Checkpoint::open(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  ASSERT_EQ((*ckpt)->files().size(), 2u);
  EXPECT_EQ((*ckpt)->files()[0]->path(), path("a.safetensors"));
  EXPECT_EQ((*ckpt)->files()[1]->path(), path("b.safetensors"));
  EXPECT_EQ((*ckpt)->names(), (std::vector<std::string>{"x", "y"}));
}

TEST_F(SafetensorsTest, CheckpointDuplicateTensorAcrossFiles) {
  write("a.safetensors", {f32Tensor("w", {1}, {1})});
  write("b.safetensors", {f32Tensor("w", {1}, {2})});
  expectError(Checkpoint::open(dir), {dir, "tensor 'w'", path("a.safetensors"),
                                      path("b.safetensors")});
}

TEST_F(SafetensorsTest, CheckpointEmptyOrMissingDirectory) {
  absl::StatusOr<std::unique_ptr<Checkpoint>> empty = Checkpoint::open(dir);
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kNotFound);
  expectError(empty, {dir, "no checkpoint found"});
  std::string missing = path("missing");
  expectError(Checkpoint::open(missing), {missing, "cannot open"});
}

//===----------------------------------------------------------------------===//
// Conversion
//===----------------------------------------------------------------------===//

/// Independent reference for an IEEE-style binary format with an implicit
/// leading one: sign, `exponentBits`, `mantissaBits`, bias
/// 2^(exponentBits-1)-1; the all-ones exponent is left to the caller.
float referenceFloat(uint32_t bits, int exponentBits, int mantissaBits) {
  int bias = (1 << (exponentBits - 1)) - 1;
  uint32_t mantissa = bits & ((1u << mantissaBits) - 1);
  uint32_t exponent = (bits >> mantissaBits) & ((1u << exponentBits) - 1);
  bool negative = (bits >> (mantissaBits + exponentBits)) & 1;
  double m = static_cast<double>(mantissa) / (1 << mantissaBits);
  double value = exponent == 0
                     ? std::ldexp(m, 1 - bias)
                     : std::ldexp(1.0 + m, static_cast<int>(exponent) - bias);
  return static_cast<float>(negative ? -value : value);
}

TEST(ConversionTest, BF16) {
  EXPECT_EQ(bf16ToF32(0x3F80), 1.0f);
  EXPECT_EQ(bf16ToF32(0xC000), -2.0f);
  EXPECT_EQ(bf16ToF32(0x3FC0), 1.5f);
  EXPECT_EQ(bf16ToF32(0x7F80), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(bf16ToF32(0x7FC0)));
  EXPECT_EQ(bf16ToF32(0x0001), std::ldexp(1.0f, -133)); // Subnormal.
}

TEST(ConversionTest, F16) {
  EXPECT_EQ(f16ToF32(0x3C00), 1.0f);
  EXPECT_EQ(f16ToF32(0xC000), -2.0f);
  EXPECT_EQ(f16ToF32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16ToF32(0x0001), std::ldexp(1.0f, -24)); // Smallest subnormal.
  EXPECT_EQ(f16ToF32(0x03FF), 1023 * std::ldexp(1.0f, -24));
  EXPECT_EQ(f16ToF32(0x0400), std::ldexp(1.0f, -14)); // Smallest normal.
  EXPECT_EQ(f16ToF32(0x8001), -std::ldexp(1.0f, -24));
  EXPECT_TRUE(std::signbit(f16ToF32(0x8000)));
  EXPECT_EQ(f16ToF32(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_EQ(f16ToF32(0xFC00), -std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f16ToF32(0x7E00)));
  EXPECT_TRUE(std::isnan(f16ToF32(0x7C01)));
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if (((bits >> 10) & 0x1F) == 0x1F)
      continue;
    ASSERT_EQ(f16ToF32(bits), referenceFloat(bits, 5, 10)) << bits;
  }
}

TEST(ConversionTest, F8E4M3) {
  EXPECT_EQ(f8e4m3ToF32(0x38), 1.0f);
  EXPECT_EQ(f8e4m3ToF32(0x7E), 448.0f) << "largest finite";
  EXPECT_EQ(f8e4m3ToF32(0xFE), -448.0f);
  EXPECT_EQ(f8e4m3ToF32(0x78), 256.0f) << "e4m3fn has no infinity";
  EXPECT_TRUE(std::isnan(f8e4m3ToF32(0x7F))) << "S.1111.111 is NaN";
  EXPECT_TRUE(std::isnan(f8e4m3ToF32(0xFF)));
  EXPECT_EQ(f8e4m3ToF32(0x01), std::ldexp(1.0f, -9)) << "smallest subnormal";
  EXPECT_EQ(f8e4m3ToF32(0x07), 7 * std::ldexp(1.0f, -9));
  EXPECT_EQ(f8e4m3ToF32(0x08), std::ldexp(1.0f, -6)) << "smallest normal";
  EXPECT_EQ(f8e4m3ToF32(0x00), 0.0f);
  EXPECT_TRUE(std::signbit(f8e4m3ToF32(0x80)));
  int nans = 0;
  for (uint32_t bits = 0; bits < 256; ++bits) {
    if ((bits & 0x7F) == 0x7F) {
      ++nans;
      continue;
    }
    ASSERT_EQ(f8e4m3ToF32(bits), referenceFloat(bits, 4, 3)) << bits;
  }
  EXPECT_EQ(nans, 2);
}

TEST(ConversionTest, F8E5M2) {
  EXPECT_EQ(f8e5m2ToF32(0x3C), 1.0f);
  EXPECT_EQ(f8e5m2ToF32(0x7B), 57344.0f);
  EXPECT_EQ(f8e5m2ToF32(0x7C), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(f8e5m2ToF32(0x7D)));
  EXPECT_EQ(f8e5m2ToF32(0x01), std::ldexp(1.0f, -16));
}

TEST_F(SafetensorsTest, ConvertToF32FromEveryFloatDType) {
  std::vector<uint8_t> e4m3 = {0x38, 0x7E, 0xFF, 0x01};
  std::vector<uint8_t> e5m2 = {0x3C, 0x01};
  std::string p = write(
      "all.safetensors",
      {f32Tensor("f32", {2}, {1.5f, -2.0f}),
       {"f64", DType::F64, {2}, toBytes<double>({0.1, -1e300})},
       {"f16", DType::F16, {3}, toBytes<uint16_t>({0x3C00, 0x0001, 0xFC00})},
       {"bf16", DType::BF16, {2}, toBytes<uint16_t>({0x3F80, 0xC000})},
       {"e4m3", DType::F8_E4M3, {4}, e4m3},
       {"e5m2", DType::F8_E5M2, {2}, e5m2},
       {"i32", DType::I32, {1}, toBytes<int32_t>({1})},
       {"empty", DType::BF16, {0}, {}}});
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  auto convert = [&](const char *name) {
    const TensorInfo *t = (*file)->find(name);
    std::vector<float> out(t->numElements());
    absl::Status status = convertToF32(*t, out.data());
    EXPECT_TRUE(status.ok()) << status;
    return out;
  };
  EXPECT_EQ(convert("f32"), (std::vector<float>{1.5f, -2.0f}));
  std::vector<float> f64 = convert("f64");
  EXPECT_EQ(f64[0], 0.1f);
  EXPECT_EQ(f64[1], -std::numeric_limits<float>::infinity());
  std::vector<float> f16 = convert("f16");
  EXPECT_EQ(f16[0], 1.0f);
  EXPECT_EQ(f16[1], std::ldexp(1.0f, -24));
  EXPECT_EQ(f16[2], -std::numeric_limits<float>::infinity());
  EXPECT_EQ(convert("bf16"), (std::vector<float>{1.0f, -2.0f}));
  std::vector<float> f8 = convert("e4m3");
  EXPECT_EQ(f8[0], 1.0f);
  EXPECT_EQ(f8[1], 448.0f);
  EXPECT_TRUE(std::isnan(f8[2]));
  EXPECT_EQ(f8[3], std::ldexp(1.0f, -9));
  EXPECT_EQ(convert("e5m2"), (std::vector<float>{1.0f, std::ldexp(1.0f, -16)}));
  EXPECT_TRUE(convert("empty").empty());

  float out[1];
  expectError(convertToF32(*(*file)->find("i32"), out),
              {p, "tensor 'i32'", "cannot convert dtype I32"});
}

TEST_F(SafetensorsTest, ConvertReadsUnalignedData) {
  // One byte before the F16 tensor leaves it at an odd address.
  std::string header =
      R"({"pad":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},)"
      R"("h":{"dtype":"F16","shape":[2],"data_offsets":[1,5]}})";
  std::string bytes(8, '\0');
  uint64_t length = header.size();
  std::memcpy(bytes.data(), &length, 8);
  bytes += header;
  bytes += std::string("\x00\x00\x3C\x00\xC0", 5);
  std::string p = writeBytes("odd.safetensors", bytes);
  absl::StatusOr<std::unique_ptr<File>> file = File::open(p);
  ASSERT_TRUE(file.ok()) << file.status();
  float out[2];
  ASSERT_TRUE(convertToF32(*(*file)->find("h"), out).ok());
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -2.0f);
}

TEST(ConversionTest, RejectsInconsistentTensorInfo) {
  uint8_t data[4] = {};
  TensorInfo t;
  t.name = "hand";
  t.dtype = DType::F32;
  t.shape = {2};
  t.data = data;
  t.numBytes = 4; // Two floats need 8.
  float out[2];
  expectError(convertToF32(t, out), {"tensor 'hand'", "does not match"});
  t.shape = {-1};
  EXPECT_EQ(t.numElements(), -1);
  expectError(convertToF32(t, out), {"tensor 'hand'"});
  t.shape = {1};
  t.data = nullptr;
  expectError(convertToF32(t, out), {"tensor 'hand'", "no data"});
}

/// Builds an F8_E4M3 weight and its F32 scale and dequantizes it.
class DequantizeTest : public SafetensorsTest {
protected:
  void build(int64_t rows, int64_t cols, std::vector<int64_t> scaleShape,
             DType scaleType = DType::F32) {
    file.reset(); // Its mapping must not outlive the rewrite below.
    std::vector<uint8_t> w(rows * cols);
    for (size_t i = 0; i < w.size(); ++i)
      w[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    int64_t scaleCount = 1;
    for (int64_t d : scaleShape)
      scaleCount *= d;
    std::vector<float> scale(scaleCount);
    for (int64_t i = 0; i < scaleCount; ++i)
      scale[i] = 0.5f + static_cast<float>(i);
    std::string p = write(
        "fp8.safetensors",
        {{"layer.weight", DType::F8_E4M3, {rows, cols}, w},
         {"layer.weight_scale_inv", scaleType, scaleShape,
          scaleType == DType::F32 ? toBytes(scale)
                                  : std::vector<uint8_t>(scaleCount * 2)}});
    absl::StatusOr<std::unique_ptr<File>> opened = File::open(p);
    ASSERT_TRUE(opened.ok()) << opened.status();
    file = *std::move(opened);
    weight = file->find("layer.weight");
    scaleInv = file->find("layer.weight_scale_inv");
  }

  std::unique_ptr<File> file;
  const TensorInfo *weight = nullptr;
  const TensorInfo *scaleInv = nullptr;
};

TEST_F(DequantizeTest, PartialBlocks) {
  // 5x7 with 2x3 blocks: the last block row and column are partial.
  build(5, 7, {3, 3});
  std::vector<float> out(35);
  ASSERT_TRUE(dequantizeBlockFP8(*weight, *scaleInv, 2, 3, out.data()).ok());
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 7; ++j) {
      uint8_t q = weight->data[i * 7 + j];
      float scale = 0.5f + static_cast<float>((i / 2) * 3 + j / 3);
      float expected = f8e4m3ToF32(q) * scale;
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(out[i * 7 + j])) << i << "," << j;
      } else {
        EXPECT_EQ(out[i * 7 + j], expected) << i << "," << j;
      }
    }
  }
}

TEST_F(DequantizeTest, DeepSeekBlocksOnANonMultipleShape) {
  build(130, 260, {2, 3});
  std::vector<float> out(130 * 260);
  ASSERT_TRUE(
      dequantizeBlockFP8(*weight, *scaleInv, 128, 128, out.data()).ok());
  // Spot-check one element in each block, including the partial ones.
  for (int64_t i : {0, 127, 128, 129}) {
    for (int64_t j : {0, 127, 128, 255, 256, 259}) {
      float scale = 0.5f + static_cast<float>((i / 128) * 3 + j / 128);
      float expected = f8e4m3ToF32(weight->data[i * 260 + j]) * scale;
      if (!std::isnan(expected)) {
        EXPECT_EQ(out[i * 260 + j], expected) << i << "," << j;
      }
    }
  }
}

TEST_F(DequantizeTest, WrongScaleShape) {
  build(5, 7, {2, 3});
  std::vector<float> out(35);
  expectError(dequantizeBlockFP8(*weight, *scaleInv, 2, 3, out.data()),
              {file->path(), "tensor 'layer.weight'",
               "'layer.weight_scale_inv'", "[2, 3]", "should be [3, 3]"});
}

TEST_F(DequantizeTest, WrongTypesAndBlockSize) {
  build(4, 4, {2, 2}, DType::BF16);
  std::vector<float> out(16);
  expectError(dequantizeBlockFP8(*weight, *scaleInv, 2, 2, out.data()),
              {"tensor 'layer.weight'", "'layer.weight_scale_inv'",
               "2-D F32 scale, got BF16"});
  expectError(dequantizeBlockFP8(*scaleInv, *scaleInv, 2, 2, out.data()),
              {"'layer.weight_scale_inv'", "2-D F8_E4M3 weight, got BF16"});
  build(4, 4, {2, 2});
  expectError(dequantizeBlockFP8(*weight, *scaleInv, 0, 2, out.data()),
              {"tensor 'layer.weight'", "block size 0x2"});
}

} // namespace
