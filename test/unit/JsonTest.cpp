//===- JsonTest.cpp - Tests for the strict JSON parser and writer ---------===//

#include "runtime/support/Json.h"

#include "gtest/gtest.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

using dsc::json::parse;
using dsc::json::Value;

namespace {

/// Parses `text`, which must be valid, and returns the value.
Value parseOk(std::string_view text) {
  absl::StatusOr<Value> value = parse(text);
  EXPECT_TRUE(value.ok()) << "input: " << text << "\n" << value.status();
  return value.ok() ? *std::move(value) : Value();
}

/// Parses `text`, which must be invalid, and returns the error message.
std::string parseError(std::string_view text) {
  absl::StatusOr<Value> value = parse(text);
  EXPECT_FALSE(value.ok()) << "input accepted: " << text;
  if (value.ok())
    return "";
  EXPECT_EQ(value.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(value.status().message());
}

/// Expects `text` to be rejected with a message naming `position` (e.g.
/// "line 1, column 5 (byte offset 4)") and containing `expected`.
void expectErrorAt(std::string_view text, const std::string &position,
                   const std::string &expected) {
  std::string message = parseError(text);
  EXPECT_NE(message.find(position), std::string::npos)
      << "input: " << text << "\nmessage: " << message;
  EXPECT_NE(message.find(expected), std::string::npos)
      << "input: " << text << "\nmessage: " << message;
}

uint64_t bitsOf(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, sizeof(bits));
  return bits;
}

TEST(JsonParse, Scalars) {
  EXPECT_TRUE(parseOk("null").isNull());
  EXPECT_TRUE(parseOk("true").getBool());
  EXPECT_FALSE(parseOk("false").getBool());
  EXPECT_EQ(parseOk("\"hi\"").getString(), "hi");
  EXPECT_EQ(parseOk(" \t\r\n42 \n").getInt(), 42);
  EXPECT_EQ(parseOk("\"\"").getString(), "");
}

TEST(JsonParse, NestedStructureKeepsKeyOrder) {
  Value v = parseOk(R"( { "z" : [1, 2.5, "x", null, true, {}],
                          "a" : {"inner": []}, "m": false } )");
  ASSERT_TRUE(v.isObject());
  const auto &members = v.getObject();
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[0].first, "z");
  EXPECT_EQ(members[1].first, "a");
  EXPECT_EQ(members[2].first, "m");

  const Value *z = v.find("z");
  ASSERT_NE(z, nullptr);
  ASSERT_TRUE(z->isArray());
  ASSERT_EQ(z->getArray().size(), 6u);
  EXPECT_EQ(z->getArray()[0].getInt(), 1);
  EXPECT_FALSE(z->getArray()[1].isInteger());
  EXPECT_EQ(z->getArray()[1].getDouble(), 2.5);
  EXPECT_EQ(z->getArray()[2].getString(), "x");
  EXPECT_TRUE(z->getArray()[3].isNull());
  EXPECT_TRUE(z->getArray()[4].getBool());
  EXPECT_TRUE(z->getArray()[5].isObject());

  ASSERT_NE(v.find("a"), nullptr);
  ASSERT_NE(v.find("a")->find("inner"), nullptr);
  EXPECT_TRUE(v.find("a")->find("inner")->getArray().empty());
  EXPECT_EQ(v.find("absent"), nullptr);
  EXPECT_EQ(z->find("z"), nullptr) << "find() on an array";
}

TEST(JsonParse, StringEscapes) {
  Value v =
      parseOk(R"("q\" b\\ s\/ \b\f\n\r\t \u0041\u00e9\u20AC \ud83d\ude00")");
  EXPECT_EQ(v.getString(), "q\" b\\ s/ \b\f\n\r\t A\xC3\xA9\xE2\x82\xAC "
                           "\xF0\x9F\x98\x80");
  EXPECT_EQ(parseOk(R"("\u0000")").getString(), std::string(1, '\0'));
  // Raw UTF-8 passes through unchanged.
  EXPECT_EQ(parseOk("\"\xC3\xA9\xF0\x9F\x98\x80\"").getString(),
            "\xC3\xA9\xF0\x9F\x98\x80");
}

