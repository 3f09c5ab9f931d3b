#include "engine/cel/internal/checker.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "engine/cel/internal/overloads.h"

namespace varav::cel {
namespace {

using Kind = Type::Kind;

// ---------------------------------------------------------------------------------------------
// Type unification.
//
// The checker follows the gradual typing of the CEL specification the way cel-go implements it, so
// that deduced types agree with the conformance suite's `type_deductions`: every empty literal and
// every type parameter of an overload gets a fresh type variable; `Mapping` binds variables to
// types; `dyn` (and the error type) is assignable to and from everything; when two candidates unify
// the more general one is kept (`MostGeneral`), and variables still unbound at the end become
// `dyn`.
// ---------------------------------------------------------------------------------------------

bool IsParam(const Type& t) { return t.kind() == Kind::kTypeParam; }
bool IsDynOrError(const Type& t) { return t.kind() == Kind::kDyn || t.kind() == Kind::kError; }

// Type-variable bindings with an undo trail, so that a failed trial unification can be rolled back
// without copying the whole mapping (which would make long expressions quadratic).
class Mapping {
 public:
  const Type* Find(const Type& t) const {
    if (!IsParam(t)) return nullptr;
    auto it = bindings_.find(t.name());
    return it == bindings_.end() ? nullptr : &it->second;
  }
  void Bind(const Type& var, Type t) {
    auto it = bindings_.find(var.name());
    if (it == bindings_.end()) {
      trail_.push_back({var.name(), std::nullopt});
      bindings_.emplace(var.name(), std::move(t));
    } else {
      trail_.push_back({var.name(), std::move(it->second)});
      it->second = std::move(t);
    }
  }
  size_t Mark() const { return trail_.size(); }
  void Rollback(size_t mark) {
    while (trail_.size() > mark) {
      auto& [name, previous] = trail_.back();
      if (previous.has_value()) {
        bindings_.insert_or_assign(name, *std::move(previous));
      } else {
        bindings_.erase(name);
      }
      trail_.pop_back();
    }
  }
  void Commit() { trail_.clear(); }

