#include "services/governance/snapshot_cache.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "services/governance/snapshot.h"

namespace varav::governance {
namespace {

CachedSnapshot At(const std::string& id, const std::string& etag) {
  CachedSnapshot s;
  s.snapshot.service.set_id(id);
  s.snapshot.service.set_etag(etag);
  s.snapshot.service.set_status(v1::SERVICE_STATUS_ACTIVE);
  auto vision = std::make_shared<v1::OutputRevision>();
  vision->set_output_type("vision");
  vision->set_revision(3);
  s.snapshot.latest_outputs.emplace("vision", std::move(vision));
  return s;
}

TEST(SnapshotCacheTest, HandsOutAnEntryOnlyAtItsEtagAndOnlyOnce) {
  SnapshotCache cache;
  cache.Put(At("s1", "e1"));
  EXPECT_FALSE(cache.Take("s1", "e0").has_value());
  EXPECT_EQ(cache.size(), 1u);  // an entry at another etag stays
  std::optional<CachedSnapshot> taken = cache.Take("s1", "e1");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->snapshot.latest_outputs.at("vision")->revision(), 3u);
  EXPECT_FALSE(cache.Take("s1", "e1").has_value());
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
}

TEST(SnapshotCacheTest, ReplacesTheEntryOfAServiceWithTheNewerOne) {
  SnapshotCache cache;
  cache.Put(At("s1", "e1"));
  cache.Put(At("s1", "e2"));
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_FALSE(cache.Take("s1", "e1").has_value());
  EXPECT_TRUE(cache.Take("s1", "e2").has_value());
}

TEST(SnapshotCacheTest, KeepsNoServiceUnderReview) {
  SnapshotCache cache;
  CachedSnapshot in_review = At("s1", "e1");
  in_review.snapshot.service.set_status(v1::SERVICE_STATUS_IN_REVIEW);
  in_review.snapshot.service.set_gate_under_review("A");
  cache.Put(std::move(in_review));
  cache.Put(At("s2", ""));
  EXPECT_EQ(cache.size(), 0u);
}

// What the cache keeps after a commit is what a fresh load of the stored state would give.
TEST(SnapshotTest, AfterCommitIsWhatAFreshLoadWouldGive) {
  lifecycle::ServiceSnapshot before = At("s1", "e1").snapshot;
  before.gate_decisions.emplace_back().set_panel("business_panel");
  before.latest_evaluation.emplace().set_gate_id("A");
  lifecycle::Transition t;
  auto vision = std::make_shared<v1::OutputRevision>();
  vision->set_output_type("vision");
  vision->set_revision(4);
  t.outputs.push_back(vision);
  auto assessment = std::make_shared<v1::Assessment>();
  assessment->set_principle("P1");
  t.assessments.push_back(assessment);
  v1::Service stored = before.service;
  stored.set_etag("e2");
  const lifecycle::ServiceSnapshot after = AfterCommit(before, t, stored);
  EXPECT_EQ(after.service.etag(), "e2");
  EXPECT_EQ(after.latest_outputs.at("vision")->revision(), 4u);
  EXPECT_EQ(after.assessments.at("P1"), assessment);
  EXPECT_TRUE(after.gate_decisions.empty());
  EXPECT_FALSE(after.latest_evaluation.has_value());
}

TEST(SnapshotCacheTest, StaysWithinItsCapacity) {
  SnapshotCache cache({.capacity = 64, .shards = 4});
  for (int i = 0; i < 1000; ++i) cache.Put(At("s" + std::to_string(i), "e"));
  EXPECT_LE(cache.size(), 64u);
  EXPECT_GT(cache.size(), 0u);
}

TEST(SnapshotCacheTest, ZeroCapacityKeepsNothing) {
  SnapshotCache cache({.capacity = 0});
  cache.Put(At("s1", "e1"));
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_FALSE(cache.Take("s1", "e1").has_value());
}

}  // namespace
}  // namespace varav::governance
