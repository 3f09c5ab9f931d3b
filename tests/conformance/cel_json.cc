#include "tests/conformance/cel_json.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace varav::conformance {
namespace {

using cel::Type;
using cel::Value;

absl::Status Unsupported(absl::string_view what) {
  return absl::UnimplementedError(std::string(what));
}

absl::Status Malformed(absl::string_view what, const Json& json) {
  return absl::InvalidArgumentError(absl::StrCat("malformed ", what, ": ", json.Dump()));
}

// int64 and uint64 are strings in protobuf JSON, but numbers are accepted too.
absl::StatusOr<int64_t> ParseInt64(const Json& json) {
  int64_t v = 0;
  if (json.kind() != Json::Kind::kString && json.kind() != Json::Kind::kNumber) {
    return Malformed("int64", json);
  }
  if (!absl::SimpleAtoi(json.text(), &v)) return Malformed("int64", json);
  return v;
}

absl::StatusOr<uint64_t> ParseUint64(const Json& json) {
  uint64_t v = 0;
  if (json.kind() != Json::Kind::kString && json.kind() != Json::Kind::kNumber) {
    return Malformed("uint64", json);
  }
  if (!absl::SimpleAtoi(json.text(), &v)) return Malformed("uint64", json);
  return v;
}

// Doubles are JSON numbers, or the strings "NaN", "Infinity" and "-Infinity".
absl::StatusOr<double> ParseDouble(const Json& json) {
  if (json.kind() == Json::Kind::kString) {
    if (json.text() == "NaN") return std::nan("");
    if (json.text() == "Infinity") return HUGE_VAL;
    if (json.text() == "-Infinity") return -HUGE_VAL;
  }
  if (json.kind() != Json::Kind::kNumber && json.kind() != Json::Kind::kString) {
    return Malformed("double", json);
  }
  // strtod rounds correctly, so the shortest round-trip text written by the exporter gives back
  // the exact double.
  const char* begin = json.text().c_str();
  char* end = nullptr;
  double d = std::strtod(begin, &end);
  if (end == begin || *end != '\0') return Malformed("double", json);
  return d;
}

// google.protobuf.Value (JSON) to the CEL value it denotes.
absl::StatusOr<Value> FromProtobufJson(const Json& json) {
  switch (json.kind()) {
    case Json::Kind::kNull:
      return Value::Null();
    case Json::Kind::kBool:
      return Value::Bool(json.bool_value());
    case Json::Kind::kNumber: {
      absl::StatusOr<double> d = ParseDouble(json);
      if (!d.ok()) return d.status();
      return Value::Double(*d);
    }
    case Json::Kind::kString:
      return Value::String(json.text());
    case Json::Kind::kArray: {
      std::vector<Value> items;
      for (const Json& item : json.items()) {
        absl::StatusOr<Value> v = FromProtobufJson(item);
        if (!v.ok()) return v.status();
        items.push_back(*std::move(v));
      }
      return Value::List(std::move(items));
    }
    case Json::Kind::kObject: {
      std::vector<std::pair<Value, Value>> entries;
      for (const auto& [name, member] : json.members()) {
        absl::StatusOr<Value> v = FromProtobufJson(member);
        if (!v.ok()) return v.status();
        entries.emplace_back(Value::String(name), *std::move(v));
      }
      return Value::Map(std::move(entries));
    }
  }
  return Malformed("google.protobuf.Value", json);
}

// A google.protobuf.Any in JSON form: {"@type": "type.googleapis.com/<name>", ...}. Well-known
// types that CEL maps onto its own values are unpacked; messages are out of the engine's scope.
absl::StatusOr<Value> FromAny(const Json& json) {
  std::string url = json.GetString("@type");
  std::string name = url.substr(url.rfind('/') + 1);
  const Json* value = json.Find("value");
  static const Json kNull;
  const Json& v = value != nullptr ? *value : kNull;

  if (name == "google.protobuf.Duration") {
    absl::Duration d;
    if (!v.is_string() || !absl::ParseDuration(v.text(), &d)) return Malformed("Duration", json);
    return Value::Duration(d);
  }
  if (name == "google.protobuf.Timestamp") {
    absl::Time t;
    std::string err;
    if (!v.is_string() || !absl::ParseTime(absl::RFC3339_full, v.text(), &t, &err)) {
      return Malformed("Timestamp", json);
    }
    return Value::Timestamp(t);
  }
  // Wrappers unpack to their primitive; an absent "value" is the default.
  if (name == "google.protobuf.Int64Value" || name == "google.protobuf.Int32Value") {
    if (value == nullptr) return Value::Int(0);
    absl::StatusOr<int64_t> i = ParseInt64(v);
    if (!i.ok()) return i.status();
    return Value::Int(*i);
  }
  if (name == "google.protobuf.UInt64Value" || name == "google.protobuf.UInt32Value") {
    if (value == nullptr) return Value::Uint(0);
    absl::StatusOr<uint64_t> u = ParseUint64(v);
    if (!u.ok()) return u.status();
    return Value::Uint(*u);
  }
  if (name == "google.protobuf.DoubleValue" || name == "google.protobuf.FloatValue") {
    if (value == nullptr) return Value::Double(0);
    absl::StatusOr<double> d = ParseDouble(v);
    if (!d.ok()) return d.status();
    return Value::Double(*d);
  }
  if (name == "google.protobuf.BoolValue") return Value::Bool(value != nullptr && v.bool_value());
  if (name == "google.protobuf.StringValue") return Value::String(value != nullptr ? v.text() : "");
  if (name == "google.protobuf.BytesValue") {
    absl::StatusOr<std::string> b = DecodeBase64(value != nullptr ? v.text() : "");
    if (!b.ok()) return b.status();
    return Value::Bytes(*std::move(b));
  }
  if (name == "google.protobuf.Value" || name == "google.protobuf.Struct" ||
      name == "google.protobuf.ListValue") {
    return FromProtobufJson(v);
  }
  return Unsupported(absl::StrCat("needs protobuf message type ", name));
}

}  // namespace

