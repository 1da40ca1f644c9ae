//===- ArtifactTest.cpp - Tests for the .dscx artifact format -------------===//

#include "runtime/artifact/Artifact.h"
#include "test/unit/TempDirTest.h"

#include "gtest/gtest.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <string>
#include <vector>

using namespace dsc::artifact;

namespace {

constexpr char kManifest[] = R"({"format":"dscx","version":2})";

class ArtifactTest : public dsc::testing::TempDirTest {
protected:
  /// Writes an artifact with a manifest and two data sections (the second
  /// one empty) and returns its bytes.
  std::vector<uint8_t> writeValid(const std::string &file) {
    Writer writer;
    writer.addSection("manifest.json", kManifest, std::strlen(kManifest));
    writer.addSection("cpu/host.so", std::vector<uint8_t>(100, 0xAB));
    writer.addSection("empty", nullptr, 0);
    EXPECT_TRUE(writer.write(path(file)).ok());
    return readBytes(path(file));
  }

  static std::vector<uint8_t> readBytes(const std::string &p) {
    std::ifstream in(p, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

  std::string writeBytes(const std::string &file,
                         const std::vector<uint8_t> &bytes) {
    std::ofstream out(path(file), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
    return path(file);
  }

  /// Recomputes the checksum, so that a test can reach the checks after it.
  static void resign(std::vector<uint8_t> &bytes) {
    uint64_t checksum =
        fnv1a64(bytes.data() + kHeaderSize, bytes.size() - kHeaderSize);
    std::memcpy(bytes.data() + 16, &checksum, 8);
  }

  template <typename T>
  static void poke(std::vector<uint8_t> &bytes, size_t offset, T value) {
    std::memcpy(bytes.data() + offset, &value, sizeof(T));
  }

  /// Byte offsets of section table entry `i`'s fields.
  static size_t nameAt(size_t i) { return kHeaderSize + i * kSectionEntrySize; }
  static size_t offsetAt(size_t i) { return nameAt(i) + kSectionNameSize; }
  static size_t sizeAt(size_t i) { return offsetAt(i) + 8; }

  static uint64_t peek64(const std::vector<uint8_t> &bytes, size_t offset) {
    uint64_t value;
    std::memcpy(&value, bytes.data() + offset, 8);
    return value;
  }

  /// Opens `file`, expects failure with a one-line message that starts with
  /// the path and contains `needle`; returns the message.
  std::string expectError(const std::string &file, const std::string &needle) {
    auto artifact = Artifact::open(path(file));
    EXPECT_FALSE(artifact.ok());
    if (artifact.ok())
      return "";
    std::string message(artifact.status().message());
    EXPECT_EQ(message.rfind(path(file) + ": ", 0), 0u) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(needle), std::string::npos) << message;
    return message;
  }
};

TEST_F(ArtifactTest, RoundTrip) {
  Writer writer;
  std::vector<uint8_t> code = {0x7F, 'E', 'L', 'F', 0, 1, 2, 3};
  std::vector<uint8_t> weights(1000);
  for (size_t i = 0; i < weights.size(); ++i)
    weights[i] = static_cast<uint8_t>(i * 7);
  writer.addSection("cpu/host.so", code);
  writer.addSection("weights/1", weights.data(), weights.size());
  writer.addSection("empty", std::vector<uint8_t>());
  writer.addSection("manifest.json", kManifest, std::strlen(kManifest));
  ASSERT_TRUE(writer.write(path("model.dscx")).ok());
  EXPECT_FALSE(std::filesystem::exists(path("model.dscx.tmp")));

  auto artifact = Artifact::open(path("model.dscx"));
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  auto host = (*artifact)->section("cpu/host.so");
  ASSERT_TRUE(host);
  EXPECT_EQ(std::vector<uint8_t>(host->begin(), host->end()), code);
  auto w = (*artifact)->section("weights/1");
  ASSERT_TRUE(w);
  EXPECT_EQ(std::vector<uint8_t>(w->begin(), w->end()), weights);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(w->data()) % kSectionAlignment, 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(host->data()) % kSectionAlignment, 0u);
  auto empty = (*artifact)->section("empty");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_FALSE((*artifact)->section("missing"));
  EXPECT_EQ((*artifact)->manifestText(), kManifest);
  EXPECT_EQ((*artifact)->manifest().find("format")->getString(), "dscx");
  EXPECT_EQ((*artifact)->path(), path("model.dscx"));
}

TEST_F(ArtifactTest, HeaderLayout) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  ASSERT_GE(bytes.size(), kHeaderSize);
  EXPECT_EQ(std::memcmp(bytes.data(), "DSCX\r\n\x1a\n", 8), 0);
  uint32_t version, count;
  std::memcpy(&version, bytes.data() + 8, 4);
  std::memcpy(&count, bytes.data() + 12, 4);
  EXPECT_EQ(version, 1u);
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(peek64(bytes, 16),
            fnv1a64(bytes.data() + kHeaderSize, bytes.size() - kHeaderSize));
  EXPECT_STREQ(reinterpret_cast<const char *>(bytes.data() + nameAt(0)),
               "manifest.json");
  for (size_t i = 0; i < count; ++i)
    EXPECT_EQ(peek64(bytes, offsetAt(i)) % 64, 0u);
  EXPECT_EQ(peek64(bytes, sizeAt(1)), 100u);
}

TEST_F(ArtifactTest, Fnv1aKnownValues) {
  // Reference values of the FNV-1a 64 specification.
  EXPECT_EQ(fnv1a64("", 0), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv1a64("a", 1), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv1a64("foobar", 6), 0x85944171f73967e8ull);
  // Hashing in pieces gives the same result.
  EXPECT_EQ(fnv1a64("bar", 3, fnv1a64("foo", 3)), fnv1a64("foobar", 6));
}

TEST_F(ArtifactTest, WriterRejectsBadNames) {
  std::string name63(63, 'x');
  Writer ok;
  ok.addSection("manifest.json", kManifest, std::strlen(kManifest));
  ok.addSection(name63, nullptr, 0);
  EXPECT_TRUE(ok.write(path("ok.dscx")).ok());

  Writer tooLong;
  tooLong.addSection("manifest.json", kManifest, std::strlen(kManifest));
  tooLong.addSection(name63 + "y", nullptr, 0);
  absl::Status status = tooLong.write(path("long.dscx"));
  EXPECT_EQ(status.message(), path("long.dscx") + ": section name '" + name63 +
                                  "y' is 64 bytes; the limit is 63");
  EXPECT_FALSE(std::filesystem::exists(path("long.dscx")));

  Writer duplicate;
  duplicate.addSection("manifest.json", kManifest, std::strlen(kManifest));
  duplicate.addSection("a", nullptr, 0);
  duplicate.addSection("a", nullptr, 0);
  EXPECT_EQ(duplicate.write(path("dup.dscx")).message(),
            path("dup.dscx") + ": duplicate section 'a'");

  Writer empty;
  empty.addSection("manifest.json", kManifest, std::strlen(kManifest));
  empty.addSection("", nullptr, 0);
  EXPECT_FALSE(empty.write(path("empty.dscx")).ok());

  Writer noManifest;
  noManifest.addSection("a", nullptr, 0);
  EXPECT_NE(noManifest.write(path("none.dscx")).message().find("manifest"),
            absl::string_view::npos);
}

TEST_F(ArtifactTest, WriterReportsUnwritablePath) {
  Writer writer;
  writer.addSection("manifest.json", kManifest, std::strlen(kManifest));
  absl::Status status = writer.write(path("no/such/dir/model.dscx"));
  EXPECT_TRUE(absl::IsNotFound(status)) << status;
  EXPECT_NE(status.message().find("no/such/dir/model.dscx"),
            absl::string_view::npos);
}

TEST_F(ArtifactTest, MissingFile) {
  auto artifact = Artifact::open(path("nothing.dscx"));
  EXPECT_TRUE(absl::IsNotFound(artifact.status()));
  EXPECT_EQ(std::string(artifact.status().message())
                .rfind(path("nothing.dscx") + ": ", 0),
            0u);
}

TEST_F(ArtifactTest, BadMagic) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  bytes[3] = 'Y';
  writeBytes("bad.dscx", bytes);
  EXPECT_EQ(expectError("bad.dscx", "bad magic"),
            path("bad.dscx") + ": not a dsc artifact (bad magic)");
  writeBytes("text.dscx", {'h', 'i', '\n'});
  expectError("text.dscx", "not a dsc artifact (bad magic)");
}

