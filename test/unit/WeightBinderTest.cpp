//===- WeightBinderTest.cpp - Tests for parameter packing -----------------===//

#include "runtime/WeightBinder.h"
#include "test/unit/TempDirTest.h"

#include "gtest/gtest.h"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace dsc;
using namespace dsc::runtime;

namespace {

std::vector<uint8_t> f32Bytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes(values.size() * 4);
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

/// bf16 of values exactly representable in bf16.
std::vector<uint8_t> bf16Bytes(const std::vector<float> &values) {
  std::vector<uint8_t> bytes;
  for (float v : values) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    bytes.push_back(static_cast<uint8_t>(bits >> 16));
    bytes.push_back(static_cast<uint8_t>(bits >> 24));
  }
  return bytes;
}

class WeightBinderTest : public dsc::testing::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    if (HasFatalFailure())
      return;
    std::vector<st::WriteTensor> tensors = {
        {"plain", st::DType::F32, {2, 3}, f32Bytes({1, 2, 3, 4, 5, 6})},
        {"halfway",
         st::DType::BF16,
         {2, 3},
         bf16Bytes({1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 1024.0f})},
        {"experts.0.w", st::DType::F32, {2, 2}, f32Bytes({0, 1, 2, 3})},
        {"experts.1.w", st::DType::BF16, {2, 2}, bf16Bytes({4, 5, 6, 7})},
        {"experts.2.w", st::DType::F32, {2, 2}, f32Bytes({8, 9, 10, 11})},
        {"q.weight",
         st::DType::F8_E4M3,
         {2, 4},
         {0x38, 0xB8, 0x40, 0x00, 0x7E, 0x01, 0x30, 0x44}},
        {"q.weight_scale_inv", st::DType::F32, {1, 1}, f32Bytes({0.5f})},
    };
    ASSERT_TRUE(st::writeFile(dir + "/model.safetensors", tensors).ok());
    auto opened = st::Checkpoint::open(dir);
    ASSERT_TRUE(opened.ok()) << opened.status();
    checkpoint = std::move(*opened);
  }
  void TearDown() override {
    checkpoint.reset();
    TempDirTest::TearDown();
  }

  static ParamSpec spec(const std::string &json) {
    auto value = json::parse(json);
    EXPECT_TRUE(value.ok()) << value.status();
    auto parsed = ParamSpec::fromJson(*value);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    return parsed.ok() ? *parsed : ParamSpec();
  }

  static std::string specError(const std::string &json) {
    auto value = json::parse(json);
    EXPECT_TRUE(value.ok()) << value.status();
    auto parsed = ParamSpec::fromJson(*value);
    EXPECT_FALSE(parsed.ok());
    return parsed.ok() ? "" : std::string(parsed.status().message());
  }

  std::vector<float> packF32(const ParamSpec &param) {
    std::vector<float> out(param.numElements(), -99.0f);
    absl::Status status = packParam(*checkpoint, param, out.data());
    EXPECT_TRUE(status.ok()) << status;
    return out;
  }

  std::string packError(const ParamSpec &param) {
    std::vector<uint8_t> out(param.numBytes());
    absl::Status status = packParam(*checkpoint, param, out.data());
    EXPECT_FALSE(status.ok());
    return std::string(status.message());
  }

  std::unique_ptr<st::Checkpoint> checkpoint;
};

TEST_F(WeightBinderTest, ElementTypes) {
  EXPECT_EQ(parseElementType("f32"), ElementType::F32);
  EXPECT_EQ(parseElementType("f8e4m3"), ElementType::F8E4M3);
  EXPECT_EQ(parseElementType("i64"), ElementType::I64);
  // bf16: a KV cache's type (dsc-compile --kv-cache-type), never a param's.
  EXPECT_EQ(parseElementType("bf16"), ElementType::BF16);
  EXPECT_FALSE(parseElementType("f16"));
  EXPECT_STREQ(elementTypeName(ElementType::F8E4M3), "f8e4m3");
  EXPECT_EQ(elementSize(ElementType::F32), 4u);
  EXPECT_EQ(elementSize(ElementType::F8E4M3), 1u);
  EXPECT_EQ(elementSize(ElementType::BF16), 2u);
}

