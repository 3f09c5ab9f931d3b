#include "engine/cel/internal/planner.h"

#include <array>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/cel/internal/functions.h"
#include "re2/re2.h"

namespace varav::cel {
namespace {

using runtime::Frame;
using Kind = Value::Kind;

// One node of the plan. Eval returns either a value owned elsewhere that stays alive while the
// caller uses it (a constant of the plan, a binding of the activation, an element of a container
// the caller holds) or `scratch` after storing a new value in it. Borrowing instead of copying
// keeps reference counting and allocation off the hot paths (field selection, variable lookup).
class Step {
 public:
  virtual ~Step() = default;
  virtual const Value& Eval(Frame& f, Value& scratch) const = 0;
  // Non-null for steps whose value is known at plan time.
  virtual const Value* constant() const { return nullptr; }
};
using StepPtr = std::unique_ptr<const Step>;

const Value& Store(Value& scratch, Value v) {
  scratch = std::move(v);
  return scratch;
}

// Makes `v` owned by `scratch`. `v` may live inside the value `scratch` holds, so it is copied
// before `scratch` is overwritten.
const Value& Own(Value& scratch, const Value& v) {
  if (&v != &scratch) {
    Value copy = v;
    scratch = std::move(copy);
  }
  return scratch;
}

Value NoSuchKey(absl::string_view key) {
  return Value::Error(absl::StatusCode::kNotFound, absl::StrCat("no such key: ", key));
}

Value Undeclared(absl::string_view name) {
  return Value::Error(absl::StatusCode::kNotFound,
                      absl::StrCat("undeclared reference to '", name, "' (no such attribute)"));
}

Value NotSelectable(const Value& v, absl::string_view field) {
  return Value::Error(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("type '", runtime::KindName(v.kind()),
                                   "' does not support field selection (field '", field, "')"));
}

Value NoOverload(absl::string_view function) {
  return Value::Error(absl::StatusCode::kInvalidArgument,
                      absl::StrCat("no matching overload for '", function, "'"));
}

// ---- Leaves
// -----------------------------------------------------------------------------------------

class ConstStep final : public Step {
 public:
  explicit ConstStep(Value v) : value_(std::move(v)) {}
  const Value& Eval(Frame& f, Value&) const override {
    ++f.cost;
    return value_;
  }
  const Value* constant() const override { return &value_; }

 private:
  Value value_;
};

// Names are hashed once here, at plan time, rather than by every lookup during evaluation.
class VarStep final : public Step {
 public:
  explicit VarStep(std::string name)
      : name_(std::move(name)), hash_(Activation::HashName(name_)), missing_(Undeclared(name_)) {}
  const Value& Eval(Frame& f, Value&) const override {
    ++f.cost;
    const Value* v = f.activation->Find(name_, hash_);
    return v != nullptr ? *v : missing_;
  }

 private:
  std::string name_;
  size_t hash_;
  Value missing_;
};

// A type name such as `int` or `google.protobuf.Timestamp`: a type value unless a variable of that
// name is bound.
class TypeIdentStep final : public Step {
 public:
  TypeIdentStep(std::string name, Value type)
      : name_(std::move(name)), hash_(Activation::HashName(name_)), type_(std::move(type)) {}
  const Value& Eval(Frame& f, Value&) const override {
    ++f.cost;
    const Value* v = f.activation->Find(name_, hash_);
    return v != nullptr ? *v : type_;
  }

 private:
  std::string name_;
  size_t hash_;
  Value type_;
};

class SlotStep final : public Step {
 public:
  explicit SlotStep(int slot) : slot_(slot) {}
  const Value& Eval(Frame& f, Value&) const override {
    ++f.cost;
    return *f.slots[slot_];
  }

 private:
  int slot_;
};

// Selects `fields` in turn from `root`; hashes[i] is Value::HashField(fields[i]) and missing[i] the
// error for a missing fields[i].
const Value& SelectPath(const Value* v, absl::Span<const std::string> fields,
                        absl::Span<const size_t> hashes, absl::Span<const Value> missing,
                        Value& scratch) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (v->kind() != Kind::kMap) {
      if (v->IsError()) return Own(scratch, *v);
      return Store(scratch, NotSelectable(*v, fields[i]));
    }
    const Value* next = v->FindField(fields[i], hashes[i]);
    if (next == nullptr) return missing[i];
    v = next;
  }
  return *v;
}

// An unchecked dotted name `a.b.c` whose meaning depends on the bindings: the variable `a` with
// fields b and c, or a variable named "a.b" with field c, or one named "a.b.c" (CEL's qualified
// identifiers). Candidates are tried in order; each names how many fields it consumes.
class QualifiedStep final : public Step {
 public:
  struct Candidate {
    std::string name;
    size_t consumed;
  };
  QualifiedStep(std::vector<Candidate> candidates, std::vector<std::string> fields,
                std::string root)
      : candidates_(std::move(candidates)), fields_(std::move(fields)), missing_(Undeclared(root)) {
    for (const Candidate& c : candidates_) {
      candidate_hashes_.push_back(Activation::HashName(c.name));
    }
    for (const std::string& field : fields_) {
      field_hashes_.push_back(Value::HashField(field));
      missing_fields_.push_back(NoSuchKey(field));
    }
  }
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    for (size_t i = 0; i < candidates_.size(); ++i) {
      const Candidate& c = candidates_[i];
      if (const Value* v = f.activation->Find(c.name, candidate_hashes_[i])) {
        return SelectPath(v, absl::MakeConstSpan(fields_).subspan(c.consumed),
                          absl::MakeConstSpan(field_hashes_).subspan(c.consumed),
                          absl::MakeConstSpan(missing_fields_).subspan(c.consumed), scratch);
      }
    }
    return missing_;
  }

 private:
  std::vector<Candidate> candidates_;
  std::vector<size_t> candidate_hashes_;
  std::vector<std::string> fields_;
  std::vector<size_t> field_hashes_;
  std::vector<Value> missing_fields_;
  Value missing_;
};

