#include "services/core/snapshot_cache.h"

#include <string>

#include "gtest/gtest.h"

namespace varav::core {
namespace {

lifecycle::ServiceSnapshot At(const std::string& id, const std::string& etag) {
  lifecycle::ServiceSnapshot s;
  s.service.set_id(id);
  s.service.set_etag(etag);
  s.service.set_status(v1::SERVICE_STATUS_ACTIVE);
  v1::OutputRevision vision;
  vision.set_output_type("vision");
  vision.set_revision(3);
  s.latest_outputs.emplace("vision", lifecycle::LatestOutput(vision));
  return s;
}

TEST(SnapshotCacheTest, HandsOutAnEntryOnlyAtItsEtagAndOnlyOnce) {
  SnapshotCache cache;
  cache.Put(At("s1", "e1"));
  EXPECT_FALSE(cache.Take("s1", "e0").has_value());
  EXPECT_EQ(cache.size(), 1u);  // an entry at another etag stays
  std::optional<lifecycle::ServiceSnapshot> taken = cache.Take("s1", "e1");
  ASSERT_TRUE(taken.has_value());
  EXPECT_EQ(taken->latest_outputs.at("vision").record->revision(), 3u);
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
  lifecycle::ServiceSnapshot in_review = At("s1", "e1");
  in_review.service.set_status(v1::SERVICE_STATUS_IN_REVIEW);
  in_review.service.set_gate_under_review("A");
  cache.Put(std::move(in_review));
  lifecycle::ServiceSnapshot no_etag = At("s2", "");
  cache.Put(std::move(no_etag));
  EXPECT_EQ(cache.size(), 0u);
}

TEST(SnapshotCacheTest, DropsDecisionsAndEvaluationOfAKeptSnapshot) {
  SnapshotCache cache;
  lifecycle::ServiceSnapshot s = At("s1", "e1");
  s.gate_decisions.emplace_back().set_panel("business_panel");
  s.latest_evaluation.emplace().set_gate_id("A");
  cache.Put(std::move(s));
  std::optional<lifecycle::ServiceSnapshot> taken = cache.Take("s1", "e1");
  ASSERT_TRUE(taken.has_value());
  EXPECT_TRUE(taken->gate_decisions.empty());
  EXPECT_FALSE(taken->latest_evaluation.has_value());
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
}  // namespace varav::core
