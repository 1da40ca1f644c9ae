//===- StitchedMappingTest.cpp - Tests for StitchedMapping ----------------===//

#include "runtime/support/StitchedMapping.h"
#include "runtime/support/MappedFile.h"
#include "test/unit/TempDirTest.h"

#include "gtest/gtest.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <unistd.h>
#include <vector>

using namespace dsc;

namespace {

class StitchedMappingTest : public dsc::testing::TempDirTest {
protected:
  void SetUp() override {
    TempDirTest::SetUp();
    page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
  }

  /// Writes `size` bytes whose value at offset i is a hash of (i, seed), and
  /// maps them.
  const MappedFile &writeFile(const std::string &name, uint64_t size,
                              uint8_t seed) {
    std::vector<uint8_t> bytes(size);
    for (uint64_t i = 0; i < size; ++i)
      bytes[i] = static_cast<uint8_t>((i * 2654435761u >> 13) + seed);
    FILE *f = std::fopen(path(name).c_str(), "wb");
    EXPECT_NE(f, nullptr);
    std::fwrite(bytes.data(), 1, bytes.size(), f);
    std::fclose(f);
    absl::StatusOr<MappedFile> mapped = MappedFile::open(path(name));
    EXPECT_TRUE(mapped.ok()) << mapped.status();
    files.push_back(std::make_unique<MappedFile>(std::move(*mapped)));
    names.push_back(name);
    return *files.back();
  }

  StitchedMapping::Piece piece(size_t file, uint64_t offset, uint64_t size) {
    return {path(names[file]), files[file]->identity(), offset, size,
            files[file]->data() + offset};
  }

  /// The pieces' bytes, copied one after another.
  static std::vector<uint8_t>
  concatenated(const std::vector<StitchedMapping::Piece> &pieces) {
    std::vector<uint8_t> out;
    for (const StitchedMapping::Piece &p : pieces)
      out.insert(out.end(), p.bytes, p.bytes + p.size);
    return out;
  }

  static void expectBytes(const StitchedMapping &stitched,
                          const std::vector<StitchedMapping::Piece> &pieces) {
    std::vector<uint8_t> expected = concatenated(pieces);
    ASSERT_EQ(stitched.size(), expected.size());
    EXPECT_EQ(std::memcmp(stitched.data(), expected.data(), expected.size()),
              0);
  }

  uint64_t page = 4096;
  std::vector<std::unique_ptr<MappedFile>> files;
  std::vector<std::string> names;
};

// Page-aligned pieces of whole pages, out of order: every page maps the
// file's, none is copied.
TEST_F(StitchedMappingTest, WholePagesAreMappedNotCopied) {
  writeFile("a", 8 * page, 1);
  std::vector<StitchedMapping::Piece> pieces = {piece(0, 6 * page, 2 * page),
                                                piece(0, 0, 2 * page),
                                                piece(0, 2 * page, 2 * page)};
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(pieces);
  ASSERT_TRUE(stitched);
  expectBytes(*stitched, pieces);
  EXPECT_EQ(stitched->copiedBytes(), 0u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(stitched->data()) % page, 0u);
}

// A safetensors-like layout: every piece starts 100 bytes into a page (the
// header), in two files, out of order; the pages each pair of neighbors
// shares are copied, the rest mapped.
TEST_F(StitchedMappingTest, SharedPagesAreCopied) {
  writeFile("a", 20 * page + 100, 2);
  writeFile("b", 20 * page + 100, 3);
  std::vector<StitchedMapping::Piece> pieces = {
      piece(1, 100 + 12 * page, 3 * page), piece(0, 100 + 3 * page, 3 * page),
      piece(0, 100, 3 * page), piece(1, 100 + 6 * page, 3 * page)};
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(pieces);
  ASSERT_TRUE(stitched);
  expectBytes(*stitched, pieces);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(stitched->data()) % page, 100u);
  // Each piece's first page-100 bytes and last 100 bytes.
  EXPECT_EQ(stitched->copiedBytes(), 4 * page);
}

// Pieces that lie back to back in the file map as one run: only its ends
// are copied.
TEST_F(StitchedMappingTest, BackToBackPiecesMapTogether) {
  writeFile("a", 10 * page, 4);
  std::vector<StitchedMapping::Piece> pieces = {
      piece(0, 8, 2 * page), piece(0, 8 + 2 * page, 2 * page),
      piece(0, 8 + 4 * page, 2 * page)};
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(pieces);
  ASSERT_TRUE(stitched);
  expectBytes(*stitched, pieces);
  EXPECT_EQ(stitched->copiedBytes(), page);
}

