// Internal to the CEL runtime (planner.cc and the standard library): the evaluation frame, the
// function table and the value formatting shared by string conversion, `format` and DebugString.
//
// Every standard function is a plain function pointer taking its already-evaluated, non-error
// arguments; it dispatches on the argument kinds itself and returns an error value ("no matching
// overload") for kinds it does not accept. Functions are looked up by name and argument count once,
// at plan time.
//
// Thread safety: the function table is built once and immutable; a Frame belongs to one evaluation.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "engine/cel/cel.h"
#include "engine/cel/value.h"

namespace varav::cel::runtime {

// Per-evaluation state. Lives on the stack of PlannedExpr::Evaluate.
struct Frame {
  // How often (in cost units) Poll looks at the interrupt: often enough to stop within
  // microseconds, rarely enough that reading the clock costs nothing measurable.
  static constexpr int64_t kPollInterval = 4096;

  const Activation* activation = nullptr;
  const Limits* limits = nullptr;
  // Null when nothing may interrupt the evaluation.
  const Interrupt* interrupt = nullptr;
  int64_t cost = 0;
  int64_t iterations = 0;
  // Bytes reserved for values this evaluation built (see Limits::max_memory_bytes); a refused
  // reservation is not counted, since it is never allocated.
  int64_t memory = 0;
  // The cost at which Poll runs next.
  int64_t next_poll = kPollInterval;
  // Set once a budget is exceeded or the evaluation is interrupted: loops stop at once and the
  // whole evaluation yields `exhausted_error` (which `false && ...` must not absorb).
  bool exhausted = false;
  Value exhausted_error;
  // Comprehension variables, indexed by the slot the planner assigned.
  const Value** slots = nullptr;

  enum class Budget { kIterations, kCost, kMemory, kDeadline, kCancelled };

  // Adds `units` to the runtime cost; returns false (and marks the frame exhausted) when the budget
  // is exceeded or the evaluation has been interrupted.
  bool Charge(int64_t units) {
    cost += units;
    if (cost > limits->max_runtime_cost) {
      if (!exhausted) Exhaust(Budget::kCost);
    } else if (cost >= next_poll) {
      Poll();
    }
    return !exhausted;
  }
  // Charge for work about to build a value of `bytes`: both budgets are checked before the
  // allocation, so a refused one never happens.
  bool Reserve(int64_t units, int64_t bytes) {
    if (bytes > limits->max_memory_bytes - memory) {
      Exhaust(Budget::kMemory);
      return false;
    }
    memory += bytes;
    return Charge(units);
  }
  // Checks the budgets and the interrupt without charging anything.
  bool Check() { return Charge(0); }
  void Poll();
  void Exhaust(Budget budget);
};

// Saturating size arithmetic for charges: results stay at or below Value::kMaxDeepSize, so a
// charge computed from hostile sizes never overflows.
inline int64_t SatAdd(int64_t a, int64_t b) {
  return a >= Value::kMaxDeepSize - b ? Value::kMaxDeepSize : a + b;
}
inline int64_t SatMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > Value::kMaxDeepSize / b ? Value::kMaxDeepSize : a * b;
}
// Bytes a list of `n` elements takes, and a map of `n` entries (with its index).
inline int64_t ListBytes(int64_t n) { return SatMul(n, sizeof(Value)); }
inline int64_t MapBytes(int64_t n) { return SatMul(n, 2 * sizeof(Value) + 16); }
// Bytes a string of `n` bytes takes as its own value.
inline int64_t StringBytes(int64_t n) { return SatAdd(n, 48); }

using FunctionImpl = Value (*)(Frame& frame, const Value* const* args);

// The implementation of `name` with `arity` arguments (a receiver counts as the first argument), or
// nullptr. Receiver-style and global calls share one table, as in cel-go's dynamic dispatch.
FunctionImpl FindFunctionImpl(absl::string_view name, int arity);

// Registration used by the library's translation units.
void RegisterFunction(absl::string_view name, int arity, FunctionImpl impl);
void RegisterCoreFunctions();    // functions.cc
void RegisterStringFunctions();  // strings_ext.cc
void RegisterTimeFunctions();    // time_functions.cc

// `target` with every entry of the map `update` added (the `transformMapEntry` step); an error
// value if a key of `update` is already in `target`. Both must be maps; `target`'s storage is
// reused when it holds the only reference (see Value::Insert).
Value MergeMaps(Value target, const Value& update);

// Errors.
Value NoMatchingOverload(absl::string_view function, const Value* const* args, int arity);
const char* KindName(Value::Kind kind);

// -1, 0 or 1 comparing numbers of any numeric kinds exactly; 2 when unordered (NaN).
int CompareNumbers(const Value& a, const Value& b);

// CEL type name of a value ("int", "list", "google.protobuf.Timestamp", ...).
absl::string_view TypeNameOf(const Value& v);

// Formatting as string() renders values: doubles as Go's %g shortest form ("1", "0.0045",
// "1e+06"), durations as seconds ("1.5s"), timestamps as RFC 3339 in UTC with trailing zeros of the
// fraction dropped.
std::string FormatCelDouble(double d);
std::string FormatCelDuration(absl::Duration d);
std::string FormatCelTimestamp(absl::Time t);

// Parses Go-style durations ("1h2m3.5s", "-1.5s", "300ms") exactly; false when malformed.
bool ParseCelDuration(absl::string_view text, absl::Duration* out);

// Number of Unicode code points in UTF-8 text.
int64_t CodePointCount(absl::string_view s);
// Whether `s` is valid UTF-8.
bool IsValidUtf8(absl::string_view s);

}  // namespace varav::cel::runtime
