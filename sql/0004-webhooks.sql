-- 0004-webhooks.sql: webhook deliveries, written in the transaction of the change they tell of.
--
-- A row is one POST to one hook: its body and signature are fixed when the change commits, so a
-- retry sends the same bytes. It stays pending (done_at NULL) until a 2xx (outcome
-- 'delivered') or 24 hours (outcome 'gave_up'); a restart resends every pending row.
CREATE TABLE delivery (
  id          INTEGER PRIMARY KEY,
  url         TEXT NOT NULL,
  event       TEXT NOT NULL,
  ticket      INTEGER NOT NULL REFERENCES ticket (id),
  body        TEXT NOT NULL,
  signature   TEXT NOT NULL,          -- "sha256=HEX", the X-Hangdoi-Signature header
  created_at  INTEGER NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_at     INTEGER NOT NULL,       -- when the next attempt is due
  last_status INTEGER,                -- the last attempt's HTTP status, 0 for no answer
  done_at     INTEGER,
  outcome     TEXT CHECK (outcome = 'delivered' OR outcome = 'gave_up')
);
CREATE INDEX delivery_due ON delivery (next_at) WHERE done_at IS NULL;
-- ticket.near is sent once per ticket: this finds whether it was.
CREATE INDEX delivery_ticket ON delivery (ticket, event);
CREATE INDEX delivery_done ON delivery (done_at) WHERE done_at IS NOT NULL;
