//===- TempDirTest.h - A test fixture with a scratch directory --*- C++ -*-===//

#ifndef DSC_TEST_UNIT_TEMPDIRTEST_H
#define DSC_TEST_UNIT_TEMPDIRTEST_H

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace dsc::testing {

/// A fresh directory per test, removed afterwards. Fixtures that override
/// SetUp call TempDirTest::SetUp() first.
class TempDirTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "dsc_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// `name` inside the test directory.
  std::string path(const std::string &name) const { return dir + "/" + name; }

  std::string dir;
};

} // namespace dsc::testing

#endif // DSC_TEST_UNIT_TEMPDIRTEST_H