// ---- Selection and indexing
// -------------------------------------------------------------------------

class SelectStep final : public Step {
 public:
  SelectStep(StepPtr operand, std::string field)
      : operand_(std::move(operand)),
        field_(std::move(field)),
        hash_(Value::HashField(field_)),
        missing_(NoSuchKey(field_)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    const Value& v = operand_->Eval(f, scratch);
    if (v.kind() == Kind::kMap) {
      const Value* field = v.FindField(field_, hash_);
      if (field == nullptr) return missing_;
      if (&v == &scratch) return Own(scratch, *field);
      return *field;
    }
    if (v.IsError()) return v;
    return Store(scratch, NotSelectable(v, field_));
  }

 private:
  StepPtr operand_;
  std::string field_;
  size_t hash_;
  Value missing_;
};

// has(operand.field)
class HasStep final : public Step {
 public:
  HasStep(StepPtr operand, std::string field)
      : operand_(std::move(operand)), field_(std::move(field)), hash_(Value::HashField(field_)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    static const Value kTrue = Value::Bool(true);
    static const Value kFalse = Value::Bool(false);
    ++f.cost;
    const Value& v = operand_->Eval(f, scratch);
    if (v.kind() == Kind::kMap) return v.FindField(field_, hash_) != nullptr ? kTrue : kFalse;
    if (v.IsError()) return v;
    return Store(scratch, NotSelectable(v, field_));
  }

 private:
  StepPtr operand_;
  std::string field_;
  size_t hash_;
};

class IndexStep final : public Step {
 public:
  IndexStep(StepPtr operand, StepPtr index)
      : operand_(std::move(operand)), index_(std::move(index)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    const Value& container = operand_->Eval(f, scratch);
    if (container.IsError()) return container;
    Value index_tmp;
    const Value& index = index_->Eval(f, index_tmp);
    if (index.IsError()) return Own(scratch, index);
    if (container.kind() == Kind::kList) {
      int64_t i;
      switch (index.kind()) {
        case Kind::kInt:
          i = index.int_value();
          break;
        case Kind::kUint:
          i = index.uint_value() > static_cast<uint64_t>(INT64_MAX)
                  ? -1
                  : static_cast<int64_t>(index.uint_value());
          break;
        case Kind::kDouble: {
          double d = index.double_value();
          if (!(d == static_cast<double>(static_cast<int64_t>(d))) || d >= 9.3e18 || d < -9.3e18) {
            return Store(scratch,
                         Value::Error(absl::StatusCode::kInvalidArgument,
                                      absl::StrCat("invalid list index: ", index.DebugString())));
          }
          i = static_cast<int64_t>(d);
          break;
        }
        default:
          return Store(scratch, NoOverloadFor(container, index));
      }
      if (i < 0 || static_cast<uint64_t>(i) >= container.size()) {
        return Store(scratch, Value::Error(absl::StatusCode::kInvalidArgument,
                                           absl::StrCat("index out of range: ", i)));
      }
      const Value& e = container.element(static_cast<size_t>(i));
      return &container == &scratch ? Own(scratch, e) : e;
    }
    if (container.kind() == Kind::kMap) {
      const Value* v = container.Find(index);
      if (v == nullptr) {
        switch (index.kind()) {
          case Kind::kBool:
          case Kind::kInt:
          case Kind::kUint:
          case Kind::kDouble:
          case Kind::kString:
            return Store(scratch,
                         NoSuchKey(index.kind() == Kind::kString ? std::string(index.string_value())
                                                                 : index.DebugString()));
          default:
            return Store(scratch, Value::Error(absl::StatusCode::kInvalidArgument,
                                               absl::StrCat("unsupported key type: ",
                                                            runtime::KindName(index.kind()))));
        }
      }
      return &container == &scratch ? Own(scratch, *v) : *v;
    }
    return Store(scratch, NoOverloadFor(container, index));
  }

 private:
  static Value NoOverloadFor(const Value& container, const Value& index) {
    const Value* args[] = {&container, &index};
    return runtime::NoMatchingOverload("_[_]", args, 2);
  }
  StepPtr operand_;
  StepPtr index_;
};

// ---- Calls
// ------------------------------------------------------------------------------------------

template <int N>
class CallStep final : public Step {
 public:
  CallStep(runtime::FunctionImpl fn, std::array<StepPtr, N> args)
      : fn_(fn), args_(std::move(args)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    Value tmp[N];
    const Value* args[N];
    for (int i = 0; i < N; ++i) {
      args[i] = &args_[i]->Eval(f, tmp[i]);
      if (args[i]->IsError()) return Own(scratch, *args[i]);
    }
    return Store(scratch, fn_(f, args));
  }

 private:
  runtime::FunctionImpl fn_;
  std::array<StepPtr, N> args_;
};

class CallStepN final : public Step {
 public:
  CallStepN(runtime::FunctionImpl fn, std::vector<StepPtr> args)
      : fn_(fn), args_(std::move(args)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    std::vector<Value> tmp(args_.size());
    std::vector<const Value*> args(args_.size());
    for (size_t i = 0; i < args_.size(); ++i) {
      args[i] = &args_[i]->Eval(f, tmp[i]);
      if (args[i]->IsError()) return Own(scratch, *args[i]);
    }
    return Store(scratch, fn_(f, args.data()));
  }

