#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/cel/cel.h"

namespace varav::cel {

const Env::Variable* Env::FindVariable(absl::string_view name) const {
  auto it = variable_index_.find(name);
  return it == variable_index_.end() ? nullptr : &variables_[it->second];
}

const ObjectType* Env::FindObjectType(absl::string_view name) const {
  auto it = object_types_.find(name);
  return it == object_types_.end() ? nullptr : &it->second;
}

absl::Status EnvBuilder::AddVariable(std::string name, Type type) {
  if (name.empty()) return absl::InvalidArgumentError("variable name must not be empty");
  if (env_->variable_index_.contains(name)) {
    return absl::AlreadyExistsError(absl::StrCat("variable '", name, "' is already declared"));
  }
  env_->variable_index_.emplace(name, env_->variables_.size());
  env_->variables_.push_back(Env::Variable{std::move(name), std::move(type)});
  return absl::OkStatus();
}

absl::Status EnvBuilder::AddObjectType(ObjectType type) {
  if (type.name.empty()) return absl::InvalidArgumentError("object type name must not be empty");
  if (env_->object_types_.contains(type.name)) {
    return absl::AlreadyExistsError(
        absl::StrCat("object type '", type.name, "' is already declared"));
  }
  absl::flat_hash_map<std::string, int> seen;
  for (const ObjectField& field : type.fields) {
    if (field.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("object type '", type.name, "' has a field with an empty name"));
    }
    if (!seen.emplace(field.name, 1).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("object type '", type.name, "' declares field '", field.name, "' twice"));
    }
  }
  std::string name = type.name;
  env_->object_types_.emplace(std::move(name), std::move(type));
  return absl::OkStatus();
}

namespace {

// Returns an error naming the first object type referenced by `type` that `env` does not declare.
absl::Status CheckDeclared(const Env& env, const Type& type, absl::string_view where) {
  if (type.kind() == Type::Kind::kObject && env.FindObjectType(type.name()) == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, " refers to undeclared object type '", type.name(), "'"));
  }
  for (const Type& param : type.params()) {
    absl::Status s = CheckDeclared(env, param, where);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Env>> EnvBuilder::Build() && {
  for (const Env::Variable& var : env_->variables_) {
    absl::Status s = CheckDeclared(*env_, var.type, absl::StrCat("variable '", var.name, "'"));
    if (!s.ok()) return s;
  }
  for (const auto& [name, object] : env_->object_types_) {
    for (const ObjectField& field : object.fields) {
      absl::Status s =
          CheckDeclared(*env_, field.type, absl::StrCat("field '", name, ".", field.name, "'"));
      if (!s.ok()) return s;
    }
  }
  return std::shared_ptr<const Env>(std::move(env_));
}

}  // namespace varav::cel