TEST_F(WeightBinderTest, ParsesParamSpec) {
  ParamSpec p = spec(R"({"role":"param","name":"experts.{}.w",
      "dtype":"f32","shape":[3,2,2],"stack":3,"section":"weights/4"})");
  EXPECT_EQ(p.name, "experts.{}.w");
  EXPECT_EQ(p.dtype, ElementType::F32);
  EXPECT_EQ(p.shape, (std::vector<int64_t>{3, 2, 2}));
  EXPECT_EQ(p.stack, 3);
  EXPECT_EQ(p.numElements(), 12);
  EXPECT_EQ(p.numBytes(), 48u);
  EXPECT_EQ(p.tensorName(2), "experts.2.w");

  ParamSpec q = spec(R"({"name":"q.weight","dtype":"f8e4m3","shape":[2,4]})");
  EXPECT_EQ(q.stack, 0);
  EXPECT_EQ(q.numBytes(), 8u);
  EXPECT_EQ(q.tensorName(0), "q.weight");
}

TEST_F(WeightBinderTest, RejectsBadParamSpecs) {
  EXPECT_EQ(specError(R"({"dtype":"f32","shape":[1]})"),
            "param without a \"name\" string in the manifest");
  EXPECT_EQ(specError(R"({"name":"w","dtype":"bf16","shape":[1]})"),
            "param 'w': \"dtype\" must be \"f32\" or \"f8e4m3\", found "
            "\"bf16\"");
  EXPECT_NE(specError(R"({"name":"w","dtype":"i64","shape":[1]})")
                .find("\"dtype\" must be"),
            std::string::npos);
  EXPECT_NE(specError(R"({"name":"w","dtype":"f32","shape":[-1,4]})")
                .find("static shapes"),
            std::string::npos);
  EXPECT_NE(specError(R"({"name":"w","dtype":"f32"})").find("\"shape\""),
            std::string::npos);
  EXPECT_NE(specError(R"({"name":"w","dtype":"f32",
                "shape":[4294967296,4294967296]})")
                .find("too large"),
            std::string::npos);
  EXPECT_EQ(specError(R"({"name":"e.{}.w","dtype":"f32","shape":[2,2],
                "stack":3})"),
            "param 'e.{}.w': shape [2, 2] must start with the stack size 3");
  EXPECT_NE(specError(R"({"name":"e.w","dtype":"f32","shape":[3,2],
                "stack":3})")
                .find("must contain \"{}\""),
            std::string::npos);
  EXPECT_NE(specError(R"({"name":"e.{}.w","dtype":"f32","shape":[3,2]})")
                .find("there is no \"stack\""),
            std::string::npos);
  EXPECT_NE(specError(R"({"name":"e.{}.w","dtype":"f32","shape":[3,2],
                "stack":0})")
                .find("positive integer"),
            std::string::npos);
}

TEST_F(WeightBinderTest, F32FromF32) {
  EXPECT_EQ(packF32(spec(R"({"name":"plain","dtype":"f32","shape":[2,3]})")),
            (std::vector<float>{1, 2, 3, 4, 5, 6}));
}

TEST_F(WeightBinderTest, F32FromBF16) {
  EXPECT_EQ(packF32(spec(R"({"name":"halfway","dtype":"f32","shape":[2,3]})")),
            (std::vector<float>{1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 1024.0f}));
}