absl::StatusOr<std::string> DecodeBase64(absl::string_view in) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z') {
      v = c - 'A';
    } else if (c >= 'a' && c <= 'z') {
      v = c - 'a' + 26;
    } else if (c >= '0' && c <= '9') {
      v = c - '0' + 52;
    } else if (c == '+' || c == '-') {
      v = 62;
    } else if (c == '/' || c == '_') {
      v = 63;
    } else if (c == '=') {
      break;
    } else {
      return absl::InvalidArgumentError(absl::StrCat("bad base64: ", in));
    }
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return out;
}

absl::StatusOr<Value> ValueFromJson(const Json& json) {
  if (!json.is_object() || json.members().size() != 1) return Malformed("cel.expr.Value", json);
  const auto& [kind, v] = json.members()[0];

  if (kind == "nullValue") return Value::Null();
  if (kind == "boolValue") return Value::Bool(v.bool_value());
  if (kind == "int64Value") {
    absl::StatusOr<int64_t> i = ParseInt64(v);
    if (!i.ok()) return i.status();
    return Value::Int(*i);
  }
  if (kind == "uint64Value") {
    absl::StatusOr<uint64_t> u = ParseUint64(v);
    if (!u.ok()) return u.status();
    return Value::Uint(*u);
  }
  if (kind == "doubleValue") {
    absl::StatusOr<double> d = ParseDouble(v);
    if (!d.ok()) return d.status();
    return Value::Double(*d);
  }
  if (kind == "stringValue") return Value::String(v.text());
  if (kind == "bytesValue") {
    absl::StatusOr<std::string> b = DecodeBase64(v.text());
    if (!b.ok()) return b.status();
    return Value::Bytes(*std::move(b));
  }
  if (kind == "typeValue") return Value::Type(v.text());
  if (kind == "listValue") {
    std::vector<Value> items;
    if (const Json* values = v.Find("values")) {
      for (const Json& item : values->items()) {
        absl::StatusOr<Value> e = ValueFromJson(item);
        if (!e.ok()) return e.status();
        items.push_back(*std::move(e));
      }
    }
    return Value::List(std::move(items));
  }
  if (kind == "mapValue") {
    std::vector<std::pair<Value, Value>> entries;
    if (const Json* list = v.Find("entries")) {
      for (const Json& entry : list->items()) {
        const Json* key = entry.Find("key");
        const Json* val = entry.Find("value");
        if (key == nullptr || val == nullptr) return Malformed("map entry", entry);
        absl::StatusOr<Value> k = ValueFromJson(*key);
        if (!k.ok()) return k.status();
        absl::StatusOr<Value> e = ValueFromJson(*val);
        if (!e.ok()) return e.status();
        entries.emplace_back(*std::move(k), *std::move(e));
      }
    }
    return Value::Map(std::move(entries));
  }
  if (kind == "objectValue") return FromAny(v);
  if (kind == "enumValue") return Unsupported("needs protobuf enums");
  return Malformed("cel.expr.Value", json);
}

