// Status propagation helpers.
//
// Debian's Abseil (20220623) ships no RETURN_IF_ERROR / ASSIGN_OR_RETURN, so Värav carries its own.
// They only propagate: they never log, so the caller that finally handles the status decides.
//
//   VARAV_RETURN_IF_ERROR(store.Write(batch));
//   VARAV_ASSIGN_OR_RETURN(auto pack, LoadPack(path));
//
// Thread safety: macros only; no state.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define VARAV_STATUS_CONCAT_INNER_(a, b) a##b
#define VARAV_STATUS_CONCAT_(a, b) VARAV_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function when not OK.
#define VARAV_RETURN_IF_ERROR(expr)                \
  do {                                             \
    ::absl::Status varav_status_ = (expr);         \
    if (!varav_status_.ok()) return varav_status_; \
  } while (false)

// Evaluates `rexpr` (an absl::StatusOr<T>); returns its status when not OK, otherwise moves the
// value into `lhs` (which may be a declaration such as `auto x`).
#define VARAV_ASSIGN_OR_RETURN(lhs, rexpr) \
  VARAV_ASSIGN_OR_RETURN_IMPL_(VARAV_STATUS_CONCAT_(varav_statusor_, __LINE__), lhs, rexpr)

#define VARAV_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()
