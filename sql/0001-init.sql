-- 0001-init.sql: tickets, numbering, counters, events, idempotency keys, feedback.
-- Times are Unix seconds; dates are local YYYY-MM-DD; slot times are minutes of the day.

CREATE TABLE ticket (
  id              INTEGER PRIMARY KEY,
  code            TEXT NOT NULL UNIQUE,
  kind            TEXT NOT NULL CHECK (kind IN ('booking', 'walkin')),
  point           TEXT NOT NULL,
  service         TEXT NOT NULL,          -- the queue it waits in now (a transfer changes it)
  booked_service  TEXT NOT NULL,          -- the service it was booked or issued for
  date            TEXT NOT NULL,
  seq             INTEGER NOT NULL,       -- the number's sequence within (point, booked_service, date)
  number          TEXT NOT NULL,
  start_min       INTEGER,
  end_min         INTEGER,
  status          TEXT NOT NULL CHECK (status IN ('booked', 'waiting', 'called', 'served',
                    'no_show', 'parked', 'cancelled', 'expired')),
  priority        TEXT,
  citizen_hash    TEXT,                   -- HMAC-SHA-256 of the citizen id, hex
  citizen_last4   TEXT,
  phone           TEXT,
  name            TEXT,
  dossier_id      TEXT,
  created_at      INTEGER NOT NULL,
  checkin_from    INTEGER,
  checkin_until   INTEGER,
  waiting_since   INTEGER,                -- check-in or issue time
  entitled_at     INTEGER,                -- its place in time in the call order
  counter         TEXT,
  calls           INTEGER NOT NULL DEFAULT 0,
  called_at       INTEGER,
  first_called_at INTEGER,
  finished_at     INTEGER
  -- (point, booked_service, date, seq) is unique by construction: numbers come only from the
  -- numbering table, in the same savepoint as the ticket they number.
);
-- Covering: a slot's count and a day's availability read the index alone.
CREATE INDEX ticket_slot ON ticket (point, booked_service, date, start_min, kind, status);
CREATE INDEX ticket_citizen ON ticket (citizen_hash, status, finished_at) WHERE citizen_hash IS NOT NULL;
-- The call order of one service's queue, so the next ticket is the first entry of a range.
-- Partial indexes hold only the tickets that need them: a booking costs none of these.
CREATE INDEX ticket_queue ON ticket (point, date, service, priority IS NULL, entitled_at, seq,
                                     number) WHERE status = 'waiting';
CREATE INDEX ticket_deadline ON ticket (checkin_until) WHERE status = 'booked';
CREATE INDEX ticket_open ON ticket (date) WHERE status IN ('waiting', 'parked');

CREATE TABLE numbering (
  point   TEXT NOT NULL,
  service TEXT NOT NULL,
  date    TEXT NOT NULL,
  last    INTEGER NOT NULL,
  walkins INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (point, service, date)
) WITHOUT ROWID;

CREATE TABLE counter_state (
  counter TEXT PRIMARY KEY,
  state   TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paused')),
  ticket  INTEGER REFERENCES ticket (id),  -- the ticket called and not yet finished
  streak  INTEGER NOT NULL DEFAULT 0       -- priority calls in a row
) WITHOUT ROWID;

-- Every state change of a ticket, in the same transaction as the change; each hash chains
-- over the previous event of the same point.
CREATE TABLE event (
  seq     INTEGER PRIMARY KEY,
  point   TEXT NOT NULL,
  date    TEXT NOT NULL,
  at      INTEGER NOT NULL,
  ticket  INTEGER NOT NULL REFERENCES ticket (id),
  action  TEXT NOT NULL,
  actor   TEXT NOT NULL,
  counter TEXT,
  detail  TEXT,
  hash    TEXT NOT NULL
);
-- A point's chain runs in (date, seq) order, the order of this index.
CREATE INDEX event_point ON event (point, date, seq);

CREATE TABLE idempotency (
  client     TEXT NOT NULL,
  key        TEXT NOT NULL,
  body_hash  TEXT NOT NULL,
  status     INTEGER NOT NULL,
  response   TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (client, key)
) WITHOUT ROWID;
CREATE INDEX idempotency_age ON idempotency (created_at);

CREATE TABLE feedback (
  ticket  INTEGER PRIMARY KEY REFERENCES ticket (id),
  rating  INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5),
  comment TEXT,
  at      INTEGER NOT NULL
);
