#include "engine/store/event_chain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <memory>

#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace varav::store {

std::string Sha256Hex(absl::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  // EVP_Digest only fails on allocation failure inside OpenSSL; an all-zero digest would then
  // surface as a chain mismatch rather than silently passing.
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    length = 32;
    std::fill(digest, digest + length, 0);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(length * 2, '\0');
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return out;
}

std::string SerializeDeterministic(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializePartialToCodedStream(&coded);
  }
  return out;
}

std::string ComputeEventHash(const v1::Event& event) {
  v1::Event canonical = event;
  canonical.clear_prev_hash();
  canonical.clear_hash();
  std::string input = event.prev_hash();
  input += SerializeDeterministic(canonical);
  return Sha256Hex(input);
}

absl::string_view EventTypeFor(v1::Event::DataCase data_case) {
  switch (data_case) {
    case v1::Event::kServiceRegistered:
      return "ee.varav.service.registered";
    case v1::Event::kOutputSubmitted:
      return "ee.varav.output.submitted";
    case v1::Event::kAssessmentRecorded:
      return "ee.varav.assessment.recorded";
    case v1::Event::kStageAdvanced:
      return "ee.varav.stage.advanced";
    case v1::Event::kGateEvaluated:
      return "ee.varav.gate.evaluated";
    case v1::Event::kGateReady:
      return "ee.varav.gate.ready";
    case v1::Event::kReviewRequested:
      return "ee.varav.review.requested";
    case v1::Event::kDecisionRecorded:
      return "ee.varav.decision.recorded";
    case v1::Event::kGateApproved:
      return "ee.varav.gate.approved";
    case v1::Event::kGateApprovedWithConditions:
      return "ee.varav.gate.approved_with_conditions";
    case v1::Event::kRecycled:
      return "ee.varav.service.recycled";
    case v1::Event::kHeld:
      return "ee.varav.service.held";
    case v1::Event::kResumed:
      return "ee.varav.service.resumed";
    case v1::Event::kStopped:
      return "ee.varav.service.stopped";
    case v1::Event::kRetired:
      return "ee.varav.service.retired";
    case v1::Event::kPackMigrated:
      return "ee.varav.service.pack_migrated";
    case v1::Event::DATA_NOT_SET:
      break;
  }
  return "";
}

}  // namespace varav::store
