#include "engine/cel/internal/overloads.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "engine/cel/internal/ast.h"

namespace varav::cel {
namespace {

using Table = absl::flat_hash_map<std::string, FunctionDecl>;

bool MentionsParam(const Type& t) {
  if (t.kind() == Type::Kind::kTypeParam) return true;
  for (const Type& p : t.params()) {
    if (MentionsParam(p)) return true;
  }
  return false;
}

class TableBuilder {
 public:
  explicit TableBuilder(Table* table) : table_(table) {}

  void Global(absl::string_view name, std::string id, std::vector<Type> params, Type result) {
    Add(name, std::move(id), false, std::move(params), std::move(result));
  }
  void Member(absl::string_view name, std::string id, std::vector<Type> params, Type result) {
    Add(name, std::move(id), true, std::move(params), std::move(result));
  }

 private:
  void Add(absl::string_view name, std::string id, bool member, std::vector<Type> params,
           Type result) {
    FunctionDecl& fn = (*table_)[name];
    fn.name = std::string(name);
    OverloadDecl o;
    o.id = std::move(id);
    o.member = member;
    o.has_type_params = MentionsParam(result);
    for (const Type& p : params) o.has_type_params = o.has_type_params || MentionsParam(p);
    o.params = std::move(params);
    o.result = std::move(result);
    fn.overloads.push_back(std::move(o));
  }

