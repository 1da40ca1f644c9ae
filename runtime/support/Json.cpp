//===- Json.cpp - Strict RFC 8259 JSON values, parser and writer ----------===//

#include "runtime/support/Json.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <unordered_set>

namespace dsc::json {

const Value *Value::find(std::string_view key) const {
  if (!isObject())
    return nullptr;
  for (const auto &member : std::get<ObjectStorage>(storage))
    if (member.first == key)
      return &member.second;
  return nullptr;
}

Value &Value::set(std::string key, Value value) {
  assert(isObject() && "set() on a non-object");
  auto &members = std::get<ObjectStorage>(storage);
  for (auto &member : members) {
    if (member.first == key) {
      member.second = std::move(value);
      return *this;
    }
  }
  members.emplace_back(std::move(key), std::move(value));
  return *this;
}

Value &Value::push(Value value) {
  assert(isArray() && "push() on a non-array");
  std::get<ArrayStorage>(storage).push_back(std::move(value));
  return *this;
}

//===----------------------------------------------------------------------===//
// Serialisation
//===----------------------------------------------------------------------===//

static void dumpString(std::string_view s, std::string &out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        out += "\\u00";
        out += kHex[(c >> 4) & 0xf];
        out += kHex[c & 0xf];
      } else {
        out += c;
      }
    }
  }
  out += '"';
}

void Value::dumpTo(std::string &out) const {
  switch (kind()) {
  case Kind::Null:
    out += "null";
    return;
  case Kind::Bool:
    out += getBool() ? "true" : "false";
    return;
  case Kind::Number: {
    const Number &n = std::get<Number>(storage);
    char buf[64];
    std::to_chars_result r;
    if (n.isInteger) {
      r = std::to_chars(buf, buf + sizeof(buf), n.asInt);
      // "-0" parses as the integer 0 with double -0.0; keep the sign.
      if (n.asInt == 0 && std::signbit(n.asDouble))
        out += '-';
    } else if (std::isfinite(n.asDouble)) {
      // Shortest text that reads back as the same double.
      r = std::to_chars(buf, buf + sizeof(buf), n.asDouble);
    } else {
      out += "null";
      return;
    }
    out.append(buf, r.ptr);
    return;
  }
  case Kind::String:
    dumpString(getString(), out);
    return;
  case Kind::Array: {
    out += '[';
    bool first = true;
    for (const Value &element : getArray()) {
      if (!first)
        out += ',';
      first = false;
      element.dumpTo(out);
    }
    out += ']';
    return;
  }
  case Kind::Object: {
    out += '{';
    bool first = true;
    for (const auto &member : getObject()) {
      if (!first)
        out += ',';
      first = false;
      dumpString(member.first, out);
      out += ':';
      member.second.dumpTo(out);
    }
    out += '}';
    return;
  }
  }
}

std::string Value::dump() const {
  std::string out;
  dumpTo(out);
  return out;
}

//===----------------------------------------------------------------------===//
// Parser
//===----------------------------------------------------------------------===//

/// Recursive-descent parser over a byte range. Every error records the byte
/// offset where it was detected; line and column are computed only when the
/// error is reported, so the happy path pays nothing for them.
class Parser {
public:
  explicit Parser(std::string_view text) : text(text) {}

  absl::StatusOr<Value> parseDocument() {
    Value result;
    skipWhitespace();
    if (!parseValue(result, /*depth=*/0))
      return error();
    skipWhitespace();
    if (pos != text.size()) {
      fail("expected end of input after the top-level value");
      return error();
    }
    return result;
  }

private:
  bool atEnd() const { return pos >= text.size(); }
  char peek() const { return atEnd() ? '\0' : text[pos]; }

  /// Records the error at the current position; returns false so that
  /// callers can write `return fail(...)`.
  bool fail(std::string_view what) { return failAt(pos, what); }
  bool failAt(size_t offset, std::string_view what) {
    errorOffset = offset;
    errorMessage = std::string(what);
    return false;
  }

