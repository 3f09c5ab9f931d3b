"""An audit-trail verifier written outside Värav: Python's own protobuf library and hashlib only.

It checks events as ListEvents returns them in the audit view (view = EVENT_VIEW_AUDIT), following
the procedure in docs/audit.md:

  1. hash == hex(SHA-256(prev_hash as ASCII || hashed_form)), hashing the bytes as received;
  2. hashed_form parses as an Event that equals the received event without prev_hash, hash and
     hashed_form (so the structured fields are the ones the hash covers);
  3. each service's events are numbered 1, 2, ... and each prev_hash is the previous event's hash
     (empty for the first);
  4. in the global log, global sequences run 1, 2, ... without gaps;
  5. the last hash of each service equals the head the service record names (last_event_hash).

Nothing here re-serializes an event: serializations differ between protobuf libraries (map
entries above all), which is why the hash is defined over bytes the verifier receives as they are.
"""

import hashlib


class VerificationError(Exception):
    pass


class ChainVerifier:
    """Feed events in global order with add(); read the heads with heads()."""

    def __init__(self, event_class):
        self._event_class = event_class
        self._heads = {}  # subject -> (service_sequence, hash)
        self._last_global = None
        self.count = 0

    def add(self, event):
        where = "event %d (%s #%d)" % (event.global_sequence, event.subject,
                                       event.service_sequence)
        if not event.hashed_form:
            raise VerificationError(where + ": no hashed_form; list with view EVENT_VIEW_AUDIT")
        digest = hashlib.sha256(event.prev_hash.encode("ascii") + event.hashed_form).hexdigest()
        if digest != event.hash:
            raise VerificationError("%s: hash %s does not match SHA-256 of its bytes %s" %
                                    (where, event.hash, digest))
        hashed = self._event_class()
        hashed.ParseFromString(event.hashed_form)
        received = self._event_class()
        received.CopyFrom(event)
        for field in ("prev_hash", "hash", "hashed_form"):
            received.ClearField(field)
        if hashed != received:
            raise VerificationError(where + ": the structured event differs from the hashed bytes")
        previous = self._heads.get(event.subject)
        if previous is None:
            if event.service_sequence != 1 or event.prev_hash:
                raise VerificationError(where + ": the first event of a service must be #1 "
                                        "without prev_hash")
        else:
            if event.service_sequence != previous[0] + 1:
                raise VerificationError("%s: follows #%d" % (where, previous[0]))
            if event.prev_hash != previous[1]:
                raise VerificationError(where + ": prev_hash is not the previous event's hash")
        if self._last_global is not None and event.global_sequence != self._last_global + 1:
            raise VerificationError("%s: follows global event %d" % (where, self._last_global))
        self._last_global = event.global_sequence
        self._heads[event.subject] = (event.service_sequence, event.hash)
        self.count += 1

    def heads(self):
        """service id -> (last service sequence, last hash)."""
        return dict(self._heads)


def verify_service_heads(verifier, services):
    """`services`: service records (with last_event_sequence and last_event_hash)."""
    heads = verifier.heads()
    for service in services:
        head = heads.get(service.id)
        if head is None:
            raise VerificationError("service %s: no events verified" % service.id)
        if head != (service.last_event_sequence, service.last_event_hash):
            raise VerificationError("service %s: the record names head #%d %s, the chain ends at "
                                    "#%d %s" % (service.id, service.last_event_sequence,
                                                service.last_event_hash, head[0], head[1]))