// A GPU target takes its linear layers' weights as bf16
// (Target::bf16Params): a BF16 tensor's bits as they are, an F32 one
// rounded to nearest even.
TEST_F(WeightBinderTest, Bf16Params) {
  ParamSpec p = spec(R"({"name":"halfway","dtype":"f32","shape":[2,3]})");
  p.dtype = ElementType::BF16;
  std::vector<uint8_t> out(p.numBytes());
  ASSERT_EQ(out.size(), 12u);
  ASSERT_TRUE(packParam(*checkpoint, p, out.data()).ok());
  EXPECT_EQ(out, bf16Bytes({1.5f, -2.0f, 0.25f, 3.0f, -0.125f, 1024.0f}));

  // 1 + 2^-8 is halfway between two bf16 values: it rounds to the even
  // one (1.0); 1 + 3 * 2^-8 to 1 + 2^-6 (even), just above it up.
  std::vector<st::WriteTensor> tensors = {
      {"w",
       st::DType::F32,
       {4},
       f32Bytes({1.0f + 0x1p-8f, 1.0f + 3 * 0x1p-8f, 1.0f + 0x1p-8f + 0x1p-20f,
                 -3.0f})}};
  std::filesystem::create_directory(dir + "/r");
  ASSERT_TRUE(st::writeFile(dir + "/r/model.safetensors", tensors).ok());
  auto rounded = st::Checkpoint::open(dir + "/r");
  ASSERT_TRUE(rounded.ok()) << rounded.status();
  ParamSpec w = spec(R"({"name":"w","dtype":"f32","shape":[4]})");
  w.dtype = ElementType::BF16;
  std::vector<uint8_t> bits(w.numBytes());
  ASSERT_TRUE(packParam(**rounded, w, bits.data()).ok());
  EXPECT_EQ(bits, bf16Bytes({1.0f, 1.0f + 0x1p-6f, 1.0f + 0x1p-7f, -3.0f}));

  // FP8 bytes are refused for a bf16 param as for an f32 one.
  ParamSpec q = spec(R"({"name":"q.weight","dtype":"f32","shape":[2,4]})");
  q.dtype = ElementType::BF16;
  EXPECT_NE(packError(q).find("the artifact's bf16 param needs F32, BF16"),
            std::string::npos);
}

TEST_F(WeightBinderTest, StacksExpertsAlongANewLeadingDim) {
  ParamSpec p = spec(R"({"name":"experts.{}.w","dtype":"f32",
      "shape":[3,2,2],"stack":3})");
  EXPECT_EQ(packF32(p),
            (std::vector<float>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
}

TEST_F(WeightBinderTest, F8ParamCopiesRawBytes) {
  ParamSpec p = spec(R"({"name":"q.weight","dtype":"f8e4m3","shape":[2,4]})");
  std::vector<uint8_t> out(p.numBytes());
  ASSERT_TRUE(packParam(*checkpoint, p, out.data()).ok());
  EXPECT_EQ(out, (std::vector<uint8_t>{0x38, 0xB8, 0x40, 0x00, 0x7E, 0x01, 0x30,
                                       0x44}));
  // Its block scales are an ordinary f32 param.
  EXPECT_EQ(packF32(spec(R"({"name":"q.weight_scale_inv","dtype":"f32",
      "shape":[1,1]})")),
            (std::vector<float>{0.5f}));
}

TEST_F(WeightBinderTest, MissingTensor) {
  ParamSpec p = spec(R"({"name":"nothing","dtype":"f32","shape":[2,3]})");
  std::vector<float> out(6);
  absl::Status status = packParam(*checkpoint, p, out.data());
  EXPECT_TRUE(absl::IsNotFound(status));
  EXPECT_EQ(status.message(), dir + ": no tensor 'nothing'");

  ParamSpec stacked = spec(R"({"name":"experts.{}.w","dtype":"f32",
      "shape":[4,2,2],"stack":4})");
  EXPECT_EQ(packError(stacked),
            dir + ": no tensor 'experts.3.w' (for the stacked param "
                  "'experts.{}.w')");
}

TEST_F(WeightBinderTest, WrongShape) {
  EXPECT_EQ(packError(spec(R"({"name":"plain","dtype":"f32","shape":[3,2]})")),
            dir + "/model.safetensors: tensor 'plain' has shape [2, 3], the "
                  "artifact expects [3, 2]");
  EXPECT_NE(packError(spec(R"({"name":"experts.{}.w","dtype":"f32",
                "shape":[3,4],"stack":3})"))
                .find("tensor 'experts.0.w' has shape [2, 2], the artifact "
                      "expects [4]"),
            std::string::npos);
}