  absl::Status error() const {
    size_t line = 1, lineStart = 0;
    for (size_t i = 0; i < errorOffset && i < text.size(); ++i) {
      if (text[i] == '\n') {
        ++line;
        lineStart = i + 1;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat(
        "invalid JSON at line ", line, ", column ", errorOffset - lineStart + 1,
        " (byte offset ", errorOffset, "): ", errorMessage));
  }

  void skipWhitespace() {
    while (!atEnd()) {
      char c = text[pos];
      if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
        return;
      ++pos;
    }
  }

  bool consumeLiteral(std::string_view literal) {
    if (text.substr(pos, literal.size()) != literal)
      return false;
    pos += literal.size();
    return true;
  }

  bool parseValue(Value &out, int depth) {
    switch (peek()) {
    case '{':
      return parseObject(out, depth + 1);
    case '[':
      return parseArray(out, depth + 1);
    case '"': {
      std::string s;
      if (!parseString(s))
        return false;
      out.storage = std::move(s);
      return true;
    }
    case 't':
      if (!consumeLiteral("true"))
        break;
      out.storage = true;
      return true;
    case 'f':
      if (!consumeLiteral("false"))
        break;
      out.storage = false;
      return true;
    case 'n':
      if (!consumeLiteral("null"))
        break;
      out.storage = std::monostate();
      return true;
    default:
      if (peek() == '-' || (peek() >= '0' && peek() <= '9'))
        return parseNumber(out);
      break;
    }
    return fail(atEnd() ? "expected a value, found end of input"
                        : "expected a value (object, array, string, number, "
                          "true, false or null)");
  }

  bool checkDepth(int depth) {
    if (depth <= kMaxDepth)
      return true;
    return fail(absl::StrCat("expected at most ", kMaxDepth,
                             " levels of nested arrays and objects"));
  }

  bool parseArray(Value &out, int depth) {
    if (!checkDepth(depth))
      return false;
    ++pos; // '['
    Value::ArrayStorage elements;
    skipWhitespace();
    if (peek() == ']') {
      ++pos;
      out.storage = std::move(elements);
      return true;
    }
    while (true) {
      skipWhitespace();
      elements.emplace_back();
      if (!parseValue(elements.back(), depth))
        return false;
      skipWhitespace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == ']') {
        ++pos;
        out.storage = std::move(elements);
        return true;
      }
      return fail("expected ',' or ']' after array element");
    }
  }

  bool parseObject(Value &out, int depth) {
    if (!checkDepth(depth))
      return false;
    ++pos; // '{'
    Value::ObjectStorage members;
    // Keys seen so far, only built for large objects: a linear scan is
    // cheaper for the typical handful of keys, but a checkpoint index can
    // hold ~100k keys in one object.
    constexpr size_t kLinearScanLimit = 16;
    std::unordered_set<std::string> seen;
    skipWhitespace();
    if (peek() == '}') {
      ++pos;
      out.storage = std::move(members);
      return true;
    }
    while (true) {
      skipWhitespace();
      if (peek() != '"')
        return fail("expected '\"' to begin an object key");
      size_t keyOffset = pos;
      std::string key;
      if (!parseString(key))
        return false;
      bool duplicate = false;
      if (members.size() < kLinearScanLimit) {
        for (const auto &member : members)
          duplicate |= member.first == key;
      } else {
        if (seen.empty())
          for (const auto &member : members)
            seen.insert(member.first);
        duplicate = !seen.insert(key).second;
      }
      if (duplicate) {
        // Quoted as JSON so that a hostile key cannot break the message.
        std::string quoted;
        dumpString(key.substr(0, 80), quoted);
        return failAt(keyOffset,
                      absl::StrCat("expected unique object keys, found "
                                   "duplicate key ",
                                   quoted, key.size() > 80 ? "..." : ""));
      }
      skipWhitespace();
      if (peek() != ':')
        return fail("expected ':' after object key");
      ++pos;
      skipWhitespace();
      members.emplace_back();
      members.back().first = std::move(key);
      if (!parseValue(members.back().second, depth))
        return false;
      skipWhitespace();
      if (peek() == ',') {
        ++pos;
        continue;
      }
      if (peek() == '}') {
        ++pos;
        out.storage = std::move(members);
        return true;
      }
      return fail("expected ',' or '}' after object member");
    }
  }

