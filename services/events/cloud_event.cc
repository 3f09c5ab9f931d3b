#include "services/events/cloud_event.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/util/json_util.h"
#include "google/protobuf/util/time_util.h"

namespace varav::events {

std::string NatsSubjectFor(absl::string_view prefix, absl::string_view type) {
  return absl::StrCat(prefix, ".", type);
}

namespace {

// The attributes and extensions of `event`, without the closing brace. `whole` adds the
// extensions of unbounded size (principal, request id), which a claim check leaves out.
absl::StatusOr<std::string> Envelope(const v1::Event& event, bool whole,
                                     const google::protobuf::FieldDescriptor** payload) {
  const google::protobuf::OneofDescriptor* oneof = v1::Event::descriptor()->FindOneofByName("data");
  *payload = event.GetReflection()->GetOneofFieldDescriptor(event, oneof);
  if (*payload == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("event '", event.id(), "' has no payload"));
  }
  if (event.id().empty() || event.type().empty()) {
    return absl::InvalidArgumentError("event lacks its CloudEvents id or type");
  }
  std::string out = "{\"specversion\":";
  absl::StrAppend(&out, JsonQuote(event.spec_version().empty() ? "1.0" : event.spec_version()));
  absl::StrAppend(&out, ",\"id\":", JsonQuote(event.id()));
  absl::StrAppend(&out, ",\"source\":", JsonQuote(event.source()));
  absl::StrAppend(&out, ",\"type\":", JsonQuote(event.type()));
  absl::StrAppend(&out, ",\"subject\":", JsonQuote(event.subject()));
  if (event.has_time()) {
    absl::StrAppend(
        &out, ",\"time\":", JsonQuote(google::protobuf::util::TimeUtil::ToString(event.time())));
  }
  absl::StrAppend(&out, ",\"datacontenttype\":\"application/json\"");
  absl::StrAppend(&out, ",\"sequence\":\"", event.global_sequence(), "\"");
  absl::StrAppend(&out, ",\"servicesequence\":\"", event.service_sequence(), "\"");
  absl::StrAppend(&out, ",\"hash\":", JsonQuote(event.hash()));
  absl::StrAppend(&out, ",\"prevhash\":", JsonQuote(event.prev_hash()));
  if (!whole) return out;
  if (!event.principal().empty()) {
    absl::StrAppend(&out, ",\"principal\":", JsonQuote(event.principal()));
  }
  if (!event.request_id().empty()) {
    absl::StrAppend(&out, ",\"requestid\":", JsonQuote(event.request_id()));
  }
  return out;
}

}  // namespace

absl::StatusOr<std::string> ToCloudEventJson(const v1::Event& event) {
  const google::protobuf::FieldDescriptor* payload = nullptr;
  absl::StatusOr<std::string> out = Envelope(event, /*whole=*/true, &payload);
  if (!out.ok()) return out.status();
  std::string data;
  const auto printed = google::protobuf::util::MessageToJsonString(
      event.GetReflection()->GetMessage(event, payload), &data);
  if (!printed.ok()) {
    return absl::InternalError(
        absl::StrCat("event '", event.id(), "': payload to JSON: ", printed.ToString()));
  }
  absl::StrAppend(&*out, ",\"data\":", data, "}");
  return out;
}

absl::StatusOr<std::string> ToCloudEventClaimCheck(const v1::Event& event, size_t full_size) {
  const google::protobuf::FieldDescriptor* payload = nullptr;
  absl::StatusOr<std::string> out = Envelope(event, /*whole=*/false, &payload);
  if (!out.ok()) return out.status();
  absl::StrAppend(&*out, ",\"dataref\":\"varav:events/", event.global_sequence(), "\"",
                  ",\"datasize\":\"", full_size, "\"}");
  return out;
}

}  // namespace varav::events
