//===- Json.h - Strict RFC 8259 JSON values, parser and writer --*- C++ -*-===//
//
// A small JSON library shared by the runtime and the frontends. It has no
// LLVM dependency so that the runtime can link it without pulling in LLVM,
// and it never throws: malformed input comes back as an absl::Status.
//
// Input is untrusted (safetensors headers, checkpoint indexes, configs), so
// the parser is strict: it accepts exactly RFC 8259 (no comments, trailing
// commas, NaN, leading zeros or byte-order mark), requires valid UTF-8,
// rejects duplicate object keys and limits nesting to kMaxDepth levels so a
// hostile document cannot overflow the stack.
//
//===----------------------------------------------------------------------===//

#ifndef DSC_RUNTIME_SUPPORT_JSON_H
#define DSC_RUNTIME_SUPPORT_JSON_H

#include "absl/status/statusor.h"

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

namespace dsc::json {

/// Deepest nesting of arrays and objects that parse() accepts. A document
/// with a top-level array holding 255 more nested arrays is at the limit.
inline constexpr int kMaxDepth = 256;

/// One JSON value: null, boolean, number, string, array or object.
///
/// Numbers keep their double value and, when the source text was an integer
/// literal (no fraction, no exponent) that fits in int64_t, the exact integer
/// as well, so that sizes and offsets above 2^53 are not rounded.
///
/// Objects keep their members in document order; find() is a linear scan,
/// which is what small objects want. Callers that look up many keys in a big
/// object should build their own index from getObject().
class Value {
public:
  /// The JSON type of a value.
  enum class Kind { Null, Bool, Number, String, Array, Object };

  using ArrayStorage = std::vector<Value>;
  using ObjectStorage = std::vector<std::pair<std::string, Value>>;

  /// Null.
  Value() = default;
  /// Null.
  Value(std::nullptr_t) {}
  /// A boolean.
  Value(bool b) : storage(b) {}
  /// A non-integer number. A NaN or infinity is kept but dump() writes it as
  /// null, since JSON cannot represent it.
  Value(double d) : storage(Number{d, 0, false}) {}
  /// An integer. Values that do not fit in int64_t (large unsigned ones) are
  /// stored as doubles only.
  template <typename T,
            std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool>,
                             int> = 0>
  Value(T i) {
    if constexpr (std::is_unsigned_v<T> && sizeof(T) >= sizeof(int64_t)) {
      if (i > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        storage = Number{static_cast<double>(i), 0, false};
        return;
      }
    }
    storage = Number{static_cast<double>(i), static_cast<int64_t>(i), true};
  }
  /// A string; must hold valid UTF-8 for dump() to produce valid JSON.
  Value(std::string s) : storage(std::move(s)) {}
  /// A string; must hold valid UTF-8 for dump() to produce valid JSON.
  Value(std::string_view s) : storage(std::string(s)) {}
  /// A string; must hold valid UTF-8 for dump() to produce valid JSON.
  Value(const char *s) : storage(std::string(s)) {}

  /// An empty array, to be filled with push().
  static Value array() { return Value(ArrayStorage()); }
  /// An empty object, to be filled with set().
  static Value object() { return Value(ObjectStorage()); }

  /// The JSON type of this value.
  Kind kind() const { return static_cast<Kind>(storage.index()); }
  bool isNull() const { return kind() == Kind::Null; }
  bool isBool() const { return kind() == Kind::Bool; }
  bool isNumber() const { return kind() == Kind::Number; }
  /// True for numbers written as integer literals that fit in int64_t (and
  /// for values built from integers).
  bool isInteger() const {
    return isNumber() && std::get<Number>(storage).isInteger;
  }
  bool isString() const { return kind() == Kind::String; }
  bool isArray() const { return kind() == Kind::Array; }
  bool isObject() const { return kind() == Kind::Object; }

  /// The boolean; requires isBool().
  bool getBool() const {
    assert(isBool() && "not a boolean");
    return std::get<bool>(storage);
  }
  /// The number as a double (rounded for integers beyond 2^53); requires
  /// isNumber().
  double getDouble() const {
    assert(isNumber() && "not a number");
    return std::get<Number>(storage).asDouble;
  }
  /// The exact integer; requires isInteger().
  int64_t getInt() const {
    assert(isInteger() && "not an integer that fits in int64_t");
    return std::get<Number>(storage).asInt;
  }
  /// The string (UTF-8); requires isString().
  const std::string &getString() const {
    assert(isString() && "not a string");
    return std::get<std::string>(storage);
  }
  /// The elements; requires isArray().
  const ArrayStorage &getArray() const {
    assert(isArray() && "not an array");
    return std::get<ArrayStorage>(storage);
  }
  /// The members in document order; requires isObject().
  const ObjectStorage &getObject() const {
    assert(isObject() && "not an object");
    return std::get<ObjectStorage>(storage);
  }

  /// The member named `key`, or nullptr when absent or when this value is not
  /// an object.
  const Value *find(std::string_view key) const;

  /// Sets member `key` of an object (replacing an existing member of that
  /// name in place, so keys stay unique) and returns *this for chaining;
  /// requires isObject().
  Value &set(std::string key, Value value);
  /// Appends an element to an array and returns *this for chaining; requires
  /// isArray().
  Value &push(Value value);

  /// Compact JSON text for this value: no whitespace, members in order,
  /// integers as integers and other numbers in the shortest form that parses
  /// back to the same double. Non-finite numbers are written as null.
  std::string dump() const;

private:
  struct Number {
    double asDouble;
    int64_t asInt;
    bool isInteger;
  };

  explicit Value(ArrayStorage a) : storage(std::move(a)) {}
  explicit Value(ObjectStorage o) : storage(std::move(o)) {}

  void dumpTo(std::string &out) const;

  friend class Parser;

  // Alternative order matches Kind so that kind() is the variant index.
  std::variant<std::monostate, bool, Number, std::string, ArrayStorage,
               ObjectStorage>
      storage;
};

/// Parses one JSON text (RFC 8259; any value may be at the top level,
/// surrounded by optional whitespace). On malformed input returns an
/// InvalidArgumentError of the form
///   "invalid JSON at line 3, column 7 (byte offset 25): expected ':' after
///   object key"
/// where columns count bytes from 1.
absl::StatusOr<Value> parse(std::string_view text);

} // namespace dsc::json

#endif // DSC_RUNTIME_SUPPORT_JSON_H