  /// Reads 4 hex digits at pos (after "\u").
  bool parseHex4(uint32_t &out) {
    out = 0;
    for (int i = 0; i < 4; ++i, ++pos) {
      char c = peek();
      uint32_t digit;
      if (c >= '0' && c <= '9')
        digit = c - '0';
      else if (c >= 'a' && c <= 'f')
        digit = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        digit = c - 'A' + 10;
      else
        return fail("expected 4 hex digits after \\u");
      out = out * 16 + digit;
    }
    return true;
  }

  static void appendUtf8(uint32_t cp, std::string &out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  /// Parses the escape after a backslash (pos is on the character after it).
  bool parseEscape(std::string &out) {
    size_t escapeOffset = pos - 1;
    if (atEnd())
      return fail("expected an escape character, found end of input");
    char c = text[pos++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out += c;
      return true;
    case 'b':
      out += '\b';
      return true;
    case 'f':
      out += '\f';
      return true;
    case 'n':
      out += '\n';
      return true;
    case 'r':
      out += '\r';
      return true;
    case 't':
      out += '\t';
      return true;
    case 'u':
      break;
    default:
      return failAt(escapeOffset, "expected one of \\\" \\\\ \\/ \\b \\f \\n "
                                  "\\r \\t \\uXXXX after a backslash");
    }
    uint32_t cp;
    if (!parseHex4(cp))
      return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF)
      return failAt(escapeOffset, "expected a high surrogate before the low "
                                  "surrogate escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      // UTF-8 cannot encode a lone surrogate, so it must pair with a low one.
      if (!consumeLiteral("\\u"))
        return failAt(escapeOffset, "expected a \\uXXXX low surrogate after "
                                    "the high surrogate escape");
      uint32_t low;
      if (!parseHex4(low))
        return false;
      if (low < 0xDC00 || low > 0xDFFF)
        return failAt(pos - 6, "expected a low surrogate (\\uDC00-\\uDFFF) "
                               "after the high surrogate escape");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    appendUtf8(cp, out);
    return true;
  }

  /// Validates one UTF-8 encoded code point starting at pos (a byte >= 0x80)
  /// and copies it, rejecting overlong forms, surrogates and values past
  /// U+10FFFF as RFC 3629 requires.
  bool copyUtf8(std::string &out) {
    auto byte = [&](size_t i) -> unsigned {
      return pos + i < text.size() ? static_cast<unsigned char>(text[pos + i])
                                   : 0;
    };
    auto isCont = [&](size_t i) { return (byte(i) & 0xC0) == 0x80; };
    unsigned b0 = byte(0);
    size_t length = 0;
    if (b0 >= 0xC2 && b0 <= 0xDF) {
      length = isCont(1) ? 2 : 0;
    } else if (b0 >= 0xE0 && b0 <= 0xEF) {
      unsigned b1 = byte(1);
      bool ok = isCont(1) && isCont(2) && !(b0 == 0xE0 && b1 < 0xA0) &&
                !(b0 == 0xED && b1 >= 0xA0);
      length = ok ? 3 : 0;
    } else if (b0 >= 0xF0 && b0 <= 0xF4) {
      unsigned b1 = byte(1);
      bool ok = isCont(1) && isCont(2) && isCont(3) &&
                !(b0 == 0xF0 && b1 < 0x90) && !(b0 == 0xF4 && b1 >= 0x90);
      length = ok ? 4 : 0;
    }
    if (length == 0)
      return fail("expected valid UTF-8 in string");
    out.append(text.data() + pos, length);
    pos += length;
    return true;
  }

  bool parseString(std::string &out) {
    size_t start = pos;
    ++pos; // '"'
    while (true) {
      if (atEnd())
        return failAt(start, "expected '\"' to close the string starting "
                             "here, found end of input");
      unsigned char c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c == '\\') {
        ++pos;
        if (!parseEscape(out))
          return false;
      } else if (c < 0x20) {
        return fail("expected an escape sequence, found a raw control "
                    "character in string");
      } else if (c < 0x80) {
        out += static_cast<char>(c);
        ++pos;
      } else if (!copyUtf8(out)) {
        return false;
      }
    }
  }