TEST_F(ArtifactTest, WrongVersion) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  poke<uint32_t>(bytes, 8, 2);
  writeBytes("v2.dscx", bytes);
  EXPECT_EQ(expectError("v2.dscx", "version"),
            path("v2.dscx") + ": format version 2 is not supported (this "
                              "runtime reads version 1)");
}

TEST_F(ArtifactTest, TruncatedHeader) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  writeBytes("short.dscx",
             std::vector<uint8_t>(bytes.begin(), bytes.begin() + 12));
  EXPECT_EQ(expectError("short.dscx", "truncated"),
            path("short.dscx") + ": truncated header (12 bytes)");
  writeBytes("empty.dscx", {});
  expectError("empty.dscx", "truncated header (0 bytes)");
  writeBytes("magic.dscx",
             std::vector<uint8_t>(bytes.begin(), bytes.begin() + 5));
  expectError("magic.dscx", "truncated header (5 bytes)");
}

TEST_F(ArtifactTest, TruncatedSectionTable) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  writeBytes("table.dscx",
             std::vector<uint8_t>(bytes.begin(), bytes.begin() + 100));
  expectError("table.dscx",
              "truncated section table (3 sections need 264 bytes, the file "
              "has 100)");
}

TEST_F(ArtifactTest, TruncatedFile) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  uint64_t lastOffset = peek64(bytes, offsetAt(1));
  bytes.resize(lastOffset + 50);
  writeBytes("cut.dscx", bytes);
  EXPECT_EQ(expectError("cut.dscx", "exceeds"),
            path("cut.dscx") + ": section 'cpu/host.so' at offset " +
                std::to_string(lastOffset) +
                " size 100 exceeds the file size " +
                std::to_string(lastOffset + 50));
}