 private:
  runtime::FunctionImpl fn_;
  std::vector<StepPtr> args_;
};

// `text.matches(pattern)` with a constant pattern, compiled once at plan time.
class MatchesStep final : public Step {
 public:
  MatchesStep(StepPtr text, std::unique_ptr<RE2> re) : text_(std::move(text)), re_(std::move(re)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    static const Value kTrue = Value::Bool(true);
    static const Value kFalse = Value::Bool(false);
    ++f.cost;
    const Value& text = text_->Eval(f, scratch);
    if (text.IsError()) return text;
    if (text.kind() != Kind::kString) return Store(scratch, NoOverload("matches"));
    f.Charge(static_cast<int64_t>(text.string_value().size()));
    return RE2::PartialMatch(
               re2::StringPiece(text.string_value().data(), text.string_value().size()), *re_)
               ? kTrue
               : kFalse;
  }

 private:
  StepPtr text_;
  std::unique_ptr<RE2> re_;
};

// ---- Logic
// ------------------------------------------------------------------------------------------

const Value& True() {
  static const Value kTrue = Value::Bool(true);
  return kTrue;
}
const Value& False() {
  static const Value kFalse = Value::Bool(false);
  return kFalse;
}

// `a && b` (is_and) or `a || b`: the absorbing value (false for &&, true for ||) wins on either
// side, even over an error; otherwise the left error, then the right one.
class LogicStep final : public Step {
 public:
  LogicStep(bool is_and, StepPtr lhs, StepPtr rhs)
      : is_and_(is_and), lhs_(std::move(lhs)), rhs_(std::move(rhs)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    const bool absorbing = !is_and_;
    const Value& l = lhs_->Eval(f, scratch);
    if (l.kind() == Kind::kBool && l.bool_value() == absorbing) return l;
    Value rtmp;
    const Value& r = rhs_->Eval(f, rtmp);
    if (r.kind() == Kind::kBool) {
      if (r.bool_value() == absorbing) return absorbing ? True() : False();
      if (l.kind() == Kind::kBool) return absorbing ? False() : True();
    }
    if (l.IsError()) return l;
    if (r.IsError()) return Own(scratch, r);
    return Store(scratch, NoOverload(is_and_ ? "_&&_" : "_||_"));
  }

 private:
  bool is_and_;
  StepPtr lhs_;
  StepPtr rhs_;
};

class NotStrictlyFalseStep final : public Step {
 public:
  explicit NotStrictlyFalseStep(StepPtr arg) : arg_(std::move(arg)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    const Value& v = arg_->Eval(f, scratch);
    return v.kind() == Kind::kBool && !v.bool_value() ? False() : True();
  }

 private:
  StepPtr arg_;
};

class TernaryStep final : public Step {
 public:
  TernaryStep(StepPtr cond, StepPtr yes, StepPtr no)
      : cond_(std::move(cond)), yes_(std::move(yes)), no_(std::move(no)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    const Value& c = cond_->Eval(f, scratch);
    if (c.kind() == Kind::kBool) {
      return c.bool_value() ? yes_->Eval(f, scratch) : no_->Eval(f, scratch);
    }
    if (c.IsError()) return c;
    return Store(scratch, NoOverload("_?_:_"));
  }

 private:
  StepPtr cond_;
  StepPtr yes_;
  StepPtr no_;
};

// ---- Aggregates
// -------------------------------------------------------------------------------------

class ListStep final : public Step {
 public:
  explicit ListStep(std::vector<StepPtr> elements) : elements_(std::move(elements)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    const int64_t n = static_cast<int64_t>(elements_.size());
    if (!f.Reserve(1, runtime::ListBytes(n))) return f.exhausted_error;
    std::vector<Value> values;
    values.reserve(elements_.size());
    for (const StepPtr& step : elements_) {
      Value tmp;
      const Value& v = step->Eval(f, tmp);
      if (v.IsError()) return Own(scratch, v);
      values.push_back(&v == &tmp ? std::move(tmp) : v);
    }
    return Store(scratch, Value::List(std::move(values)));
  }

 private:
  std::vector<StepPtr> elements_;
};

class MapStep final : public Step {
 public:
  explicit MapStep(std::vector<std::pair<StepPtr, StepPtr>> entries)
      : entries_(std::move(entries)) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    const int64_t n = static_cast<int64_t>(entries_.size());
    if (!f.Reserve(1, runtime::MapBytes(n))) return f.exhausted_error;
    std::vector<std::pair<Value, Value>> values;
    values.reserve(entries_.size());
    for (const auto& [key_step, value_step] : entries_) {
      Value ktmp, vtmp;
      const Value& k = key_step->Eval(f, ktmp);
      if (k.IsError()) return Own(scratch, k);
      const Value& v = value_step->Eval(f, vtmp);
      if (v.IsError()) return Own(scratch, v);
      values.emplace_back(&k == &ktmp ? std::move(ktmp) : k, &v == &vtmp ? std::move(vtmp) : v);
    }
    return Store(scratch, Value::Map(std::move(values)));
  }

 private:
  std::vector<std::pair<StepPtr, StepPtr>> entries_;
};

// ---- Comprehensions
// ---------------------------------------------------------------------------------