  bool skipDigits() {
    size_t start = pos;
    while (peek() >= '0' && peek() <= '9')
      ++pos;
    return pos != start;
  }

  /// True when a literal whose conversion left the double range is tiny (so
  /// it rounds to zero) rather than huge: the decimal exponent of its first
  /// significant digit is negative. `literal` matches the JSON number grammar.
  static bool isUnderflow(std::string_view literal) {
    size_t intStart = literal[0] == '-' ? 1 : 0;
    size_t mantissaEnd = std::min(literal.find_first_of("eE"), literal.size());
    size_t intEnd = std::min(literal.find('.'), mantissaEnd);
    size_t firstSignificant = literal.find_first_not_of("0.", intStart);
    if (firstSignificant >= mantissaEnd)
      return true; // All zeros.
    int64_t magnitude =
        firstSignificant < intEnd
            ? static_cast<int64_t>(intEnd - firstSignificant - 1)
            : -static_cast<int64_t>(firstSignificant - intEnd);
    int64_t exponent = 0;
    size_t i = mantissaEnd + 1;
    bool negative = i < literal.size() && literal[i] == '-';
    if (i < literal.size() && (literal[i] == '-' || literal[i] == '+'))
      ++i;
    // Saturate: anything past 10^9 is far outside the double range anyway.
    for (; i < literal.size(); ++i)
      exponent =
          std::min<int64_t>(exponent * 10 + (literal[i] - '0'), 1000000000);
    return magnitude + (negative ? -exponent : exponent) < 0;
  }

  bool parseNumber(Value &out) {
    size_t start = pos;
    if (peek() == '-')
      ++pos;
    if (peek() == '0') {
      ++pos;
      if (peek() >= '0' && peek() <= '9')
        return fail("expected no leading zeros in number");
    } else if (!skipDigits()) {
      return fail("expected a digit after '-'");
    }
    bool isInteger = true;
    if (peek() == '.') {
      isInteger = false;
      ++pos;
      if (!skipDigits())
        return fail("expected a digit after the decimal point");
    }
    if (peek() == 'e' || peek() == 'E') {
      isInteger = false;
      ++pos;
      if (peek() == '+' || peek() == '-')
        ++pos;
      if (!skipDigits())
        return fail("expected a digit in the exponent");
    }
    std::string_view literal = text.substr(start, pos - start);
    const char *first = literal.data();
    const char *last = first + literal.size();

    Value::Number number{0.0, 0, false};
    if (isInteger) {
      auto r = std::from_chars(first, last, number.asInt);
      number.isInteger = r.ec == std::errc() && r.ptr == last;
    }
    auto r = std::from_chars(first, last, number.asDouble);
    if (r.ec == std::errc::result_out_of_range) {
      if (!isUnderflow(literal))
        return failAt(start, "expected a number within the range of a double");
      number.asDouble = literal[0] == '-' ? -0.0 : 0.0;
    } else if (r.ec != std::errc() || r.ptr != last) {
      return failAt(start, "expected a number"); // Unreachable by grammar.
    }
    out.storage = number;
    return true;
  }

  std::string_view text;
  size_t pos = 0;
  size_t errorOffset = 0;
  std::string errorMessage;
};

absl::StatusOr<Value> parse(std::string_view text) {
  return Parser(text).parseDocument();
}

} // namespace dsc::json