 private:
  absl::flat_hash_map<std::string, Type> bindings_;
  std::vector<std::pair<std::string, std::optional<Type>>> trail_;
};

const Type* FindBinding(const Mapping& m, const Type& t) { return m.Find(t); }

// Replaces bound variables by their bindings; unbound ones become dyn when `params_to_dyn`.
Type Substitute(const Mapping& m, const Type& t, bool params_to_dyn) {
  if (const Type* bound = FindBinding(m, t)) return Substitute(m, *bound, params_to_dyn);
  switch (t.kind()) {
    case Kind::kTypeParam:
      return params_to_dyn ? Type::Dyn() : t;
    case Kind::kList:
      return Type::List(Substitute(m, t.element(), params_to_dyn));
    case Kind::kMap:
      return Type::Map(Substitute(m, t.key(), params_to_dyn),
                       Substitute(m, t.value(), params_to_dyn));
    case Kind::kType:
      return Type::TypeOf(Substitute(m, t.element(), params_to_dyn));
    case Kind::kOpaque: {
      std::vector<Type> params;
      params.reserve(t.params().size());
      for (const Type& p : t.params()) params.push_back(Substitute(m, p, params_to_dyn));
      return Type::Opaque(t.name(), std::move(params));
    }
    default:
      return t;
  }
}

// True unless binding `var` to `within` would make a type refer to itself.
bool NotReferencedIn(const Mapping& m, const Type& var, const Type& within) {
  if (var == within) return false;
  if (IsParam(within)) {
    const Type* bound = FindBinding(m, within);
    return bound == nullptr || NotReferencedIn(m, var, *bound);
  }
  for (const Type& p : within.params()) {
    if (!NotReferencedIn(m, var, p)) return false;
  }
  return true;
}

// Kinds that `null` is assignable to (message-like values, as in cel-go's legacy checker).
bool IsNullable(const Type& t) {
  switch (t.kind()) {
    case Kind::kObject:
    case Kind::kDuration:
    case Kind::kTimestamp:
    case Kind::kOpaque:
      return true;
    default:
      return false;
  }
}

bool IsEqualOrLessSpecific(const Type& a, const Type& b) {
  if (a.kind() == Kind::kDyn || IsParam(a)) return true;
  if (b.kind() == Kind::kDyn || IsParam(b)) return false;
  // `[msg, null]` keeps the message type (conformance: legacy_nullable_types).
  if (b.kind() == Kind::kNull) return a.kind() == Kind::kNull || IsNullable(a);
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Kind::kList:
    case Kind::kMap:
    case Kind::kType:
    case Kind::kOpaque: {
      if (a.name() != b.name() || a.params().size() != b.params().size()) return false;
      for (size_t i = 0; i < a.params().size(); ++i) {
        if (!IsEqualOrLessSpecific(a.params()[i], b.params()[i])) return false;
      }
      return true;
    }
    default:
      return true;
  }
}

const Type& MostGeneral(const Type& a, const Type& b) {
  return IsEqualOrLessSpecific(a, b) ? a : b;
}

bool Assignable(Mapping& m, const Type& from, const Type& to);

struct Substitution {
  bool valid = false;
  bool had_binding = false;
};

// Can `var` (a type variable) stand for `t`? Binds or widens `var` on success.
Substitution TrySubstitute(Mapping& m, const Type& t, const Type& var) {
  if (t == var) return {true, true};
  if (const Type* bound_ptr = FindBinding(m, var)) {
    const Type bound = *bound_ptr;  // `m` may change below
    if (t == bound) return {true, true};
    if (Assignable(m, t, bound)) {
      Type widened = MostGeneral(t, bound);
      if (NotReferencedIn(m, var, widened)) m.Bind(var, std::move(widened));
      return {true, true};
    }
    return {false, true};
  }
  if (NotReferencedIn(m, var, t)) {
    m.Bind(var, t);
    return {true, false};
  }
  return {false, false};
}

// Whether a value of type `from` may be passed where `to` is expected; extends `m` as needed (the
// caller rolls `m` back on failure).
bool Assignable(Mapping& m, const Type& from, const Type& to) {
  if (IsParam(to)) {
    Substitution s = TrySubstitute(m, from, to);
    if (s.valid) return true;
    if (s.had_binding) return false;
  }
  if (IsParam(from)) return TrySubstitute(m, to, from).valid;
  if (IsDynOrError(from) || IsDynOrError(to)) return true;
  if (from == to) return true;
  if (from.kind() == Kind::kNull) return IsNullable(to);
  if (to.kind() == Kind::kNull) return IsNullable(from);
  if (from.kind() != to.kind()) return false;
  switch (from.kind()) {
    // Type values of different types still compare (`type(1) == type(1u)` is a valid check).
    case Kind::kType:
      return true;
    case Kind::kList:
    case Kind::kMap:
    case Kind::kOpaque: {
      if (from.name() != to.name() || from.params().size() != to.params().size()) return false;
      for (size_t i = 0; i < from.params().size(); ++i) {
        if (!Assignable(m, from.params()[i], to.params()[i])) return false;
      }
      return true;
    }
    default:
      return false;  // e.g. two different object types
  }
}

std::string FormatArgs(const std::vector<Type>& types, bool receiver) {
  std::string out;
  size_t first = 0;
  if (receiver && !types.empty()) {
    absl::StrAppend(&out, types[0].DebugString(), ".");
    first = 1;
  }
  out.push_back('(');
  for (size_t i = first; i < types.size(); ++i) {
    if (i > first) out.append(", ");
    out.append(types[i].DebugString());
  }
  out.push_back(')');
  return out;
}

// The types that a bare identifier denotes.
std::optional<Type> BuiltinTypeName(absl::string_view name) {
  if (name == "int") return Type::Int();
  if (name == "uint") return Type::Uint();
  if (name == "double") return Type::Double();
  if (name == "bool") return Type::Bool();
  if (name == "string") return Type::String();
  if (name == "bytes") return Type::Bytes();
  if (name == "null_type") return Type::Null();
  if (name == "list") return Type::List(Type::Dyn());
  if (name == "map") return Type::Map(Type::Dyn(), Type::Dyn());
  // `type` denotes the type of types; `dyn` deliberately denotes nothing (conformance suite:
  // conversions/type/dyn_no_denotation).
  if (name == "type") return Type::TypeOf(Type::Dyn());
  if (name == "google.protobuf.Timestamp") return Type::Timestamp();
  if (name == "google.protobuf.Duration") return Type::Duration();
  if (name == "optional_type") return Type::Opaque("optional_type", {Type::Dyn()});
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The checker proper: one recursive walk (depth bounded by the parser's nesting limit).
// ---------------------------------------------------------------------------------------------

class Checker {
 public:
  Checker(const Env& env, const Ast& ast, const CompileOptions& options, CheckResult* result)
      : env_(env), ast_(ast), options_(options), result_(*result) {}

  void Run() {
    if (ast_.root == nullptr) {
      result_.result_type = Type::Error();
      Report(0, "empty expression");
      return;
    }
    Visit(*ast_.root);
    for (auto& [id, type] : result_.types) type = Substitute(mappings_, type, true);
    result_.result_type = result_.types[ast_.root->id];
    std::stable_sort(result_.issues.begin(), result_.issues.end(),
                     [](const Issue& a, const Issue& b) { return a.offset < b.offset; });
  }

 private:
  struct Resolved {
    std::string name;
    Type type;
  };

  void Visit(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kConstant:
        VisitConstant(e);
        return;
      case Expr::Kind::kIdent:
        VisitIdent(e);
        return;
      case Expr::Kind::kSelect:
        VisitSelect(e);
        return;
      case Expr::Kind::kCall:
        VisitCall(e);
        return;
      case Expr::Kind::kList:
        VisitList(e);
        return;
      case Expr::Kind::kMap:
        VisitMap(e);
        return;
      case Expr::Kind::kStruct:
        VisitStruct(e);
        return;
      case Expr::Kind::kComprehension:
        VisitComprehension(e);
        return;
    }
    SetType(e, Type::Error());
  }

  void VisitConstant(const Expr& e) {
    struct {
      Type operator()(const NullLiteral&) const { return Type::Null(); }
      Type operator()(bool) const { return Type::Bool(); }
      Type operator()(int64_t) const { return Type::Int(); }
      Type operator()(uint64_t) const { return Type::Uint(); }
      Type operator()(double) const { return Type::Double(); }
      Type operator()(const std::string&) const { return Type::String(); }
      Type operator()(const Bytes&) const { return Type::Bytes(); }
    } type_of;
    SetType(e, std::visit(type_of, e.constant));
  }

  void VisitIdent(const Expr& e) {
    if (const Type* local = LookupLocal(e.name)) {
      SetType(e, *local);
      return;
    }
    if (std::optional<Resolved> r = LookupIdent(e.name)) {
      SetType(e, r->type);
      result_.references[e.id] = std::move(r->name);
      return;
    }
    Report(e.offset, absl::StrCat("undeclared reference to '", e.name, "' (in container '",
                                  options_.container, "')"));
    SetType(e, Type::Error());
  }

  void VisitSelect(const Expr& e) {
    if (!e.test_only) {
      // The longest prefix that names a variable or type wins: try the whole chain first.
      std::string qualified;
      if (QualifiedName(e, &qualified)) {
        if (std::optional<Resolved> r = LookupIdent(qualified)) {
          SetType(e, r->type);
          result_.references[e.id] = std::move(r->name);
          return;
        }
      }
    }
    Visit(*e.operand);
    Type operand = Substitute(mappings_, GetType(*e.operand), false);
    Type field = SelectField(e, operand);
    SetType(e, e.test_only ? Type::Bool() : Substitute(mappings_, field, false));
  }

  Type SelectField(const Expr& e, const Type& operand) {
    switch (operand.kind()) {
      case Kind::kMap:
        switch (operand.key().kind()) {
          case Kind::kString:
          case Kind::kDyn:
          case Kind::kTypeParam:
          case Kind::kError:
            return operand.value();
          default:
            break;
        }
        break;
      case Kind::kObject: {
        const ObjectType* object = env_.FindObjectType(operand.name());
        if (object != nullptr) {
          for (const ObjectField& f : object->fields) {
            if (f.name == e.name) return f.type;
          }
        }
        Report(e.offset,
               absl::StrCat("undefined field '", e.name, "' of type '", operand.name(), "'"));
        return Type::Error();
      }
      case Kind::kOpaque:
        if (operand.name() == "optional_type" && operand.params().size() == 1) {
          return Type::Opaque("optional_type", {SelectField(e, operand.params()[0])});
        }
        break;
      case Kind::kTypeParam:
        // Pin the variable to dyn so that it cannot later be bound to a type without the field.
        IsAssignable(Type::Dyn(), operand);
        return Type::Dyn();
      case Kind::kDyn:
        return Type::Dyn();
      case Kind::kError:
        return Type::Error();
      default:
        break;
    }
    Report(e.offset, absl::StrCat("type '", Final(operand).DebugString(),
                                  "' does not support field selection (field '", e.name, "')"));
    return Type::Error();
  }

  void VisitCall(const Expr& e) {
    if (e.operand != nullptr) {
      // `strings.quote(x)`: a namespaced global function, not a receiver call on `strings`.
      std::string prefix;
      if (QualifiedName(*e.operand, &prefix)) {
        if (const FunctionDecl* fn = LookupFunction(absl::StrCat(prefix, ".", e.name))) {
          for (const ExprPtr& arg : e.args) Visit(*arg);
          Resolve(e, *fn, nullptr);
          return;
        }
      }
      Visit(*e.operand);
    }
    for (const ExprPtr& arg : e.args) Visit(*arg);
    const FunctionDecl* fn = LookupFunction(e.name);
    if (fn == nullptr) {
      Report(e.offset, absl::StrCat("undeclared reference to '", e.name, "' (in container '",
                                    options_.container, "')"));
      SetType(e, Type::Error());
      return;
    }
    Resolve(e, *fn, e.operand.get());
  }

  void Resolve(const Expr& e, const FunctionDecl& fn, const Expr* receiver) {
    std::vector<Type> arg_types;
    if (receiver != nullptr) arg_types.push_back(GetType(*receiver));
    for (const ExprPtr& arg : e.args) arg_types.push_back(GetType(*arg));

    // Logical operators accept any mix of bool and dyn, and name the offending operand otherwise.
    if (receiver == nullptr && (fn.name == op::kLogicalAnd || fn.name == op::kLogicalOr)) {
      bool ok = true;
      for (size_t i = 0; i < e.args.size(); ++i) {
        if (!IsAssignable(arg_types[i], Type::Bool())) {
          Report(e.args[i]->offset, absl::StrCat("expected type 'bool' but found '",
                                                 Final(arg_types[i]).DebugString(), "'"));
          ok = false;
        }
      }
      SetType(e, ok ? Type::Bool() : Type::Error());
      return;
    }

    std::optional<Type> result;
    for (const OverloadDecl& overload : fn.overloads) {
      if (overload.member != (receiver != nullptr)) continue;
      if (overload.params.size() != arg_types.size()) continue;
      std::vector<Type> params = overload.params;
      Type overload_result = overload.result;
      if (overload.has_type_params) {
        absl::flat_hash_map<std::string, Type> fresh;
        for (Type& p : params) p = Instantiate(p, fresh);
        overload_result = Instantiate(overload_result, fresh);
      }
      if (!IsAssignableList(arg_types, params)) continue;
      Type r = Substitute(mappings_, overload_result, false);
      if (!result.has_value()) {
        result = std::move(r);
      } else if (result->kind() != Kind::kDyn && r != *result) {
        result = Type::Dyn();
      }
    }
    if (!result.has_value()) {
      for (Type& t : arg_types) t = Final(t);
      Report(e.offset, absl::StrCat("found no matching overload for '", fn.name, "' applied to '",
                                    FormatArgs(arg_types, receiver != nullptr), "'"));
      SetType(e, Type::Error());
      return;
    }
    SetType(e, *std::move(result));
  }

  void VisitList(const Expr& e) {
    std::optional<Type> element;
    for (const ExprPtr& arg : e.args) {
      Visit(*arg);
      element = Join(element, GetType(*arg));
    }
    SetType(e, Type::List(element.has_value() ? *element : NewTypeVar()));
  }

  void VisitMap(const Expr& e) {
    std::optional<Type> key;
    std::optional<Type> value;
    for (const Expr::Entry& entry : e.entries) {
      Visit(*entry.key);
      Visit(*entry.value);
      Type key_type = Substitute(mappings_, GetType(*entry.key), false);
      switch (key_type.kind()) {
        case Kind::kInt:
        case Kind::kUint:
        case Kind::kString:
        case Kind::kBool:
        case Kind::kDyn:
        case Kind::kTypeParam:
        case Kind::kError:
          break;
        default:
          Report(entry.key->offset,
                 absl::StrCat("unsupported map key type '", Final(key_type).DebugString(), "'"));
          key_type = Type::Error();
      }
      Type value_type = GetType(*entry.value);
      if (entry.optional) value_type = UnwrapOptional(*entry.value, value_type);
      key = Join(key, key_type);
      value = Join(value, value_type);
    }
    SetType(e, Type::Map(key.has_value() ? *key : NewTypeVar(),
                         value.has_value() ? *value : NewTypeVar()));
  }

  // `{?k: v}` requires an optional value and stores what it holds.
  Type UnwrapOptional(const Expr& value, const Type& type) {
    Type elem = NewTypeVar();
    if (IsAssignable(type, Type::Opaque("optional_type", {elem}))) {
      return Substitute(mappings_, elem, false);
    }
    Report(value.offset, absl::StrCat("expected type 'optional_type' but found '",
                                      Final(type).DebugString(), "'"));
    return Type::Error();
  }

  void VisitStruct(const Expr& e) {
    Report(e.offset, "message construction is not supported");
    for (const Expr::Entry& entry : e.entries) {
      if (entry.value != nullptr) Visit(*entry.value);
    }
    SetType(e, Type::Error());
  }

  void VisitComprehension(const Expr& e) {
    Visit(*e.iter_range);
    Visit(*e.accu_init);
    Type range = Substitute(mappings_, GetType(*e.iter_range), false);
    Type accu = GetType(*e.accu_init);
    const bool two_vars = !e.iter_var2.empty();

    Type var = Type::Error();
    Type var2 = Type::Error();
    switch (range.kind()) {
      case Kind::kList:
        var = two_vars ? Type::Int() : range.element();
        var2 = range.element();
        break;
      case Kind::kMap:
        var = range.key();
        var2 = range.value();
        break;
      case Kind::kDyn:
      case Kind::kError:
      case Kind::kTypeParam:
        IsAssignable(Type::Dyn(), range);
        var = Type::Dyn();
        var2 = Type::Dyn();
        break;
      default:
        Report(
            e.iter_range->offset,
            absl::StrCat("expression of type '", Final(range).DebugString(),
                         "' cannot be range of a comprehension (must be list, map, or dynamic)"));
        break;
    }

    scopes_.emplace_back();
    scopes_.back().insert_or_assign(e.accu_var, accu);
    scopes_.emplace_back();
    scopes_.back().insert_or_assign(e.iter_var, var);
    if (two_vars) scopes_.back().insert_or_assign(e.iter_var2, var2);
    Visit(*e.loop_condition);
    AssertType(*e.loop_condition, Type::Bool());
    Visit(*e.loop_step);
    AssertType(*e.loop_step, accu);
    scopes_.pop_back();
    Visit(*e.result);
    scopes_.pop_back();
    SetType(e, Substitute(mappings_, GetType(*e.result), false));
  }

  void AssertType(const Expr& e, const Type& expected) {
    if (!IsAssignable(expected, GetType(e))) {
      Report(e.offset, absl::StrCat("expected type '", Final(expected).DebugString(),
                                    "' but found '", Final(GetType(e)).DebugString(), "'"));
    }
  }

  // ---- name resolution ----

  const Type* LookupLocal(absl::string_view name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = it->find(name);
      if (found != it->end()) return &found->second;
    }
    return nullptr;
  }

  // The names `name` may refer to in the container, most qualified first (CEL "Name Resolution").
  std::vector<std::string> Candidates(absl::string_view name) const {
    if (absl::StartsWith(name, ".")) return {std::string(name.substr(1))};
    std::vector<std::string> out;
    absl::string_view container = options_.container;
    while (!container.empty()) {
      out.push_back(absl::StrCat(container, ".", name));
      size_t dot = container.rfind('.');
      container = dot == absl::string_view::npos ? absl::string_view() : container.substr(0, dot);
    }
    out.push_back(std::string(name));
    return out;
  }

  std::optional<Resolved> LookupIdent(absl::string_view name) const {
    for (std::string& candidate : Candidates(name)) {
      if (const Env::Variable* var = env_.FindVariable(candidate)) {
        return Resolved{std::move(candidate), var->type};
      }
      if (std::optional<Type> builtin = BuiltinTypeName(candidate)) {
        return Resolved{std::move(candidate), Type::TypeOf(*builtin)};
      }
      if (env_.FindObjectType(candidate) != nullptr) {
        Type object = Type::Object(candidate);
        return Resolved{std::move(candidate), Type::TypeOf(std::move(object))};
      }
    }
    return std::nullopt;
  }

  const FunctionDecl* LookupFunction(absl::string_view name) const {
    for (const std::string& candidate : Candidates(name)) {
      if (const FunctionDecl* fn = FindFunction(candidate)) return fn;
    }
    return nullptr;
  }

  // `a.b.c` as a dotted name, if `e` is a chain of plain selections on an identifier that is not a
  // comprehension variable (those shadow every global name).
  bool QualifiedName(const Expr& e, std::string* out) const {
    if (e.kind == Expr::Kind::kIdent) {
      if (LookupLocal(e.name) != nullptr) return false;
      *out = e.name;
      return true;
    }
    if (e.kind == Expr::Kind::kSelect && !e.test_only && e.operand != nullptr &&
        QualifiedName(*e.operand, out)) {
      absl::StrAppend(out, ".", e.name);
      return true;
    }
    return false;
  }

  // ---- helpers ----

  std::optional<Type> Join(const std::optional<Type>& previous, const Type& current) {
    if (!previous.has_value()) return current;
    if (IsAssignable(*previous, current)) return MostGeneral(*previous, current);
    return Type::Dyn();
  }

  bool IsAssignable(const Type& from, const Type& to) {
    const size_t mark = mappings_.Mark();
    if (!Assignable(mappings_, from, to)) {
      mappings_.Rollback(mark);
      return false;
    }
    mappings_.Commit();
    return true;
  }

  bool IsAssignableList(const std::vector<Type>& from, const std::vector<Type>& to) {
    if (from.size() != to.size()) return false;
    const size_t mark = mappings_.Mark();
    for (size_t i = 0; i < from.size(); ++i) {
      if (!Assignable(mappings_, from[i], to[i])) {
        mappings_.Rollback(mark);
        return false;
      }
    }
    mappings_.Commit();
    return true;
  }

  // Replaces the declaration's type parameters by fresh variables (one per name).
  Type Instantiate(const Type& t, absl::flat_hash_map<std::string, Type>& fresh) {
    if (IsParam(t)) {
      auto it = fresh.find(t.name());
      if (it == fresh.end()) it = fresh.emplace(t.name(), NewTypeVar()).first;
      return it->second;
    }
    if (t.params().empty()) return t;
    std::vector<Type> params;
    for (const Type& p : t.params()) params.push_back(Instantiate(p, fresh));
    switch (t.kind()) {
      case Kind::kList:
        return Type::List(std::move(params[0]));
      case Kind::kMap:
        return Type::Map(std::move(params[0]), std::move(params[1]));
      case Kind::kType:
        return Type::TypeOf(std::move(params[0]));
      case Kind::kOpaque:
        return Type::Opaque(t.name(), std::move(params));
      default:
        return t;
    }
  }

  Type NewTypeVar() { return Type::Param(absl::StrCat("_var", next_var_++)); }

  // The type as it would be reported: bound variables substituted, free ones as dyn.
  Type Final(const Type& t) const { return Substitute(mappings_, t, true); }

  void SetType(const Expr& e, Type t) { result_.types.insert_or_assign(e.id, std::move(t)); }

  const Type& GetType(const Expr& e) const {
    static const Type* const kError = new Type(Type::Error());
    auto it = result_.types.find(e.id);
    return it == result_.types.end() ? *kError : it->second;
  }

  void Report(int32_t offset, std::string message) {
    result_.issues.push_back(MakeIssue(ast_.source, offset, std::move(message)));
  }

  const Env& env_;
  const Ast& ast_;
  const CompileOptions& options_;
  CheckResult& result_;
  Mapping mappings_;
  int64_t next_var_ = 0;
  std::vector<absl::flat_hash_map<std::string, Type>> scopes_;
};

// ---------------------------------------------------------------------------------------------
// Static cost.
//
// An upper-bound estimate in abstract units, computed from the checked tree:
//   * every node costs 1, plus the cost of its children;
//   * a function that walks a string, bytes or list (contains, startsWith, endsWith, matches,
//     indexOf, lastIndexOf, replace, split, substring, charAt, lowerAscii, upperAscii, trim,
//     reverse, join, format, strings.quote, `+`, `==`, `!=` and `in`) costs additionally the sum
//     of its operands' size estimates (a small overestimate for numeric operands);
//   * a comprehension costs its range, its initialiser and its result once, and its loop
//     condition and step once per element of the range;
//   * the size estimate of a string, bytes or list is exact for literals (characters or
//     elements), the range's size for map/filter results, the sum for `+`, and
//     `kAssumedSize` (100) for anything else (variables, fields, function results).
// Nested comprehensions therefore multiply. All arithmetic saturates at INT64_MAX.
// ---------------------------------------------------------------------------------------------

constexpr int64_t kAssumedSize = 100;
constexpr int64_t kMaxCost = std::numeric_limits<int64_t>::max();

int64_t SatAdd(int64_t a, int64_t b) { return a > kMaxCost - b ? kMaxCost : a + b; }
int64_t SatMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kMaxCost / b ? kMaxCost : a * b;
}