// `accu + [element]` inside a comprehension's loop step (the map and filter macros): appends in
// place when the accumulator holds the only reference to its list.
class AppendStep final : public Step {
 public:
  AppendStep(int accu_slot, StepPtr element, runtime::FunctionImpl add)
      : accu_slot_(accu_slot), element_(std::move(element)), add_(add) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    // The call, the accumulator and the list literal of the expanded macro; the list grows by one
    // element (reserved twice over: a vector's capacity doubles).
    if (!f.Reserve(3, runtime::ListBytes(2))) return f.exhausted_error;
    Value tmp;
    const Value& e = element_->Eval(f, tmp);
    if (e.IsError()) return Own(scratch, e);
    // The slot points at the comprehension's own mutable accumulator (see ComprehensionStep), which
    // it overwrites with this step's result right after.
    Value* accu = const_cast<Value*>(f.slots[accu_slot_]);
    if (accu->IsError()) return Own(scratch, *accu);
    if (accu->kind() != Kind::kList) {
      Value list = Value::List({&e == &tmp ? std::move(tmp) : e});
      const Value* args[] = {accu, &list};
      return Store(scratch, add_(f, args));
    }
    Value element = &e == &tmp ? std::move(tmp) : e;
    Value taken = std::move(*accu);
    return Store(scratch, Value::Append(std::move(taken), std::move(element)));
  }

 private:
  int accu_slot_;
  StepPtr element_;
  runtime::FunctionImpl add_;
};

// `cel.@mapInsert(accu, key, value)` and `cel.@mapInsert(accu, entries)` inside a comprehension's
// loop step (the transformMap and transformMapEntry macros): inserts in place when the accumulator
// holds the only reference to its map, as AppendStep does for lists.
class MapInsertStep final : public Step {
 public:
  // `key` is null for the two-argument form, whose `value` is a map of entries to add.
  MapInsertStep(int accu_slot, StepPtr key, StepPtr value, runtime::FunctionImpl generic)
      : accu_slot_(accu_slot), key_(std::move(key)), value_(std::move(value)), generic_(generic) {}
  const Value& Eval(Frame& f, Value& scratch) const override {
    // The call, the accumulator and the key of the expansion, and the new entry.
    if (!f.Reserve(key_ != nullptr ? 3 : 2, runtime::MapBytes(2))) return f.exhausted_error;
    // As in AppendStep, the slot points at the comprehension's own mutable accumulator.
    Value* accu = const_cast<Value*>(f.slots[accu_slot_]);
    if (accu->IsError()) return Own(scratch, *accu);
    Value ktmp, vtmp;
    const Value* key = nullptr;
    if (key_ != nullptr) {
      key = &key_->Eval(f, ktmp);
      if (key->IsError()) return Own(scratch, *key);
    }
    const Value& v = value_->Eval(f, vtmp);
    if (v.IsError()) return Own(scratch, v);
    if (accu->kind() != Kind::kMap || (key == nullptr && v.kind() != Kind::kMap)) {
      const Value* args[] = {accu, key != nullptr ? key : &v, &v};
      return Store(scratch, generic_(f, args));
    }
    Value taken = std::move(*accu);
    if (key == nullptr) return Store(scratch, runtime::MergeMaps(std::move(taken), v));
    return Store(scratch, Value::Insert(std::move(taken), *key, &v == &vtmp ? std::move(vtmp) : v));
  }

 private:
  int accu_slot_;
  StepPtr key_;
  StepPtr value_;
  runtime::FunctionImpl generic_;
};

class ComprehensionStep final : public Step {
 public:
  struct Parts {
    StepPtr range, init, condition, step, result;  // condition may be null (always true)
    int iter_slot = -1, iter2_slot = -1, accu_slot = -1;
  };
  explicit ComprehensionStep(Parts parts) : p_(std::move(parts)) {}

  const Value& Eval(Frame& f, Value& scratch) const override {
    ++f.cost;
    Value range_tmp;
    const Value& range = p_.range->Eval(f, range_tmp);
    if (range.IsError()) return Own(scratch, range);
    const bool is_list = range.kind() == Kind::kList;
    if (!is_list && range.kind() != Kind::kMap) {
      return Store(scratch, Value::Error(absl::StatusCode::kInvalidArgument,
                                         absl::StrCat("cannot iterate over a value of type '",
                                                      runtime::KindName(range.kind()), "'")));
    }
    Value accu;
    {
      Value init_tmp;
      const Value& init = p_.init->Eval(f, init_tmp);
      accu = &init == &init_tmp ? std::move(init_tmp) : init;
    }
    f.slots[p_.accu_slot] = &accu;
    Value index;  // the list index for two-variable comprehensions over lists
    const int64_t max_iterations = f.limits->max_iterations;
    const size_t n = range.size();
    for (size_t i = 0; i < n; ++i) {
      if (++f.iterations > max_iterations) f.Exhaust(Frame::Budget::kIterations);
      if (!f.Check()) return Own(scratch, f.exhausted_error);
      if (is_list) {
        if (p_.iter2_slot >= 0) {
          index = Value::Int(static_cast<int64_t>(i));
          f.slots[p_.iter_slot] = &index;
          f.slots[p_.iter2_slot] = &range.element(i);
        } else {
          f.slots[p_.iter_slot] = &range.element(i);
        }
      } else {
        f.slots[p_.iter_slot] = &range.map_key(i);
        if (p_.iter2_slot >= 0) f.slots[p_.iter2_slot] = &range.map_value(i);
      }
      if (p_.condition != nullptr) {
        Value ctmp;
        const Value& c = p_.condition->Eval(f, ctmp);
        if (c.kind() == Kind::kBool && !c.bool_value()) break;
      }
      Value stmp;
      const Value& s = p_.step->Eval(f, stmp);
      if (&s == &stmp) {
        accu = std::move(stmp);
      } else {
        Value copy = s;
        accu = std::move(copy);
      }
      if (f.exhausted) return Own(scratch, f.exhausted_error);
    }
    f.slots[p_.accu_slot] = &accu;
    const Value& r = p_.result->Eval(f, scratch);
    return Own(scratch, r);
  }