TEST(JsonParse, Integers) {
  Value zero = parseOk("0");
  EXPECT_TRUE(zero.isInteger());
  EXPECT_EQ(zero.getInt(), 0);

  // 2^53 + 1 is not a double; the integer must stay exact.
  Value big = parseOk("9007199254740993");
  ASSERT_TRUE(big.isInteger());
  EXPECT_EQ(big.getInt(), 9007199254740993LL);
  EXPECT_EQ(big.getDouble(), 9007199254740992.0);

  EXPECT_EQ(parseOk("9223372036854775807").getInt(),
            std::numeric_limits<int64_t>::max());
  EXPECT_EQ(parseOk("-9223372036854775808").getInt(),
            std::numeric_limits<int64_t>::min());

  // One past int64_t: a number, but only as a double.
  Value tooBig = parseOk("9223372036854775808");
  EXPECT_TRUE(tooBig.isNumber());
  EXPECT_FALSE(tooBig.isInteger());
  EXPECT_EQ(tooBig.getDouble(), 9223372036854775808.0);
}

TEST(JsonParse, NegativeZero) {
  Value v = parseOk("-0");
  ASSERT_TRUE(v.isInteger());
  EXPECT_EQ(v.getInt(), 0);
  EXPECT_TRUE(std::signbit(v.getDouble()));
  EXPECT_TRUE(std::signbit(parseOk("-0.0").getDouble()));
  EXPECT_TRUE(std::signbit(parseOk("-0e5").getDouble()));
}

TEST(JsonParse, FractionsAndExponents) {
  Value e = parseOk("1e3");
  EXPECT_FALSE(e.isInteger()) << "an exponent makes it a non-integer literal";
  EXPECT_EQ(e.getDouble(), 1000.0);
  EXPECT_EQ(parseOk("1E+2").getDouble(), 100.0);
  EXPECT_EQ(parseOk("1.5E-3").getDouble(), 1.5e-3);
  EXPECT_EQ(parseOk("-2.5e+2").getDouble(), -250.0);
  EXPECT_EQ(parseOk("0.1").getDouble(), 0.1);
  EXPECT_EQ(parseOk("4.9e-324").getDouble(),
            std::numeric_limits<double>::denorm_min());
  EXPECT_EQ(parseOk("1.7976931348623157e308").getDouble(),
            std::numeric_limits<double>::max());
}

TEST(JsonParse, UnderflowRoundsToZeroOverflowIsAnError) {
  EXPECT_EQ(parseOk("1e-400").getDouble(), 0.0);
  EXPECT_EQ(parseOk("0.0000001e-320").getDouble(), 0.0);
  EXPECT_TRUE(std::signbit(parseOk("-1e-400").getDouble()));
  expectErrorAt("[1e400]", "byte offset 1", "range of a double");
  expectErrorAt("-1e400", "byte offset 0", "range of a double");
  // Small exponent but many integer digits: still an overflow.
  expectErrorAt("1" + std::string(400, '0') + "e-10", "byte offset 0",
                "range of a double");
}

TEST(JsonParse, ErrorTrailingGarbage) {
  expectErrorAt("[1] x", "line 1, column 5 (byte offset 4)",
                "expected end of input");
  expectErrorAt("{} {}", "byte offset 3", "expected end of input");
  expectErrorAt("1 2", "byte offset 2", "expected end of input");
}

TEST(JsonParse, ErrorPositionCountsLines) {
  expectErrorAt("{\n  \"a\" 1}", "line 2, column 7 (byte offset 8)",
                "expected ':' after object key");
  expectErrorAt("[1,\n2,\n\n  }", "line 4, column 3 (byte offset 10)",
                "expected a value");
}

TEST(JsonParse, ErrorUnterminatedString) {
  expectErrorAt("[\"abc", "byte offset 1", "close the string");
  expectErrorAt("\"abc\\", "byte offset", "");
  expectErrorAt("{\"key", "byte offset 1", "end of input");
}