absl::StatusOr<Type> TypeFromJson(const Json& json) {
  if (!json.is_object()) return Malformed("cel.expr.Type", json);
  // An unset type (e.g. the parameter of a bare `type`) is dyn.
  if (json.members().empty()) return Type::Dyn();
  const auto& [kind, v] = json.members()[0];

  if (kind == "dyn") return Type::Dyn();
  if (kind == "null") return Type::Null();
  if (kind == "error") return Type::Error();
  if (kind == "primitive") {
    const std::string& p = v.text();
    if (p == "BOOL") return Type::Bool();
    if (p == "INT64") return Type::Int();
    if (p == "UINT64") return Type::Uint();
    if (p == "DOUBLE") return Type::Double();
    if (p == "STRING") return Type::String();
    if (p == "BYTES") return Type::Bytes();
    return Malformed("primitive type", json);
  }
  if (kind == "wellKnown") {
    if (v.text() == "TIMESTAMP") return Type::Timestamp();
    if (v.text() == "DURATION") return Type::Duration();
    return Unsupported(absl::StrCat("needs well-known type ", v.text()));
  }
  if (kind == "messageType") {
    if (v.text() == "google.protobuf.Timestamp") return Type::Timestamp();
    if (v.text() == "google.protobuf.Duration") return Type::Duration();
    return Unsupported(absl::StrCat("needs protobuf message type ", v.text()));
  }
  if (kind == "wrapper") return Unsupported("needs protobuf wrapper types");
  if (kind == "typeParam") return Type::Param(v.text());
  if (kind == "listType") {
    Type elem = Type::Dyn();
    if (const Json* e = v.Find("elemType")) {
      absl::StatusOr<Type> t = TypeFromJson(*e);
      if (!t.ok()) return t.status();
      elem = *std::move(t);
    }
    return Type::List(std::move(elem));
  }
  if (kind == "mapType") {
    Type key = Type::Dyn();
    Type value = Type::Dyn();
    if (const Json* k = v.Find("keyType")) {
      absl::StatusOr<Type> t = TypeFromJson(*k);
      if (!t.ok()) return t.status();
      key = *std::move(t);
    }
    if (const Json* e = v.Find("valueType")) {
      absl::StatusOr<Type> t = TypeFromJson(*e);
      if (!t.ok()) return t.status();
      value = *std::move(t);
    }
    return Type::Map(std::move(key), std::move(value));
  }
  if (kind == "type") {
    absl::StatusOr<Type> t = TypeFromJson(v);
    if (!t.ok()) return t.status();
    return Type::TypeOf(*std::move(t));
  }
  if (kind == "abstractType") {
    std::vector<Type> params;
    if (const Json* ps = v.Find("parameterTypes")) {
      for (const Json& p : ps->items()) {
        absl::StatusOr<Type> t = TypeFromJson(p);
        if (!t.ok()) return t.status();
        params.push_back(*std::move(t));
      }
    }
    return Type::Opaque(v.GetString("name"), std::move(params));
  }
  if (kind == "function") return Unsupported("needs function types");
  return Malformed("cel.expr.Type", json);
}

bool ValuesMatch(const Value& expected, const Value& actual) {
  if (expected.kind() != actual.kind()) return false;
  switch (expected.kind()) {
    case Value::Kind::kNull:
      return true;
    case Value::Kind::kBool:
      return expected.bool_value() == actual.bool_value();
    case Value::Kind::kInt:
      return expected.int_value() == actual.int_value();
    case Value::Kind::kUint:
      return expected.uint_value() == actual.uint_value();
    case Value::Kind::kDouble: {
      double a = expected.double_value();
      double b = actual.double_value();
      return (std::isnan(a) && std::isnan(b)) || a == b;
    }
    case Value::Kind::kString:
    case Value::Kind::kBytes:
      return expected.string_value() == actual.string_value();
    case Value::Kind::kDuration:
      return expected.duration_value() == actual.duration_value();
    case Value::Kind::kTimestamp:
      return expected.timestamp_value() == actual.timestamp_value();
    case Value::Kind::kType:
      return expected.type_name() == actual.type_name();
    case Value::Kind::kList:
      if (expected.size() != actual.size()) return false;
      for (size_t i = 0; i < expected.size(); ++i) {
        if (!ValuesMatch(expected.element(i), actual.element(i))) return false;
      }
      return true;
    case Value::Kind::kMap:
      if (expected.size() != actual.size()) return false;
      // Keys match strictly too (1 and 1u are different keys here), so search linearly rather than
      // through the map's CEL lookup; the suite's maps are tiny.
      for (size_t i = 0; i < expected.size(); ++i) {
        bool found = false;
        for (size_t j = 0; j < actual.size() && !found; ++j) {
          if (ValuesMatch(expected.map_key(i), actual.map_key(j))) {
            if (!ValuesMatch(expected.map_value(i), actual.map_value(j))) return false;
            found = true;
          }
        }
        if (!found) return false;
      }
      return true;
    case Value::Kind::kError:
      return false;
  }
  return false;
}

}  // namespace varav::conformance
