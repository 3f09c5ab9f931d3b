// The audit trail end to end: events written through the store verify, and a tampered event is
// reported by VerifyAuditTrail (the application layer behind the RPC) with where and why.
#include "engine/model/pack.h"
#include "engine/store/event_chain.h"
#include "engine/store/layout.h"
#include "services/governance/governance.h"
#include "tests/services/events/event_test_util.h"
#include "tests/status_matchers.h"

namespace varav::governance {
namespace {

using events::testing::EventWriter;
using events::testing::TempDir;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::varav::testing::IsOk;

Principal Reader() {
  return Principal{.id = "auditor", .roles = {Role{.kind = RoleKind::kReader}}};
}

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto opened = store::Store::Open({.path = dir_.path("db"), .sync = false});
    ASSERT_THAT(opened, IsOk());
    store_ = std::move(opened).value();
    governance_ = std::make_unique<Governance>(store_.get(), &registry_);
  }
  void Close() {
    governance_.reset();
    store_.reset();
  }

  absl::StatusOr<v1::VerifyAuditTrailResponse> Verify(absl::string_view service) {
    v1::VerifyAuditTrailRequest request;
    request.set_service_id(std::string(service));
    return governance_->VerifyAuditTrail(request, Reader());
  }

  // Rewrites the stored event at `global_sequence` with `edit` applied, as an attacker with disk
  // access would (the store is closed meanwhile).
  void Tamper(uint64_t global_sequence, const std::function<void(v1::Event&)>& edit) {
    Close();
    {
      auto raw = store::testing::RawDb::Open(dir_.path("db"));
      ASSERT_NE(raw, nullptr);
      std::string bytes;
      const std::string key = store::GlobalEventKey(global_sequence);
      ASSERT_TRUE(raw->db()->Get({}, raw->cf(store::kEventsCf), key, &bytes).ok());
      v1::Event event;
      ASSERT_TRUE(event.ParseFromString(bytes));
      edit(event);
      ASSERT_TRUE(
          raw->db()->Put({}, raw->cf(store::kEventsCf), key, event.SerializeAsString()).ok());
    }
    Open();
  }

  TempDir dir_{"audit"};
  model::PackRegistry registry_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<governance::Governance> governance_;
};

TEST_F(AuditTest, IntactChainVerifies) {
  EventWriter writer(store_.get());
  writer.Register("chain", "ria");
  for (int i = 0; i < 5; ++i) writer.Advance("chain");
  auto verified = Verify("chain");
  ASSERT_THAT(verified, IsOk());
  EXPECT_TRUE(verified->valid());
  EXPECT_EQ(verified->event_count(), 6u);
  EXPECT_EQ(verified->head_hash(), store_->ReadServiceEvents("chain", 5, 1)->at(0).hash());
  EXPECT_TRUE(verified->problem().empty());
}

TEST_F(AuditTest, EditedEventFailsVerificationAndSaysWhere) {
  EventWriter writer(store_.get());
  writer.Register("chain", "ria");
  writer.Register("other", "ria");
  for (int i = 0; i < 5; ++i) writer.Advance("chain");
  // Global 4 is the chain's third event (global 1 registered it, global 2 is "other").
  Tamper(4, [](v1::Event& e) { e.set_principal("someone-else"); });

  auto verified = Verify("chain");
  ASSERT_THAT(verified, IsOk());
  EXPECT_FALSE(verified->valid());
  EXPECT_THAT(verified->problem(),
              AllOf(HasSubstr("'chain'"), HasSubstr("service_sequence 3"), HasSubstr("hash")));
  // The other service's chain is untouched.
  auto other = Verify("other");
  ASSERT_THAT(other, IsOk());
  EXPECT_TRUE(other->valid());
}

TEST_F(AuditTest, EventWhoseHashWasRecomputedStillBreaksTheLinkToItsSuccessor) {
  EventWriter writer(store_.get());
  writer.Register("chain", "ria");
  for (int i = 0; i < 4; ++i) writer.Advance("chain");
  // A careful forger also recomputes the edited event's hash; the next event's prev_hash
  // still names the original.
  Tamper(2, [](v1::Event& e) {
    e.set_principal("forger");
    e.set_hash(store::ComputeEventHash(e));
  });

  auto verified = Verify("chain");
  ASSERT_THAT(verified, IsOk());
  EXPECT_FALSE(verified->valid());
  EXPECT_THAT(verified->problem(), AllOf(HasSubstr("service_sequence 3"), HasSubstr("prev")));
}

}  // namespace
}  // namespace varav::governance