TEST(JsonParse, ErrorBadEscape) {
  expectErrorAt(R"("a\x")", "byte offset 2", "after a backslash");
  expectErrorAt(R"("\u12g4")", "byte offset 5", "4 hex digits");
  expectErrorAt(R"("\u12")", "byte offset 5", "4 hex digits");
  // Lone surrogates cannot be encoded as UTF-8.
  expectErrorAt(R"("\ud800")", "byte offset 1", "low surrogate");
  expectErrorAt(R"("\ud800\u0041")", "byte offset 7", "low surrogate");
  expectErrorAt(R"("\udc00")", "byte offset 1", "high surrogate");
}

TEST(JsonParse, ErrorControlCharacterInString) {
  expectErrorAt("\"a\tb\"", "byte offset 2", "control character");
  expectErrorAt("\"a\nb\"", "line 1, column 3 (byte offset 2)",
                "control character");
  expectErrorAt(std::string("\"a\0b\"", 5), "byte offset 2",
                "control character");
}

TEST(JsonParse, ErrorInvalidUtf8) {
  expectErrorAt("\"\xC0\xAF\"", "byte offset 1", "UTF-8");     // Overlong '/'.
  expectErrorAt("\"\xED\xA0\x80\"", "byte offset 1", "UTF-8"); // Surrogate.
  expectErrorAt("\"\xF4\x90\x80\x80\"", "byte offset 1", "UTF-8"); // >10FFFF
  expectErrorAt("\"a\x80\"", "byte offset 2", "UTF-8");
  expectErrorAt("\"\xE2\x82", "byte offset 1", "UTF-8"); // Truncated.
}

TEST(JsonParse, ErrorLeadingZeros) {
  expectErrorAt("01", "byte offset 1", "leading zeros");
  expectErrorAt("-01", "byte offset 2", "leading zeros");
  expectErrorAt("[00]", "byte offset 2", "leading zeros");
}

TEST(JsonParse, ErrorMalformedNumbers) {
  expectErrorAt("-", "byte offset 1", "digit after '-'");
  expectErrorAt("1.", "byte offset 2", "decimal point");
  expectErrorAt("1.e5", "byte offset 2", "decimal point");
  expectErrorAt("1e", "byte offset 2", "exponent");
  expectErrorAt("1e+", "byte offset 3", "exponent");
  expectErrorAt("+1", "byte offset 0", "expected a value");
  expectErrorAt(".5", "byte offset 0", "expected a value");
  expectErrorAt("NaN", "byte offset 0", "expected a value");
  expectErrorAt("Infinity", "byte offset 0", "expected a value");
}

TEST(JsonParse, ErrorDuplicateKey) {
  expectErrorAt(R"({"a":1,"a":2})", "byte offset 7", "duplicate key \"a\"");
  expectErrorAt(R"({"a":1,"\u0061":2})", "byte offset 7",
                "duplicate key \"a\"");
  expectErrorAt(R"({"\n":1,"\n":2})", "byte offset 8", "duplicate key \"\\n\"");
  // Past the linear-scan threshold the parser switches to a hash set.
  std::string big = "{";
  for (int i = 0; i < 40; ++i)
    big += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + ",";
  std::string offset = "byte offset " + std::to_string(big.size());
  big += "\"k3\":0}";
  expectErrorAt(big, offset, "duplicate key \"k3\"");
  big.replace(big.size() - 7, 4, "\"kk\"");
  EXPECT_EQ(parseOk(big).getObject().size(), 41u);
}

TEST(JsonParse, ErrorDepthBomb) {
  // 256 levels are allowed, 257 are not.
  std::string ok = std::string(256, '[') + std::string(256, ']');
  EXPECT_TRUE(parseOk(ok).isArray());
  expectErrorAt(std::string(257, '[') + std::string(257, ']'),
                "byte offset 256", "256 levels");
  // Deep enough to overflow the stack if the limit did not hold.
  expectErrorAt(std::string(1000000, '['), "byte offset 256", "256 levels");
  std::string objects;
  for (int i = 0; i < 100000; ++i)
    objects += "{\"a\":";
  expectErrorAt(objects, "byte offset 1280", "256 levels");
}