// Pieces of sizes that are not page multiples, whose offsets still agree
// with their places: the pages they share are copied.
TEST_F(StitchedMappingTest, UnevenPieces) {
  writeFile("a", 26 * page, 5);
  const uint64_t size = 4 * page + page / 2;
  // Piece i at place i * size must start at i * size (mod page) in the file.
  std::vector<StitchedMapping::Piece> pieces = {
      piece(0, 0, size), piece(0, 10 * page + page / 2, size),
      piece(0, 20 * page, size)};
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(pieces);
  ASSERT_TRUE(stitched);
  expectBytes(*stitched, pieces);
  // Half a page at each of the two boundaries, and the last piece's tail.
  EXPECT_EQ(stitched->copiedBytes(), 3 * page / 2);
}

// Pieces mostly in shared pages (smaller than a page, or a page straddling
// two): copying them is as large as packing, so they are not stitched.
TEST_F(StitchedMappingTest, MostlyCopiedPiecesAreNotStitched) {
  writeFile("a", 16 * page, 5);
  EXPECT_FALSE(StitchedMapping::stitch(
      {piece(0, 8 * page, 10), piece(0, 2 * page + 10, 7)}));
  EXPECT_FALSE(StitchedMapping::stitch(
      {piece(0, 100, page), piece(0, 5 * page + 100, page)}));
  // The same pieces a page further into the file are stitched whole.
  EXPECT_TRUE(StitchedMapping::stitch(
      {piece(0, page, page), piece(0, 5 * page, page)}));
}

// The result is read-only: its mapped and its copied pages alike.
TEST_F(StitchedMappingTest, IsReadOnly) {
  writeFile("a", 12 * page, 9);
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(
      {piece(0, 8 + 6 * page, 3 * page), piece(0, 8, 3 * page)});
  ASSERT_TRUE(stitched);
  EXPECT_GT(stitched->copiedBytes(), 0u);
  uint8_t *mapped = const_cast<uint8_t *>(stitched->data()) + page;
  uint8_t *copied = const_cast<uint8_t *>(stitched->data()) + 3 * page - 1;
  EXPECT_DEATH(*static_cast<volatile uint8_t *>(mapped) = 1, "");
  EXPECT_DEATH(*static_cast<volatile uint8_t *>(copied) = 1, "");
}

// Each live mapping counts against the process's budget until destroyed.
TEST_F(StitchedMappingTest, CountsItsMappings) {
  writeFile("a", 8 * page, 10);
  const int64_t before = StitchedMapping::liveMappings();
  {
    std::optional<StitchedMapping> stitched = StitchedMapping::stitch(
        {piece(0, 4 * page, 2 * page), piece(0, 0, 2 * page)});
    ASSERT_TRUE(stitched);
    EXPECT_GT(StitchedMapping::liveMappings(), before);
    StitchedMapping moved = std::move(*stitched);
    EXPECT_GT(StitchedMapping::liveMappings(), before);
  }
  EXPECT_EQ(StitchedMapping::liveMappings(), before);
}

// Offsets that disagree with the places modulo the page, no piece, an
// empty piece, and a file replaced since it was mapped: not stitched.
TEST_F(StitchedMappingTest, DeclinesWhatCannotBeStitched) {
  writeFile("a", 8 * page, 6);
  EXPECT_FALSE(StitchedMapping::stitch(
      {piece(0, 0, 2 * page), piece(0, 4 * page + 2, 2 * page)}));
  EXPECT_FALSE(StitchedMapping::stitch(
      {piece(0, 0, page + 1), piece(0, 4 * page, page)}));
  EXPECT_FALSE(StitchedMapping::stitch({}));
  EXPECT_FALSE(StitchedMapping::stitch({piece(0, 0, page), piece(0, page, 0)}));
  // Another file at the same path: a new inode.
  StitchedMapping::Piece stale = piece(0, 0, 2 * page);
  std::filesystem::remove(path("a"));
  writeFile("a", 8 * page, 7);
  EXPECT_FALSE(StitchedMapping::stitch({stale, piece(1, 4 * page, page)}));
  EXPECT_TRUE(StitchedMapping::stitch({piece(1, 0, 2 * page)}));
}

// A moved mapping stays readable; the moved-from one owns nothing.
TEST_F(StitchedMappingTest, Moves) {
  writeFile("a", 4 * page, 8);
  std::vector<StitchedMapping::Piece> pieces = {piece(0, 2 * page, 2 * page),
                                                piece(0, 0, 2 * page)};
  std::optional<StitchedMapping> stitched = StitchedMapping::stitch(pieces);
  ASSERT_TRUE(stitched);
  StitchedMapping moved = std::move(*stitched);
  expectBytes(moved, pieces);
  std::optional<StitchedMapping> other =
      StitchedMapping::stitch({piece(0, 0, page)});
  ASSERT_TRUE(other);
  *other = std::move(moved);
  expectBytes(*other, pieces);
}

} // namespace
