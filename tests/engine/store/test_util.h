// Helpers shared by the store tests and the crash writer: status matchers, record builders and
// raw RocksDB access for tampering with a closed store.
//
// Thread safety: the builders are pure; RawDb is for one thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "engine/lifecycle/event_types.h"
#include "engine/lifecycle/portfolio.h"
#include "engine/store/layout.h"
#include "engine/store/store.h"
#include "gmock/gmock.h"
#include "rocksdb/db.h"
#include "varav/v1/resources.pb.h"

namespace varav::store::testing {

// The terms varavd indexes services by (lifecycle::PortfolioTerms), as the store takes them.
inline std::vector<IndexTerm> PortfolioTerms(const v1::Service& service) {
  std::vector<IndexTerm> terms;
  for (lifecycle::PortfolioTerm& t : lifecycle::PortfolioTerms(service)) {
    terms.push_back({.attribute = std::move(t.attribute), .value = std::move(t.value)});
  }
  return terms;
}

inline v1::Service MakeService(absl::string_view id, absl::string_view agency = "ria",
                               absl::string_view stage = "envision",
                               v1::ServiceStatus status = v1::SERVICE_STATUS_ACTIVE) {
  v1::Service s;
  s.set_id(std::string(id));
  s.set_name(absl::StrCat("Service ", id));
  s.set_agency(std::string(agency));
  s.set_owner("owner@example.ee");
  s.set_pack_id("teenuse-standard");
  s.set_pack_version("2.0.0");
  s.set_stage(std::string(stage));
  s.set_cycle(1);
  s.set_status(status);
  return s;
}

inline v1::Event RegisteredEvent(const v1::Service& s) {
  v1::Event e;
  e.set_id(absl::StrCat(s.id(), "/1"));
  e.set_type(std::string(lifecycle::EventTypeFor(v1::Event::kServiceRegistered)));
  e.set_spec_version("1.0");
  e.set_source("/varav");
  e.set_principal("registrar");
  e.mutable_time()->set_seconds(1700000000);
  v1::ServiceRegistered* r = e.mutable_service_registered();
  r->set_name(s.name());
  r->set_agency(s.agency());
  r->set_stage(s.stage());
  r->set_cycle(s.cycle());
  return e;
}

inline v1::Event StageAdvancedEvent(absl::string_view from, absl::string_view to) {
  v1::Event e;
  e.set_type(std::string(lifecycle::EventTypeFor(v1::Event::kStageAdvanced)));
  e.set_principal("team");
  e.mutable_time()->set_seconds(1700000100);
  v1::StageAdvanced* a = e.mutable_stage_advanced();
  a->set_from_stage(std::string(from));
  a->set_to_stage(std::string(to));
  a->set_cycle(1);
  return e;
}

inline v1::OutputRevision MakeOutput(absl::string_view service_id, absl::string_view type,
                                     uint32_t revision) {
  v1::OutputRevision o;
  o.set_service_id(std::string(service_id));
  o.set_output_type(std::string(type));
  o.set_revision(revision);
  o.set_status(v1::OUTPUT_STATUS_SUBMITTED);
  o.mutable_document()->set_system("dhs");
  o.mutable_document()->set_id(absl::StrCat(type, "-", revision));
  o.mutable_document()->set_sha256(std::string(64, 'a'));
  (*o.mutable_fields()->mutable_fields())["statement"].set_string_value("a clear vision");
  (*o.mutable_fields()->mutable_fields())["count"].set_number_value(revision);
  o.set_submitted_by("team");
  return o;
}

// MakeOutput as the shared record a Mutation holds.
inline std::shared_ptr<const v1::OutputRevision> SharedOutput(absl::string_view service_id,
                                                              absl::string_view type,
                                                              uint32_t revision) {
  return std::make_shared<const v1::OutputRevision>(MakeOutput(service_id, type, revision));
}

inline Mutation CreateMutation(const v1::Service& s) {
  Mutation m;
  m.service_id = s.id();
  m.service = s;
  m.events.push_back(RegisteredEvent(s));
  return m;
}

// Opens a closed store's directory directly, bypassing Store (to tamper with it in tests).
class RawDb {
 public:
  static std::unique_ptr<RawDb> Open(const std::string& path) {
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions());
    for (absl::string_view name : kColumnFamilies) {
      descriptors.emplace_back(std::string(name), rocksdb::ColumnFamilyOptions());
    }
    auto raw = std::make_unique<RawDb>();
    rocksdb::DB* db = nullptr;
    rocksdb::Status s =
        rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &raw->handles_, &db);
    if (!s.ok()) return nullptr;
    raw->db_.reset(db);
    return raw;
  }

  ~RawDb() {
    for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  }

  rocksdb::DB* db() { return db_.get(); }
  // The handle of one of kColumnFamilies.
  rocksdb::ColumnFamilyHandle* cf(absl::string_view name) {
    for (size_t i = 0; i < kColumnFamilies.size(); ++i) {
      if (kColumnFamilies[i] == name) return handles_[i + 1];
    }
    return nullptr;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
};

}  // namespace varav::store::testing
