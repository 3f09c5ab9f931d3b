// Test support: gMock matchers for absl::Status and absl::StatusOr<T>, shared by every suite.
//
//   EXPECT_THAT(store->Commit(m), IsOk());
//   EXPECT_THAT(governance.Advance(p, req), StatusIs(absl::StatusCode::kAborted, "etag"));
//   EXPECT_THAT(s, StatusIs(absl::StatusCode::kDataLoss, AllOf(HasSubstr("2"),
//   HasSubstr("hash"))));
//
// StatusIs(code, message) matches the code exactly; `message` is either text that the status
// message must contain, or any string matcher. Both print the status on a mismatch.
//
// Thread safety: stateless.
#pragma once

#include <string>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gmock/gmock.h"

namespace varav::testing {
namespace status_matchers_internal {

inline const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}

// Text: the message contains it.
template <typename M, std::enable_if_t<std::is_convertible_v<const M&, absl::string_view>, int> = 0>
bool MessageMatches(const M& text, const std::string& message, ::testing::MatchResultListener*) {
  return absl::StrContains(message, absl::string_view(text));
}
// A matcher: the message matches it.
template <typename M,
          std::enable_if_t<!std::is_convertible_v<const M&, absl::string_view>, int> = 0>
bool MessageMatches(const M& matcher, const std::string& message,
                    ::testing::MatchResultListener* listener) {
  return ::testing::ExplainMatchResult(matcher, message, listener);
}

}  // namespace status_matchers_internal

MATCHER(IsOk, "is OK") {
  const absl::Status& s = status_matchers_internal::StatusOf(arg);
  *result_listener << s.ToString();
  return s.ok();
}

MATCHER_P2(StatusIs, code, message, absl::StrCat("has code ", absl::StatusCodeToString(code))) {
  const absl::Status& s = status_matchers_internal::StatusOf(arg);
  *result_listener << s.ToString();
  return s.code() == code && status_matchers_internal::MessageMatches(
                                 message, std::string(s.message()), result_listener);
}

}  // namespace varav::testing