TEST_F(WeightBinderTest, WrongSourceDType) {
  std::string f32FromF8 =
      packError(spec(R"({"name":"q.weight","dtype":"f32","shape":[2,4]})"));
  EXPECT_EQ(f32FromF8.rfind(dir + "/model.safetensors: tensor 'q.weight' is "
                                  "F8_E4M3; the artifact's f32 param needs",
                            0),
            0u)
      << f32FromF8;
  std::string f8FromBf16 =
      packError(spec(R"({"name":"halfway","dtype":"f8e4m3","shape":[2,3]})"));
  EXPECT_NE(f8FromBf16.find("tensor 'halfway' is BF16; the artifact's f8e4m3 "
                            "param needs F8_E4M3"),
            std::string::npos)
      << f8FromBf16;
}

// A param stored as the code reads it is read in place (storedAsPacked):
// at the checkpoint's own address, the bytes packParam would write. Not when
// it needs converting, when a stack's tensors are not back to back in
// order, or when its first byte is not aligned to its element size.
TEST_F(WeightBinderTest, StoredAsPackedReadsInPlace) {
  const std::string other = dir + "/in-place";
  std::filesystem::create_directories(other);
  // Data offsets: odd 0, misaligned 1, pad 5, s.0.w 6, s.1.w 14, t.1.w 22,
  // t.0.w 26, w 30, f2 42 (not a multiple of 4), pad2 50, f 52 (the data
  // section starts 8-aligned).
  std::vector<st::WriteTensor> tensors = {
      {"odd", st::DType::U8, {1}, {7}},
      {"misaligned", st::DType::BF16, {2}, bf16Bytes({1, 2})},
      {"pad", st::DType::U8, {1}, {0}},
      {"s.0.w", st::DType::BF16, {2, 2}, bf16Bytes({0, 1, 2, 3})},
      {"s.1.w", st::DType::BF16, {2, 2}, bf16Bytes({4, 5, 6, 7})},
      {"t.1.w", st::DType::BF16, {2}, bf16Bytes({8, 9})},
      {"t.0.w", st::DType::BF16, {2}, bf16Bytes({10, 11})},
      {"w", st::DType::BF16, {2, 3}, bf16Bytes({1, 2, 3, 4, 5, 6})},
      {"f2", st::DType::F32, {2}, f32Bytes({3, 4})},
      {"pad2", st::DType::U8, {2}, {0, 0}},
      {"f", st::DType::F32, {2}, f32Bytes({1, 2})},
  };
  ASSERT_TRUE(st::writeFile(other + "/model.safetensors", tensors).ok());
  auto opened = st::Checkpoint::open(other);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const st::Checkpoint &stored = **opened;
  auto bf16 = [](const std::string &json) {
    ParamSpec p = spec(json);
    p.dtype = ElementType::BF16; // as Session::bindParams narrows it
    return p;
  };
  auto expectInPlace = [&](const ParamSpec &p, const std::string &first) {
    const void *data = storedAsPacked(stored, p);
    ASSERT_NE(data, nullptr) << p.name;
    EXPECT_EQ(data, stored.find(first)->data) << p.name;
    std::vector<uint8_t> packed(p.numBytes());
    ASSERT_TRUE(packParam(stored, p, packed.data()).ok());
    EXPECT_EQ(std::memcmp(data, packed.data(), packed.size()), 0) << p.name;
  };

  expectInPlace(bf16(R"({"name":"w","dtype":"f32","shape":[2,3]})"), "w");
  expectInPlace(bf16(R"({"name":"s.{}.w","dtype":"f32","shape":[2,2,2],
      "stack":2})"),
                "s.0.w");
  expectInPlace(spec(R"({"name":"f","dtype":"f32","shape":[2]})"), "f");
  // Out of stack order in the file.
  EXPECT_EQ(storedAsPacked(stored, bf16(R"({"name":"t.{}.w","dtype":"f32",
      "shape":[2,2],"stack":2})")),
            nullptr);
  // Two bf16 values at an odd offset, two f32 ones at 42.
  EXPECT_EQ(storedAsPacked(stored, bf16(R"({"name":"misaligned",
      "dtype":"f32","shape":[2]})")),
            nullptr);
  EXPECT_EQ(storedAsPacked(stored, spec(R"({"name":"f2","dtype":"f32",
      "shape":[2]})")),
            nullptr);
  // BF16 bits read as f32 need converting.
  EXPECT_EQ(storedAsPacked(stored,
                           spec(R"({"name":"w","dtype":"f32","shape":[2,3]})")),
            nullptr);
  // Another shape, a missing tensor: packParam reports them.
  EXPECT_EQ(storedAsPacked(stored,
                           bf16(R"({"name":"w","dtype":"f32","shape":[3,2]})")),
            nullptr);
  EXPECT_EQ(
      storedAsPacked(stored, spec(R"({"name":"h","dtype":"f32","shape":[2]})")),
      nullptr);
}