struct Estimate {
  int64_t cost = 0;
  int64_t size = kAssumedSize;
};

bool WalksOperands(absl::string_view name) {
  static constexpr absl::string_view kNames[] = {
      "contains", "startsWith", "endsWith",     "matches", "indexOf",    "lastIndexOf",
      "replace",  "split",      "substring",    "charAt",  "lowerAscii", "upperAscii",
      "trim",     "reverse",    "join",         "format",  "quote",      "strings.quote",
      op::kAdd,   op::kEquals,  op::kNotEquals, op::kIn};
  return std::find(std::begin(kNames), std::end(kNames), name) != std::end(kNames);
}

class CostEstimator {
 public:
  // `limit` > 0: remember the first (innermost) node whose estimate exceeds it.
  explicit CostEstimator(int64_t limit) : limit_(limit) {}

  // Offset of the innermost node whose estimate exceeds the limit; -1 when none does.
  int32_t over_limit_offset() const { return over_limit_offset_; }

  Estimate Visit(const Expr& e) {
    Estimate est = VisitNode(e);
    if (limit_ > 0 && over_limit_offset_ < 0 && est.cost > limit_) over_limit_offset_ = e.offset;
    return est;
  }

 private:
  Estimate VisitNode(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kConstant: {
        Estimate est{1, 1};
        if (const auto* s = std::get_if<std::string>(&e.constant)) {
          est.size = static_cast<int64_t>(s->size());
        } else if (const auto* b = std::get_if<Bytes>(&e.constant)) {
          est.size = static_cast<int64_t>(b->value.size());
        }
        return est;
      }
      case Expr::Kind::kIdent:
        return {1, kAssumedSize};
      case Expr::Kind::kSelect: {
        Estimate est{1, kAssumedSize};
        if (e.operand != nullptr) est.cost = SatAdd(est.cost, Visit(*e.operand).cost);
        return est;
      }
      case Expr::Kind::kCall: {
        int64_t cost = 1;
        int64_t operand_sizes = 0;
        int64_t add_size = 0;
        auto account = [&](const Expr& child) {
          Estimate c = Visit(child);
          cost = SatAdd(cost, c.cost);
          operand_sizes = SatAdd(operand_sizes, c.size);
          add_size = SatAdd(add_size, c.size);
        };
        if (e.operand != nullptr) account(*e.operand);
        for (const ExprPtr& arg : e.args) account(*arg);
        if (WalksOperands(e.name)) cost = SatAdd(cost, operand_sizes);
        return {cost, e.name == op::kAdd ? add_size : kAssumedSize};
      }
      case Expr::Kind::kList: {
        Estimate est{1, static_cast<int64_t>(e.args.size())};
        for (const ExprPtr& arg : e.args) est.cost = SatAdd(est.cost, Visit(*arg).cost);
        return est;
      }
      case Expr::Kind::kMap:
      case Expr::Kind::kStruct: {
        Estimate est{1, static_cast<int64_t>(e.entries.size())};
        for (const Expr::Entry& entry : e.entries) {
          if (entry.key != nullptr) est.cost = SatAdd(est.cost, Visit(*entry.key).cost);
          if (entry.value != nullptr) est.cost = SatAdd(est.cost, Visit(*entry.value).cost);
        }
        return est;
      }
      case Expr::Kind::kComprehension: {
        Estimate range = Visit(*e.iter_range);
        int64_t cost = SatAdd(1, range.cost);
        cost = SatAdd(cost, Visit(*e.accu_init).cost);
        int64_t body = SatAdd(Visit(*e.loop_condition).cost, Visit(*e.loop_step).cost);
        cost = SatAdd(cost, SatMul(range.size, body));
        cost = SatAdd(cost, Visit(*e.result).cost);
        return {cost, range.size};
      }
    }
    return {1, kAssumedSize};
  }

  int64_t limit_;
  int32_t over_limit_offset_ = -1;
};

}  // namespace

CheckResult Check(const Env& env, const Ast& ast, const CompileOptions& options) {
  CheckResult result;
  Checker(env, ast, options, &result).Run();
  if (ast.root != nullptr) {
    CostEstimator estimator(options.limits.max_static_cost);
    result.static_cost = estimator.Visit(*ast.root).cost;
    result.static_cost_offset = std::max(estimator.over_limit_offset(), 0);
  }
  return result;
}

}  // namespace varav::cel