TEST(JsonParse, ErrorOtherSyntax) {
  expectErrorAt("", "line 1, column 1 (byte offset 0)", "end of input");
  expectErrorAt("   ", "byte offset 3", "end of input");
  expectErrorAt("[1,]", "byte offset 3", "expected a value");
  expectErrorAt(R"({"a":1,})", "byte offset 7", "begin an object key");
  expectErrorAt("[1 2]", "byte offset 3", "',' or ']'");
  expectErrorAt(R"({"a":1 "b":2})", "byte offset 7", "',' or '}'");
  expectErrorAt("{a:1}", "byte offset 1", "begin an object key");
  expectErrorAt("['a']", "byte offset 1", "expected a value");
  expectErrorAt("nul", "byte offset 0", "expected a value");
  expectErrorAt("truex", "byte offset 4", "end of input");
  expectErrorAt("// comment\n1", "byte offset 0", "expected a value");
  expectErrorAt("\xEF\xBB\xBF{}", "byte offset 0", "expected a value");
  expectErrorAt("\f1", "byte offset 0", "expected a value");
}

TEST(JsonDump, CompactAndOrdered) {
  Value v = parseOk(R"( { "b" : [ 1 , -2 , 0.5 , true , null ] ,
                          "a" : { } , "s" : "x\"\\\n\u0001\u00e9" } )");
  EXPECT_EQ(v.dump(), R"({"b":[1,-2,0.5,true,null],"a":{},"s":"x\"\\\n\u0001)"
                      "\xC3\xA9\"}");
}

TEST(JsonDump, RoundTrip) {
  const char *texts[] = {
      R"({"a":[1,2,{"b":null}],"c":"\t\"\u001f/","d":-0,"e":1e+300})",
      R"([9223372036854775807,-9223372036854775808,9007199254740993])",
      R"([0.1,0.30000000000000004,5e-324,1.7976931348623157e+308,-2.5])",
      R"("\ud83d\ude00")",
      R"([[[]],{},[{}]])",
  };
  for (const char *text : texts) {
    Value first = parseOk(text);
    std::string dumped = first.dump();
    Value second = parseOk(dumped);
    EXPECT_EQ(second.dump(), dumped) << "input: " << text;
  }
  EXPECT_EQ(parseOk("-0").dump(), "-0");
  EXPECT_EQ(parseOk("1E2").dump(), "100");
  EXPECT_EQ(parseOk("9007199254740993").dump(), "9007199254740993");
}

TEST(JsonDump, DoublesRoundTripExactly) {
  const double values[] = {0.1,
                           1.0 / 3.0,
                           -0.0,
                           1e300,
                           123456789.125,
                           std::numeric_limits<double>::denorm_min(),
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::min(),
                           std::nextafter(1.0, 2.0)};
  for (double d : values) {
    std::string text = Value(d).dump();
    Value back = parseOk(text);
    ASSERT_TRUE(back.isNumber()) << text;
    EXPECT_EQ(bitsOf(back.getDouble()), bitsOf(d)) << text;
  }
}

TEST(JsonDump, NonFiniteBecomesNull) {
  EXPECT_EQ(Value(std::numeric_limits<double>::quiet_NaN()).dump(), "null");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()).dump(), "null");
}

TEST(JsonBuild, ObjectsAndArrays) {
  Value v = Value::object();
  v.set("name", "w").set("shape", Value::array().push(2).push(int64_t{3}));
  v.set("ok", true).set("none", nullptr).set("ratio", 0.25);
  v.set("big", uint64_t{1} << 63);       // Past int64_t: stored as a double.
  v.set("name", std::string("renamed")); // Replaces in place.
  EXPECT_EQ(v.dump(), R"({"name":"renamed","shape":[2,3],"ok":true,)"
                      R"("none":null,"ratio":0.25,"big":9223372036854775808})");
  EXPECT_TRUE(v.find("shape")->getArray()[1].isInteger());
  EXPECT_FALSE(v.find("big")->isInteger());
  EXPECT_EQ(Value(std::numeric_limits<int64_t>::min()).dump(),
            "-9223372036854775808");
  EXPECT_EQ(Value().dump(), "null");
  EXPECT_EQ(Value::array().dump(), "[]");
  EXPECT_EQ(Value::object().dump(), "{}");
}

} // namespace
