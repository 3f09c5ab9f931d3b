// The portfolio view of a service: the terms it is listed and filtered by (its agency, stage,
// status, whether its gate is ready for review, and the panels it awaits). The store indexes a
// service by exactly these terms (store::StoreOptions::index_terms), and ListServices turns its
// filters into the same attributes and values, so a listing by any combination of them is one
// index scan.
//
//   for (const PortfolioTerm& t : PortfolioTerms(service)) ...   // {"stage", "envision"}, ...
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "varav/v1/resources.pb.h"

namespace varav::lifecycle {

// Attribute names of the portfolio terms.
inline constexpr absl::string_view kTermAgency = "agency";
inline constexpr absl::string_view kTermStage = "stage";
inline constexpr absl::string_view kTermStatus = "status";
inline constexpr absl::string_view kTermReady = "ready";
inline constexpr absl::string_view kTermAwaiting = "awaiting";

struct PortfolioTerm {
  std::string attribute;
  std::string value;
};

// Whether the service's gate is ready for review: its latest evaluation found every enforced must
// rule passing and no newer evidence has made it stale.
bool ReadyForReview(const v1::Service& service);

// The value of the status term: the ServiceStatus enum name, e.g. "SERVICE_STATUS_IN_REVIEW".
std::string StatusTerm(v1::ServiceStatus status);
// The value of the ready term: "1" or "0".
inline std::string ReadyTerm(bool ready) { return ready ? "1" : "0"; }

// Every term of `service`: one each for agency, stage, status and ready, one per awaited panel.
std::vector<PortfolioTerm> PortfolioTerms(const v1::Service& service);

}  // namespace varav::lifecycle
