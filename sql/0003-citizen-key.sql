-- 0003-citizen-key.sql: the citizen index keyed by the first 16 hex digits of the hash.
--
-- Every booking adds an entry to this index at a random place. Keyed by the whole hash
-- (64 hex digits) an entry took about 80 bytes and a 2 KiB leaf split every dozen bookings;
-- 16 digits (64 bits) make it about 30 and the leaves split a third as often. The queries
-- ask for the prefix and then the whole hash, so two citizens sharing a prefix stay apart.
DROP INDEX ticket_citizen;
CREATE INDEX ticket_citizen ON ticket (substr(citizen_hash, 1, 16), status, finished_at)
  WHERE citizen_hash IS NOT NULL;