  Table* table_;
};

// cel-go's spelling of a primitive in overload ids.
std::string IdName(const Type& t) {
  switch (t.kind()) {
    case Type::Kind::kInt:
      return "int64";
    case Type::Kind::kUint:
      return "uint64";
    case Type::Kind::kDouble:
      return "double";
    case Type::Kind::kBool:
      return "bool";
    case Type::Kind::kString:
      return "string";
    case Type::Kind::kBytes:
      return "bytes";
    case Type::Kind::kTimestamp:
      return "timestamp";
    case Type::Kind::kDuration:
      return "duration";
    default:
      return t.DebugString();
  }
}

Table BuildTable() {
  Table table;
  TableBuilder b(&table);
  const Type kInt = Type::Int(), kUint = Type::Uint(), kDouble = Type::Double();
  const Type kBool = Type::Bool(), kString = Type::String(), kBytes = Type::Bytes();
  const Type kTs = Type::Timestamp(), kDur = Type::Duration(), kDyn = Type::Dyn();
  const Type kA = Type::Param("A"), kB = Type::Param("B");
  const Type kListA = Type::List(kA), kMapAB = Type::Map(kA, kB);
  const Type kOptA = Type::Opaque("optional_type", {kA});

  // Logic.
  b.Global(op::kLogicalNot, "logical_not", {kBool}, kBool);
  b.Global(op::kLogicalAnd, "logical_and", {kBool, kBool}, kBool);
  b.Global(op::kLogicalOr, "logical_or", {kBool, kBool}, kBool);
  b.Global(op::kNotStrictlyFalse, "not_strictly_false", {kBool}, kBool);
  b.Global(op::kConditional, "conditional", {kBool, kA, kA}, kA);

  // Equality and membership.
  b.Global(op::kEquals, "equals", {kA, kA}, kBool);
  b.Global(op::kNotEquals, "not_equals", {kA, kA}, kBool);
  b.Global(op::kIn, "in_list", {kA, kListA}, kBool);
  b.Global(op::kIn, "in_map", {kA, kMapAB}, kBool);

  // Ordering: same-type overloads, then the heterogeneous numeric ones.
  const std::pair<absl::string_view, const char*> kOrderings[] = {
      {op::kLess, "less"},
      {op::kLessEquals, "less_equals"},
      {op::kGreater, "greater"},
      {op::kGreaterEquals, "greater_equals"}};
  for (const auto& [name, prefix] : kOrderings) {
    for (const Type& t : {kBool, kInt, kUint, kDouble, kString, kBytes, kTs, kDur}) {
      b.Global(name, absl::StrCat(prefix, "_", IdName(t)), {t, t}, kBool);
    }
    for (const Type& l : {kInt, kUint, kDouble}) {
      for (const Type& r : {kInt, kUint, kDouble}) {
        if (l == r) continue;
        b.Global(name, absl::StrCat(prefix, "_", IdName(l), "_", IdName(r)), {l, r}, kBool);
      }
    }
  }

  // Arithmetic.
  for (const Type& t : {kInt, kUint, kDouble}) {
    b.Global(op::kAdd, absl::StrCat("add_", IdName(t)), {t, t}, t);
    b.Global(op::kSubtract, absl::StrCat("subtract_", IdName(t)), {t, t}, t);
    b.Global(op::kMultiply, absl::StrCat("multiply_", IdName(t)), {t, t}, t);
    b.Global(op::kDivide, absl::StrCat("divide_", IdName(t)), {t, t}, t);
  }
  b.Global(op::kModulo, "modulo_int64", {kInt, kInt}, kInt);
  b.Global(op::kModulo, "modulo_uint64", {kUint, kUint}, kUint);
  b.Global(op::kNegate, "negate_int64", {kInt}, kInt);
  b.Global(op::kNegate, "negate_double", {kDouble}, kDouble);
  b.Global(op::kAdd, "add_string", {kString, kString}, kString);
  b.Global(op::kAdd, "add_bytes", {kBytes, kBytes}, kBytes);
  b.Global(op::kAdd, "add_list", {kListA, kListA}, kListA);
  b.Global(op::kAdd, "add_timestamp_duration", {kTs, kDur}, kTs);
  b.Global(op::kAdd, "add_duration_timestamp", {kDur, kTs}, kTs);
  b.Global(op::kAdd, "add_duration_duration", {kDur, kDur}, kDur);
  b.Global(op::kSubtract, "subtract_timestamp_timestamp", {kTs, kTs}, kDur);
  b.Global(op::kSubtract, "subtract_timestamp_duration", {kTs, kDur}, kTs);
  b.Global(op::kSubtract, "subtract_duration_duration", {kDur, kDur}, kDur);

  // The map-building step of the two-variable comprehension macros (internal: '@' cannot be
  // written in a name).
  b.Global(op::kMapInsert, "@mapInsert_map_key_value", {kMapAB, kA, kB}, kMapAB);
  b.Global(op::kMapInsert, "@mapInsert_map_map", {kMapAB, kMapAB}, kMapAB);

  // Indexing.
  b.Global(op::kIndex, "index_list", {kListA, kInt}, kA);
  b.Global(op::kIndex, "index_map", {kMapAB, kA}, kB);

  // Size.
  b.Global("size", "size_string", {kString}, kInt);
  b.Global("size", "size_bytes", {kBytes}, kInt);
  b.Global("size", "size_list", {kListA}, kInt);
  b.Global("size", "size_map", {kMapAB}, kInt);
  b.Member("size", "string_size", {kString}, kInt);
  b.Member("size", "bytes_size", {kBytes}, kInt);
  b.Member("size", "list_size", {kListA}, kInt);
  b.Member("size", "map_size", {kMapAB}, kInt);

  // String predicates.
  b.Member("contains", "contains_string", {kString, kString}, kBool);
  b.Member("startsWith", "starts_with_string", {kString, kString}, kBool);
  b.Member("endsWith", "ends_with_string", {kString, kString}, kBool);
  b.Member("matches", "matches_string", {kString, kString}, kBool);
  b.Global("matches", "matches", {kString, kString}, kBool);

  // Conversions.
  b.Global("int", "int64_to_int64", {kInt}, kInt);
  b.Global("int", "uint64_to_int64", {kUint}, kInt);
  b.Global("int", "double_to_int64", {kDouble}, kInt);
  b.Global("int", "string_to_int64", {kString}, kInt);
  b.Global("int", "timestamp_to_int64", {kTs}, kInt);
  b.Global("int", "duration_to_int64", {kDur}, kInt);
  b.Global("uint", "uint64_to_uint64", {kUint}, kUint);
  b.Global("uint", "int64_to_uint64", {kInt}, kUint);
  b.Global("uint", "double_to_uint64", {kDouble}, kUint);
  b.Global("uint", "string_to_uint64", {kString}, kUint);
  b.Global("double", "double_to_double", {kDouble}, kDouble);
  b.Global("double", "int64_to_double", {kInt}, kDouble);
  b.Global("double", "uint64_to_double", {kUint}, kDouble);
  b.Global("double", "string_to_double", {kString}, kDouble);
  b.Global("string", "string_to_string", {kString}, kString);
  b.Global("string", "int64_to_string", {kInt}, kString);
  b.Global("string", "uint64_to_string", {kUint}, kString);
  b.Global("string", "double_to_string", {kDouble}, kString);
  b.Global("string", "bool_to_string", {kBool}, kString);
  b.Global("string", "bytes_to_string", {kBytes}, kString);
  b.Global("string", "timestamp_to_string", {kTs}, kString);
  b.Global("string", "duration_to_string", {kDur}, kString);
  b.Global("bytes", "bytes_to_bytes", {kBytes}, kBytes);
  b.Global("bytes", "string_to_bytes", {kString}, kBytes);
  b.Global("bool", "bool_to_bool", {kBool}, kBool);
  b.Global("bool", "string_to_bool", {kString}, kBool);
  b.Global("timestamp", "timestamp_to_timestamp", {kTs}, kTs);
  b.Global("timestamp", "string_to_timestamp", {kString}, kTs);
  b.Global("timestamp", "int64_to_timestamp", {kInt}, kTs);
  b.Global("duration", "duration_to_duration", {kDur}, kDur);
  b.Global("duration", "string_to_duration", {kString}, kDur);
  b.Global("dyn", "to_dyn", {kA}, kDyn);
  b.Global("type", "type", {kA}, Type::TypeOf(kA));

  // Timestamp and duration accessors; the timestamp ones take an optional time zone.
  const std::pair<const char*, const char*> kTsAccessors[] = {{"getFullYear", "year"},
                                                              {"getMonth", "month"},
                                                              {"getDayOfYear", "day_of_year"},
                                                              {"getDayOfMonth", "day_of_month"},
                                                              {"getDate", "day_of_month_1_based"},
                                                              {"getDayOfWeek", "day_of_week"},
                                                              {"getHours", "hours"},
                                                              {"getMinutes", "minutes"},
                                                              {"getSeconds", "seconds"},
                                                              {"getMilliseconds", "milliseconds"}};
  for (const auto& [name, suffix] : kTsAccessors) {
    b.Member(name, absl::StrCat("timestamp_to_", suffix), {kTs}, kInt);
    b.Member(name, absl::StrCat("timestamp_to_", suffix, "_with_tz"), {kTs, kString}, kInt);
  }
  const std::pair<const char*, const char*> kDurAccessors[] = {{"getHours", "hours"},
                                                               {"getMinutes", "minutes"},
                                                               {"getSeconds", "seconds"},
                                                               {"getMilliseconds", "milliseconds"}};
  for (const auto& [name, suffix] : kDurAccessors) {
    b.Member(name, absl::StrCat("duration_to_", suffix), {kDur}, kInt);
  }

  // Strings extension.
  b.Member("charAt", "string_char_at_int", {kString, kInt}, kString);
  b.Member("indexOf", "string_index_of_string", {kString, kString}, kInt);
  b.Member("indexOf", "string_index_of_string_int", {kString, kString, kInt}, kInt);
  b.Member("lastIndexOf", "string_last_index_of_string", {kString, kString}, kInt);
  b.Member("lastIndexOf", "string_last_index_of_string_int", {kString, kString, kInt}, kInt);
  b.Member("lowerAscii", "string_lower_ascii", {kString}, kString);
  b.Member("upperAscii", "string_upper_ascii", {kString}, kString);
  b.Member("replace", "string_replace_string_string", {kString, kString, kString}, kString);
  b.Member("replace", "string_replace_string_string_int", {kString, kString, kString, kInt},
           kString);
  b.Member("split", "string_split_string", {kString, kString}, Type::List(kString));
  b.Member("split", "string_split_string_int", {kString, kString, kInt}, Type::List(kString));
  b.Member("substring", "string_substring_int", {kString, kInt}, kString);
  b.Member("substring", "string_substring_int_int", {kString, kInt, kInt}, kString);
  b.Member("trim", "string_trim", {kString}, kString);
  b.Member("join", "list_join", {Type::List(kString)}, kString);
  b.Member("join", "list_join_string", {Type::List(kString), kString}, kString);
  b.Member("reverse", "string_reverse", {kString}, kString);
  b.Member("format", "string_format", {kString, Type::List(kDyn)}, kString);
  b.Global("strings.quote", "strings_quote", {kString}, kString);

  // Optional values (only their types; the syntax `a.?b` and `[?x]` is not part of this table).
  b.Global("optional.of", "optional_of", {kA}, kOptA);
  b.Global("optional.ofNonZeroValue", "optional_ofNonZeroValue", {kA}, kOptA);
  b.Global("optional.none", "optional_none", {}, kOptA);
  b.Member("hasValue", "optional_hasValue", {kOptA}, kBool);
  b.Member("value", "optional_value", {kOptA}, kA);
  b.Member("or", "optional_or_optional", {kOptA, kOptA}, kOptA);
  b.Member("orValue", "optional_orValue_value", {kOptA, kA}, kA);
  b.Global(op::kIndex, "optional_list_index_int", {Type::Opaque("optional_type", {kListA}), kInt},
           kOptA);
  b.Global(op::kIndex, "optional_map_index_value", {Type::Opaque("optional_type", {kMapAB}), kA},
           Type::Opaque("optional_type", {kB}));
  return table;
}

}  // namespace

const FunctionDecl* FindFunction(absl::string_view name) {
  static const Table* const kTable = new Table(BuildTable());
  auto it = kTable->find(name);
  return it == kTable->end() ? nullptr : &it->second;
}

}  // namespace varav::cel
