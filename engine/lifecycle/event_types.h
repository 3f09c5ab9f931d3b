// The CloudEvents types of Värav's events, one per payload of varav.v1.Event (e.g.
// `ee.varav.gate.approved`), as the lifecycle gives them to the events it emits and as watchers
// and the NATS subjects name them.
//
// Thread safety: pure functions.
#pragma once

#include <vector>

#include "absl/strings/string_view.h"
#include "varav/v1/resources.pb.h"

namespace varav::lifecycle {

// The type of a payload; empty for DATA_NOT_SET.
absl::string_view EventTypeFor(v1::Event::DataCase data_case);

// Every event type, in payload field order.
const std::vector<absl::string_view>& EventTypes();

}  // namespace varav::lifecycle