// An expert stack whose experts are stored as the code reads them but
// apart (name order puts "e.10" before "e.2", and another tensor lies
// between): stitchSlices maps their pages back to back, the bytes
// packParam would write. Not when an expert's offset disagrees with its
// place modulo the page (a tensor of an odd size before it), nor for one
// that needs converting.
TEST_F(WeightBinderTest, StitchesApartExperts) {
  const std::string other = dir + "/apart";
  std::filesystem::create_directories(other);
  const int64_t pageElements = ::sysconf(_SC_PAGESIZE) / 2;
  auto expert = [&](int index) {
    std::vector<float> values(2 * pageElements);
    for (size_t i = 0; i < values.size(); ++i)
      values[i] = static_cast<float>(index * 64 + i % 61);
    return bf16Bytes(values);
  };
  std::vector<st::WriteTensor> tensors;
  for (int index : {0, 1, 10, 11, 2, 3, 4, 5, 6, 7, 8, 9})
    tensors.push_back({"e." + std::to_string(index) + ".w",
                       st::DType::BF16,
                       {2, pageElements},
                       expert(index)});
  tensors.push_back({"gap", st::DType::BF16, {2, pageElements}, expert(99)});
  tensors.push_back({"o.1.w", st::DType::BF16, {2, pageElements}, expert(1)});
  tensors.push_back({"odd", st::DType::U8, {2}, {1, 2}});
  tensors.push_back({"o.0.w", st::DType::BF16, {2, pageElements}, expert(0)});
  ASSERT_TRUE(st::writeFile(other + "/model.safetensors", tensors).ok());
  auto opened = st::Checkpoint::open(other);
  ASSERT_TRUE(opened.ok()) << opened.status();
  const st::Checkpoint &stored = **opened;

  ParamSpec stack = spec(R"({"name":"e.{}.w","dtype":"f32",
      "shape":[12,2,)" + std::to_string(pageElements) +
                         R"(],"stack":12})");
  stack.dtype = ElementType::BF16;
  EXPECT_EQ(storedAsPacked(stored, stack), nullptr);
  std::optional<StitchedMapping> stitched =
      stitchSlices(stored, storedSlices(stored, stack));
  ASSERT_TRUE(stitched);
  std::vector<uint8_t> packed(stack.numBytes());
  ASSERT_TRUE(packParam(stored, stack, packed.data()).ok());
  ASSERT_EQ(stitched->size(), packed.size());
  EXPECT_EQ(std::memcmp(stitched->data(), packed.data(), packed.size()), 0);
  // Runs of experts back to back in the file too (0-1, 2-9, 10-11) map
  // whole: at most a page is copied per run.
  EXPECT_LE(stitched->copiedBytes(), 3 * 2 * pageElements);

  // o.0.w starts 2 bytes further into its page than its place allows.
  ParamSpec shifted = stack;
  shifted.name = "o.{}.w";
  shifted.stack = 2;
  shifted.shape[0] = 2;
  EXPECT_FALSE(stitchSlices(stored, storedSlices(stored, shifted)));
  // f32 values of BF16 tensors must be converted: no stored slices.
  ParamSpec widened = stack;
  widened.dtype = ElementType::F32;
  EXPECT_TRUE(storedSlices(stored, widened).empty());
}

} // namespace
