//===- NpyTest.cpp - The .npy reader and writer ---------------------------===//

#include "runtime/support/Npy.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

using dsc::npy::parse;

/// A version 1.0 file with header dict `dict` and `data` bytes.
std::string npyFile(const std::string &dict, const std::string &data) {
  std::string header = dict;
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(header.size() & 0xff);
  out += char(header.size() >> 8);
  return out + header + data;
}

TEST(Npy, ReadsWhatNumPyWrites) {
  int64_t values[] = {1, 2, 3, 4, 5, 6};
  std::string data(reinterpret_cast<char *>(values), sizeof(values));
  auto array = parse(
      npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }",
              data),
      "t.npy");
  ASSERT_TRUE(array.ok()) << array.status();
  EXPECT_EQ(array->dtype, "<i8");
  EXPECT_EQ(array->shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(array->data.size(), sizeof(values));
}

TEST(Npy, ScalarsAndOneDimensionalShapes) {
  float f = 1.5f;
  std::string one(reinterpret_cast<char *>(&f), 4);
  auto scalar = parse(
      npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", one),
      "s.npy");
  ASSERT_TRUE(scalar.ok()) << scalar.status();
  EXPECT_TRUE(scalar->shape.empty());
  auto vector = parse(
      npyFile("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", one),
      "v.npy");
  ASSERT_TRUE(vector.ok()) << vector.status();
  EXPECT_EQ(vector->shape, std::vector<int64_t>{1});
}

TEST(Npy, RejectsBadFilesWithOneLine) {
  struct Case {
    std::string file, message;
  } cases[] = {
      {"hello", "not a NumPy .npy file"},
      {npyFile("{'descr': '>i8', 'fortran_order': False, 'shape': (1,), }",
               std::string(8, '\0')),
       "dtype '>i8' is not supported"},
      {npyFile("{'descr': '<i8', 'fortran_order': True, 'shape': (1,), }",
               std::string(8, '\0')),
       "Fortran-order arrays are not supported"},
      {npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (2,), }",
               std::string(8, '\0')),
       "8 bytes of data but shape (2) of <i8 needs 16"},
      {npyFile("{'descr': '<i8', 'fortran_order': False}", ""),
       "header lacks 'descr', 'fortran_order' or 'shape'"},
      {npyFile("{'descr': '<i8', 'fortran_order': False, 'shape': (a,), }", ""),
       "'shape' holds something other than sizes"},
      {npyFile("{'descr': '<i8', 'extra': 1}", ""), "unknown header key"},
      {std::string("\x93NUMPY\x01\x00\xff\x7f", 10), "runs past the end"},
  };
  for (const Case &c : cases) {
    auto array = parse(c.file, "bad.npy");
    ASSERT_FALSE(array.ok()) << c.message;
    std::string message(array.status().message());
    EXPECT_NE(message.find("bad.npy: "), std::string::npos) << message;
    EXPECT_NE(message.find(c.message), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  }
}

} // namespace
