#include "engine/cel/type.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace varav::cel {

struct Type::Rep {
  std::string name;
  std::vector<Type> params;
};

namespace {
const std::string& EmptyName() {
  static const std::string* const kEmpty = new std::string();
  return *kEmpty;
}
const std::vector<Type>& EmptyParams() {
  static const std::vector<Type>* const kEmpty = new std::vector<Type>();
  return *kEmpty;
}
}  // namespace

Type Type::List(Type element) {
  return Type(Kind::kList, std::make_shared<const Rep>(Rep{"", {std::move(element)}}));
}
Type Type::Map(Type key, Type value) {
  return Type(Kind::kMap, std::make_shared<const Rep>(Rep{"", {std::move(key), std::move(value)}}));
}
Type Type::Object(std::string name) {
  return Type(Kind::kObject, std::make_shared<const Rep>(Rep{std::move(name), {}}));
}
Type Type::TypeOf(Type denoted) {
  return Type(Kind::kType, std::make_shared<const Rep>(Rep{"", {std::move(denoted)}}));
}
Type Type::Param(std::string name) {
  return Type(Kind::kTypeParam, std::make_shared<const Rep>(Rep{std::move(name), {}}));
}
Type Type::Opaque(std::string name, std::vector<Type> params) {
  return Type(Kind::kOpaque, std::make_shared<const Rep>(Rep{std::move(name), std::move(params)}));
}

const std::string& Type::name() const { return rep_ ? rep_->name : EmptyName(); }
const std::vector<Type>& Type::params() const { return rep_ ? rep_->params : EmptyParams(); }

bool Type::operator==(const Type& other) const {
  if (kind_ != other.kind_) return false;
  if (rep_ == other.rep_) return true;
  return name() == other.name() && params() == other.params();
}

std::string Type::DebugString() const {
  switch (kind_) {
    case Kind::kDyn:
      return "dyn";
    case Kind::kNull:
      return "null_type";
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return "int";
    case Kind::kUint:
      return "uint";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "string";
    case Kind::kBytes:
      return "bytes";
    case Kind::kDuration:
      return "google.protobuf.Duration";
    case Kind::kTimestamp:
      return "google.protobuf.Timestamp";
    case Kind::kList:
      return absl::StrCat("list(", element().DebugString(), ")");
    case Kind::kMap:
      return absl::StrCat("map(", key().DebugString(), ", ", value().DebugString(), ")");
    case Kind::kObject:
      return name();
    case Kind::kType:
      return absl::StrCat("type(", element().DebugString(), ")");
    case Kind::kTypeParam:
      return name();
    case Kind::kOpaque: {
      if (params().empty()) return name();
      return absl::StrCat(
          name(), "(",
          absl::StrJoin(params(), ", ",
                        [](std::string* out, const Type& t) { out->append(t.DebugString()); }),
          ")");
    }
    case Kind::kError:
      return "*error*";
  }
  return "dyn";
}

}  // namespace varav::cel