TEST_F(ArtifactTest, SectionOutOfBounds) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  poke<uint64_t>(bytes, sizeAt(1), 9999);
  resign(bytes);
  writeBytes("big.dscx", bytes);
  expectError("big.dscx", "section 'cpu/host.so' at offset " +
                              std::to_string(peek64(bytes, offsetAt(1))) +
                              " size 9999 exceeds the file size " +
                              std::to_string(bytes.size()));

  // offset + size wraps around: still out of bounds.
  bytes = writeValid("model.dscx");
  poke<uint64_t>(bytes, sizeAt(1), std::numeric_limits<uint64_t>::max() - 8);
  resign(bytes);
  writeBytes("wrap.dscx", bytes);
  expectError("wrap.dscx", "exceeds the file size");

  // A section over the section table.
  bytes = writeValid("model.dscx");
  poke<uint64_t>(bytes, offsetAt(1), 0);
  resign(bytes);
  writeBytes("table.dscx", bytes);
  expectError("table.dscx", "overlaps the header or section table");
}

TEST_F(ArtifactTest, MisalignedSection) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  poke<uint64_t>(bytes, offsetAt(1), peek64(bytes, offsetAt(1)) + 4);
  poke<uint64_t>(bytes, sizeAt(1), 10);
  resign(bytes);
  writeBytes("odd.dscx", bytes);
  expectError("odd.dscx", "is not 64-byte aligned");
}

TEST_F(ArtifactTest, OverlappingSections) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  // Make the manifest cover the start of cpu/host.so.
  uint64_t hostOffset = peek64(bytes, offsetAt(1));
  poke<uint64_t>(bytes, sizeAt(0), hostOffset - peek64(bytes, offsetAt(0)) + 1);
  resign(bytes);
  writeBytes("overlap.dscx", bytes);
  expectError("overlap.dscx", "sections 'manifest.json' (offset ");
  expectError("overlap.dscx", "and 'cpu/host.so' (offset " +
                                  std::to_string(hostOffset) +
                                  " size 100) overlap");
}

TEST_F(ArtifactTest, BadSectionNames) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  std::memset(bytes.data() + nameAt(2), 'z', kSectionNameSize);
  resign(bytes);
  writeBytes("nonul.dscx", bytes);
  expectError("nonul.dscx", "section table entry 2 has no NUL-terminated name");

  bytes = writeValid("model.dscx");
  std::memcpy(bytes.data() + nameAt(2), "cpu/host.so", 12);
  resign(bytes);
  writeBytes("dup.dscx", bytes);
  expectError("dup.dscx", "duplicate section 'cpu/host.so'");
}

TEST_F(ArtifactTest, FlippedByteIsChecksumMismatch) {
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  bytes[peek64(bytes, offsetAt(1)) + 10] ^= 0x01;
  writeBytes("flip.dscx", bytes);
  EXPECT_EQ(expectError("flip.dscx", "checksum"),
            path("flip.dscx") +
                ": checksum mismatch (file is corrupted or truncated)");
}

TEST_F(ArtifactTest, ManifestErrors) {
  auto withManifest = [&](const std::string &file, const std::string &text) {
    Writer writer;
    writer.addSection("manifest.json", text.data(), text.size());
    EXPECT_TRUE(writer.write(path(file)).ok());
  };
  withManifest("notjson.dscx", "{\"format\": ");
  expectError("notjson.dscx", "manifest.json: invalid JSON at line 1");
  withManifest("array.dscx", "[1, 2]");
  expectError("array.dscx", "manifest.json: not a JSON object");
  withManifest("format.dscx", R"({"format":"onnx","version":2})");
  expectError("format.dscx", "\"format\" must be \"dscx\", found \"onnx\"");
  withManifest("version.dscx", R"({"format":"dscx","version":7})");
  expectError("version.dscx",
              "manifest version 7 is not supported (this runtime reads "
              "version 2; recompile the model)");
  // An artifact from before "bf16_params" is refused too, not half-read.
  withManifest("v1.dscx", R"({"format":"dscx","version":1})");
  expectError("v1.dscx", "manifest version 1 is not supported");

  // No manifest section at all (renamed in the table).
  std::vector<uint8_t> bytes = writeValid("model.dscx");
  std::memcpy(bytes.data() + nameAt(0), "manifest.jsom", 13);
  resign(bytes);
  writeBytes("nomanifest.dscx", bytes);
  expectError("nomanifest.dscx", "no 'manifest.json' section");
}

TEST_F(ArtifactTest, OverwritesAtomically) {
  writeValid("model.dscx");
  Writer writer;
  std::string manifest = R"({"format":"dscx","version":2,"x":2})";
  writer.addSection("manifest.json", manifest.data(), manifest.size());
  ASSERT_TRUE(writer.write(path("model.dscx")).ok());
  auto artifact = Artifact::open(path("model.dscx"));
  ASSERT_TRUE(artifact.ok()) << artifact.status();
  EXPECT_EQ((*artifact)->manifestText(), manifest);
  EXPECT_FALSE((*artifact)->section("cpu/host.so"));
}

} // namespace