 private:
  Parts p_;
};

// ---- The plan
// ---------------------------------------------------------------------------------------

class PlanImpl final : public PlannedExpr {
 public:
  PlanImpl(StepPtr root, int slots) : root_(std::move(root)), slots_(slots) {}

  Value Evaluate(const Activation& activation, const Limits& limits, EvalStats* stats,
                 const Interrupt* interrupt) const override {
    Frame f;
    f.activation = &activation;
    f.limits = &limits;
    f.interrupt = interrupt;
    if (interrupt != nullptr) f.Poll();
    if (f.exhausted) return f.exhausted_error;
    constexpr int kInlineSlots = 16;
    const Value* inline_slots[kInlineSlots];
    std::unique_ptr<const Value*[]> heap_slots;
    if (slots_ > kInlineSlots) {
      heap_slots = std::make_unique<const Value*[]>(slots_);
      f.slots = heap_slots.get();
    } else {
      f.slots = inline_slots;
    }
    Value scratch;
    const Value& r = root_->Eval(f, scratch);
    f.Check();
    if (stats != nullptr) {
      stats->iterations = f.iterations;
      stats->cost = f.cost;
      stats->memory_bytes = f.memory;
    }
    if (f.exhausted) return f.exhausted_error;
    if (&r == &scratch) return scratch;
    return r;
  }

 private:
  StepPtr root_;
  int slots_;
};

bool IsBuiltinTypeName(absl::string_view name) {
  static const auto* const kNames =
      new absl::flat_hash_set<absl::string_view>{"int",
                                                 "uint",
                                                 "double",
                                                 "bool",
                                                 "string",
                                                 "bytes",
                                                 "list",
                                                 "map",
                                                 "null_type",
                                                 "type",
                                                 "google.protobuf.Timestamp",
                                                 "google.protobuf.Duration"};
  return kNames->contains(name);
}

// True when `e` mentions identifier `name` anywhere.
bool Mentions(const Expr& e, absl::string_view name) {
  if (e.kind == Expr::Kind::kIdent && e.name == name) return true;
  if (e.operand && Mentions(*e.operand, name)) return true;
  for (const ExprPtr& a : e.args) {
    if (a && Mentions(*a, name)) return true;
  }
  for (const Expr::Entry& entry : e.entries) {
    if (entry.key && Mentions(*entry.key, name)) return true;
    if (entry.value && Mentions(*entry.value, name)) return true;
  }
  for (const ExprPtr* p :
       {&e.iter_range, &e.accu_init, &e.loop_condition, &e.loop_step, &e.result}) {
    if (*p && Mentions(**p, name)) return true;
  }
  return false;
}

