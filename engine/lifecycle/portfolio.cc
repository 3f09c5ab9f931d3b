#include "engine/lifecycle/portfolio.h"

#include "absl/strings/str_cat.h"

namespace varav::lifecycle {

bool ReadyForReview(const v1::Service& service) {
  return service.has_latest_evaluation() && service.latest_evaluation().ready() &&
         !service.latest_evaluation().stale();
}

std::string StatusTerm(v1::ServiceStatus status) {
  const std::string& name = v1::ServiceStatus_Name(status);
  return name.empty() ? absl::StrCat(static_cast<int>(status)) : name;
}

std::vector<PortfolioTerm> PortfolioTerms(const v1::Service& service) {
  std::vector<PortfolioTerm> terms;
  terms.reserve(4 + service.awaiting_panels_size());
  if (!service.agency().empty()) terms.push_back({std::string(kTermAgency), service.agency()});
  if (!service.stage().empty()) terms.push_back({std::string(kTermStage), service.stage()});
  terms.push_back({std::string(kTermStatus), StatusTerm(service.status())});
  terms.push_back({std::string(kTermReady), ReadyTerm(ReadyForReview(service))});
  for (const std::string& panel : service.awaiting_panels()) {
    terms.push_back({std::string(kTermAwaiting), panel});
  }
  return terms;
}

}  // namespace varav::lifecycle