#define VARAV_ASSIGN_STEPS(var, exprs)                            \
  absl::StatusOr<std::vector<StepPtr>> var##_or = PlanAll(exprs); \
  if (!var##_or.ok()) return var##_or.status();                   \
  std::vector<StepPtr> var = *std::move(var##_or)

#define VARAV_ASSIGN_STEP(lhs, expr)                  \
  do {                                                \
    absl::StatusOr<StepPtr> step_or = PlanExpr(expr); \
    if (!step_or.ok()) return step_or.status();       \
    lhs = *std::move(step_or);                        \
  } while (0)

class Planner {
 public:
  Planner(const CheckResult* checked, const CompileOptions& options)
      : checked_(checked), options_(options) {}

  absl::StatusOr<StepPtr> PlanExpr(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kConstant:
        return StepPtr(new ConstStep(ConstantValue(e.constant)));
      case Expr::Kind::kIdent:
        return PlanIdent(e);
      case Expr::Kind::kSelect:
        return PlanSelect(e);
      case Expr::Kind::kCall:
        return PlanCall(e);
      case Expr::Kind::kList:
        return PlanList(e);
      case Expr::Kind::kMap:
        return PlanMap(e);
      case Expr::Kind::kStruct:
        return StepPtr(new ConstStep(
            Value::Error(absl::StatusCode::kUnimplemented,
                         absl::StrCat("message construction is not supported: ", e.name))));
      case Expr::Kind::kComprehension:
        return PlanComprehension(e);
    }
    return absl::InternalError("unknown expression kind");
  }

  int slots() const { return next_slot_; }

 private:
  static Value ConstantValue(const Constant& c) {
    struct Visitor {
      Value operator()(const NullLiteral&) const { return Value::Null(); }
      Value operator()(bool b) const { return Value::Bool(b); }
      Value operator()(int64_t i) const { return Value::Int(i); }
      Value operator()(uint64_t u) const { return Value::Uint(u); }
      Value operator()(double d) const { return Value::Double(d); }
      Value operator()(const std::string& s) const { return Value::String(s); }
      Value operator()(const Bytes& b) const { return Value::Bytes(b.value); }
    };
    return std::visit(Visitor{}, c);
  }

  int FindScope(absl::string_view name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      if (it->first == name) return it->second;
    }
    return -1;
  }

  const std::string* Reference(ExprId id) const {
    if (checked_ == nullptr) return nullptr;
    auto it = checked_->references.find(id);
    return it == checked_->references.end() ? nullptr : &it->second;
  }

  bool IsTypeNode(ExprId id) const {
    if (checked_ == nullptr) return false;
    auto it = checked_->types.find(id);
    return it != checked_->types.end() && it->second.kind() == Type::Kind::kType;
  }

  StepPtr VariableOrType(const std::string& name, bool is_type) {
    if (is_type || IsBuiltinTypeName(name)) {
      return StepPtr(new TypeIdentStep(name, Value::Type(name)));
    }
    return StepPtr(new VarStep(name));
  }

  // Names to try for `root.fields...` in the activation (see QualifiedStep).
  std::vector<QualifiedStep::Candidate> Candidates(const std::string& root,
                                                   const std::vector<std::string>& fields) {
    std::vector<std::string> prefixes;
    std::string container = options_.container;
    while (!container.empty()) {
      prefixes.push_back(container + ".");
      size_t dot = container.rfind('.');
      container = dot == std::string::npos ? "" : container.substr(0, dot);
    }
    std::vector<std::string> qualified = {root};
    for (const std::string& field : fields) qualified.push_back(qualified.back() + "." + field);
    std::vector<QualifiedStep::Candidate> out;
    for (const std::string& prefix : prefixes) {
      for (size_t k = qualified.size(); k-- > 0;) out.push_back({prefix + qualified[k], k});
    }
    out.push_back({root, 0});
    for (size_t k = qualified.size(); k-- > 1;) out.push_back({qualified[k], k});
    return out;
  }

  absl::StatusOr<StepPtr> PlanIdent(const Expr& e) {
    int slot = FindScope(e.name);
    if (slot >= 0) return StepPtr(new SlotStep(slot));
    if (const std::string* ref = Reference(e.id)) return VariableOrType(*ref, IsTypeNode(e.id));
    if (IsBuiltinTypeName(e.name)) return VariableOrType(e.name, true);
    if (options_.container.empty()) return StepPtr(new VarStep(e.name));
    return StepPtr(new QualifiedStep(Candidates(e.name, {}), {}, e.name));
  }

  // For `a.b.c` made of identifiers only (no comprehension variable at the root): the root and the
  // selected fields.
  bool DottedName(const Expr& e, std::string* root, std::vector<std::string>* fields) {
    std::vector<std::string> reversed;
    const Expr* cur = &e;
    while (cur->kind == Expr::Kind::kSelect && !cur->test_only) {
      reversed.push_back(cur->name);
      cur = cur->operand.get();
      if (cur == nullptr) return false;
    }
    if (cur->kind != Expr::Kind::kIdent || FindScope(cur->name) >= 0) return false;
    *root = cur->name;
    fields->assign(reversed.rbegin(), reversed.rend());
    return true;
  }

  absl::StatusOr<StepPtr> PlanSelect(const Expr& e) {
    if (e.operand == nullptr) return absl::InternalError("select without operand");
    if (!e.test_only) {
      if (const std::string* ref = Reference(e.id)) return VariableOrType(*ref, IsTypeNode(e.id));
      std::string root;
      std::vector<std::string> fields;
      if (checked_ == nullptr && DottedName(e, &root, &fields)) {
        if (IsBuiltinTypeName(root + "." + absl::StrJoin(fields, "."))) {
          return VariableOrType(root + "." + absl::StrJoin(fields, "."), true);
        }
        auto candidates = Candidates(root, fields);
        return StepPtr(new QualifiedStep(std::move(candidates), std::move(fields), root));
      }
    }
    absl::StatusOr<StepPtr> operand = PlanExpr(*e.operand);
    if (!operand.ok()) return operand.status();
    if (e.test_only) return StepPtr(new HasStep(*std::move(operand), e.name));
    return StepPtr(new SelectStep(*std::move(operand), e.name));
  }

  absl::StatusOr<std::vector<StepPtr>> PlanAll(const std::vector<const Expr*>& exprs) {
    std::vector<StepPtr> steps;
    for (const Expr* a : exprs) {
      if (a == nullptr) return absl::InternalError("missing argument");
      absl::StatusOr<StepPtr> s = PlanExpr(*a);
      if (!s.ok()) return s.status();
      steps.push_back(*std::move(s));
    }
    return steps;
  }

  // The function a receiver call such as `strings.quote(x)` names, when the receiver is a dotted
  // name rather than a value.
  std::string QualifiedFunction(const Expr& e) {
    std::string root;
    std::vector<std::string> fields;
    if (!DottedName(*e.operand, &root, &fields)) return "";
    if (Reference(e.operand->id) != nullptr) return "";
    std::string name = root;
    for (const std::string& f : fields) absl::StrAppend(&name, ".", f);
    absl::StrAppend(&name, ".", e.name);
    if (runtime::FindFunctionImpl(name, static_cast<int>(e.args.size())) == nullptr) return "";
    return name;
  }

  absl::StatusOr<StepPtr> PlanCall(const Expr& e) {
    const std::string& name = e.name;
    std::vector<const Expr*> arg_exprs;
    std::string function = name;
    if (e.operand != nullptr) {
      std::string qualified = QualifiedFunction(e);
      if (!qualified.empty()) {
        function = qualified;
      } else {
        arg_exprs.push_back(e.operand.get());
      }
    }
    for (const ExprPtr& a : e.args) arg_exprs.push_back(a.get());
    const size_t n = arg_exprs.size();

    if (e.operand == nullptr) {
      if ((name == op::kLogicalAnd || name == op::kLogicalOr) && n == 2) {
        VARAV_ASSIGN_STEPS(steps, arg_exprs);
        return StepPtr(
            new LogicStep(name == op::kLogicalAnd, std::move(steps[0]), std::move(steps[1])));
      }
      if (name == op::kConditional && n == 3) {
        VARAV_ASSIGN_STEPS(steps, arg_exprs);
        return StepPtr(
            new TernaryStep(std::move(steps[0]), std::move(steps[1]), std::move(steps[2])));
      }
      if (name == op::kIndex && n == 2) {
        VARAV_ASSIGN_STEPS(steps, arg_exprs);
        return StepPtr(new IndexStep(std::move(steps[0]), std::move(steps[1])));
      }
      if (name == op::kNotStrictlyFalse && n == 1) {
        VARAV_ASSIGN_STEPS(steps, arg_exprs);
        return StepPtr(new NotStrictlyFalseStep(std::move(steps[0])));
      }
    }

    if (function == "matches" && n == 2 && arg_exprs[1]->kind == Expr::Kind::kConstant &&
        std::holds_alternative<std::string>(arg_exprs[1]->constant)) {
      RE2::Options re_options;
      re_options.set_log_errors(false);
      auto re = std::make_unique<RE2>(std::get<std::string>(arg_exprs[1]->constant), re_options);
      if (re->ok()) {
        absl::StatusOr<StepPtr> text = PlanExpr(*arg_exprs[0]);
        if (!text.ok()) return text.status();
        return StepPtr(new MatchesStep(*std::move(text), std::move(re)));
      }
      // An invalid pattern falls through to the dynamic path, which reports it as an error value.
    }

    runtime::FunctionImpl fn = runtime::FindFunctionImpl(function, static_cast<int>(n));
    if (fn == nullptr) {
      bool other_arity = false;
      for (int k = 0; k <= 4 && !other_arity; ++k) {
        other_arity = runtime::FindFunctionImpl(function, k) != nullptr;
      }
      return StepPtr(new ConstStep(Value::Error(
          absl::StatusCode::kInvalidArgument,
          other_arity
              ? absl::StrCat("no matching overload for '", function, "' with ", n, " argument(s)")
              : absl::StrCat("unbound function '", function, "'"))));
    }
    VARAV_ASSIGN_STEPS(steps, arg_exprs);
    bool all_constant = true;
    for (const StepPtr& s : steps) all_constant = all_constant && s->constant() != nullptr;
    StepPtr call;
    switch (n) {
      case 1:
        call.reset(new CallStep<1>(fn, {std::move(steps[0])}));
        break;
      case 2:
        call.reset(new CallStep<2>(fn, {std::move(steps[0]), std::move(steps[1])}));
        break;
      case 3:
        call.reset(
            new CallStep<3>(fn, {std::move(steps[0]), std::move(steps[1]), std::move(steps[2])}));
        break;
      default:
        call.reset(new CallStepN(fn, std::move(steps)));
    }
    if (all_constant && function != "dyn") return Fold(*call);
    return call;
  }

  // Evaluates a step whose inputs are all constants once, at plan time, within the budgets the
  // expression will run under (a folded constant costs nothing at run time).
  StepPtr Fold(const Step& step) const {
    Activation empty;
    Frame f;
    f.activation = &empty;
    f.limits = &options_.limits;
    Value scratch;
    const Value& r = step.Eval(f, scratch);
    Value result = r;
    return StepPtr(new ConstStep(std::move(result)));
  }

  absl::StatusOr<StepPtr> PlanList(const Expr& e) {
    std::vector<const Expr*> exprs;
    for (const ExprPtr& a : e.args) exprs.push_back(a.get());
    VARAV_ASSIGN_STEPS(steps, exprs);
    bool all_constant = true;
    for (const StepPtr& s : steps) all_constant = all_constant && s->constant() != nullptr;
    ListStep list(std::move(steps));
    if (all_constant) return Fold(list);
    return StepPtr(new ListStep(std::move(list)));
  }

  absl::StatusOr<StepPtr> PlanMap(const Expr& e) {
    std::vector<std::pair<StepPtr, StepPtr>> entries;
    bool all_constant = true;
    for (const Expr::Entry& entry : e.entries) {
      if (entry.optional) {
        return StepPtr(new ConstStep(Value::Error(absl::StatusCode::kUnimplemented,
                                                  "optional map entries are not supported")));
      }
      if (entry.key == nullptr || entry.value == nullptr) {
        return absl::InternalError("map entry without key or value");
      }
      absl::StatusOr<StepPtr> k = PlanExpr(*entry.key);
      if (!k.ok()) return k.status();
      absl::StatusOr<StepPtr> v = PlanExpr(*entry.value);
      if (!v.ok()) return v.status();
      all_constant = all_constant && (*k)->constant() != nullptr && (*v)->constant() != nullptr;
      entries.emplace_back(*std::move(k), *std::move(v));
    }
    MapStep map(std::move(entries));
    if (all_constant) return Fold(map);
    return StepPtr(new MapStep(std::move(map)));
  }

  // `accu + [elem]` where accu is the comprehension's accumulator.
  bool IsAppend(const Expr& e, const std::string& accu) {
    return e.kind == Expr::Kind::kCall && e.operand == nullptr && e.name == op::kAdd &&
           e.args.size() == 2 && e.args[0]->kind == Expr::Kind::kIdent && e.args[0]->name == accu &&
           e.args[1]->kind == Expr::Kind::kList && e.args[1]->args.size() == 1 &&
           !Mentions(*e.args[1], accu);
  }

  absl::StatusOr<StepPtr> PlanAppend(const Expr& e, int accu_slot) {
    absl::StatusOr<StepPtr> element = PlanExpr(*e.args[1]->args[0]);
    if (!element.ok()) return element.status();
    return StepPtr(
        new AppendStep(accu_slot, *std::move(element), runtime::FindFunctionImpl("_+_", 2)));
  }

  // `cel.@mapInsert(accu, ...)` where accu is the comprehension's accumulator.
  bool IsMapInsert(const Expr& e, const std::string& accu) {
    if (e.kind != Expr::Kind::kCall || e.operand != nullptr || e.name != op::kMapInsert ||
        (e.args.size() != 2 && e.args.size() != 3) || e.args[0]->kind != Expr::Kind::kIdent ||
        e.args[0]->name != accu) {
      return false;
    }
    for (size_t i = 1; i < e.args.size(); ++i) {
      if (Mentions(*e.args[i], accu)) return false;
    }
    return true;
  }

  absl::StatusOr<StepPtr> PlanMapInsert(const Expr& e, int accu_slot) {
    StepPtr key;
    if (e.args.size() == 3) VARAV_ASSIGN_STEP(key, *e.args[1]);
    StepPtr value;
    VARAV_ASSIGN_STEP(value, *e.args.back());
    return StepPtr(new MapInsertStep(
        accu_slot, std::move(key), std::move(value),
        runtime::FindFunctionImpl(op::kMapInsert, static_cast<int>(e.args.size()))));
  }

  // Plans the accumulating steps in place (see AppendStep and MapInsertStep); null for others.
  absl::StatusOr<StepPtr> PlanAccumulate(const Expr& e, const std::string& accu, int accu_slot) {
    if (IsAppend(e, accu)) return PlanAppend(e, accu_slot);
    if (IsMapInsert(e, accu)) return PlanMapInsert(e, accu_slot);
    return StepPtr();
  }

  absl::StatusOr<StepPtr> PlanLoopStep(const Expr& e, const std::string& accu, int accu_slot) {
    {
      absl::StatusOr<StepPtr> step = PlanAccumulate(e, accu, accu_slot);
      if (!step.ok() || *step != nullptr) return step;
    }
    // `filter ? <accumulate> : accu`
    if (e.kind == Expr::Kind::kCall && e.operand == nullptr && e.name == op::kConditional &&
        e.args.size() == 3 && !Mentions(*e.args[0], accu) &&
        (IsAppend(*e.args[1], accu) || IsMapInsert(*e.args[1], accu)) &&
        e.args[2]->kind == Expr::Kind::kIdent && e.args[2]->name == accu) {
      absl::StatusOr<StepPtr> cond = PlanExpr(*e.args[0]);
      if (!cond.ok()) return cond.status();
      absl::StatusOr<StepPtr> step = PlanAccumulate(*e.args[1], accu, accu_slot);
      if (!step.ok()) return step.status();
      return StepPtr(
          new TernaryStep(*std::move(cond), *std::move(step), StepPtr(new SlotStep(accu_slot))));
    }
    return PlanExpr(e);
  }

  absl::StatusOr<StepPtr> PlanComprehension(const Expr& e) {
    if (!e.iter_range || !e.accu_init || !e.loop_step || !e.result) {
      return absl::InternalError("incomplete comprehension");
    }
    ComprehensionStep::Parts parts;
    VARAV_ASSIGN_STEP(parts.range, *e.iter_range);
    VARAV_ASSIGN_STEP(parts.init, *e.accu_init);
    parts.accu_slot = next_slot_++;
    scopes_.emplace_back(e.accu_var, parts.accu_slot);
    parts.iter_slot = next_slot_++;
    scopes_.emplace_back(e.iter_var, parts.iter_slot);
    if (!e.iter_var2.empty()) {
      parts.iter2_slot = next_slot_++;
      scopes_.emplace_back(e.iter_var2, parts.iter2_slot);
    }
    if (e.loop_condition) {
      VARAV_ASSIGN_STEP(parts.condition, *e.loop_condition);
      const Value* c = parts.condition->constant();
      if (c != nullptr && c->kind() == Kind::kBool && c->bool_value()) parts.condition.reset();
    }
    {
      absl::StatusOr<StepPtr> step = PlanLoopStep(*e.loop_step, e.accu_var, parts.accu_slot);
      if (!step.ok()) return step.status();
      parts.step = *std::move(step);
    }
    scopes_.pop_back();
    if (!e.iter_var2.empty()) scopes_.pop_back();
    VARAV_ASSIGN_STEP(parts.result, *e.result);
    scopes_.pop_back();
    return StepPtr(new ComprehensionStep(std::move(parts)));
  }

  const CheckResult* checked_;
  const CompileOptions& options_;
  std::vector<std::pair<std::string, int>> scopes_;
  int next_slot_ = 0;
};

#undef VARAV_ASSIGN_STEPS
#undef VARAV_ASSIGN_STEP

}  // namespace

absl::StatusOr<std::unique_ptr<const PlannedExpr>> Plan(const Ast& ast, const CheckResult* checked,
                                                        const CompileOptions& options) {
  if (ast.root == nullptr) return absl::InvalidArgumentError("empty syntax tree");
  Planner planner(checked, options);
  absl::StatusOr<StepPtr> root = planner.PlanExpr(*ast.root);
  if (!root.ok()) return root.status();
  return std::unique_ptr<const PlannedExpr>(new PlanImpl(*std::move(root), planner.slots()));
}

}  // namespace varav::cel
