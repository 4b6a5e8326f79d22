-- 0002-ticket-checks.sql: the ticket table's status check written as comparisons.
--
-- SQLite evaluates a CHECK of `status IN (eight values)` by building a temporary table of
-- the list on every INSERT and UPDATE of a ticket; a chain of comparisons checks the same
-- values with none. A CHECK cannot be altered in place, so the table is rebuilt (SQLite's
-- documented procedure: the runner applies migrations with foreign keys off and checks
-- them before it commits). Columns, rows, ids and indexes are unchanged.

CREATE TABLE ticket_new (
  id              INTEGER PRIMARY KEY,
  code            TEXT NOT NULL UNIQUE,
  kind            TEXT NOT NULL CHECK (kind = 'booking' OR kind = 'walkin'),
  point           TEXT NOT NULL,
  service         TEXT NOT NULL,          -- the queue it waits in now (a transfer changes it)
  booked_service  TEXT NOT NULL,          -- the service it was booked or issued for
  date            TEXT NOT NULL,
  seq             INTEGER NOT NULL,       -- the number's sequence within (point, booked_service, date)
  number          TEXT NOT NULL,
  start_min       INTEGER,
  end_min         INTEGER,
  status          TEXT NOT NULL CHECK (status = 'booked' OR status = 'waiting' OR
                    status = 'called' OR status = 'served' OR status = 'no_show' OR
                    status = 'parked' OR status = 'cancelled' OR status = 'expired'),
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
INSERT INTO ticket_new SELECT * FROM ticket;
DROP TABLE ticket;
ALTER TABLE ticket_new RENAME TO ticket;

-- The indexes of 0001, as they were.
CREATE INDEX ticket_slot ON ticket (point, booked_service, date, start_min, kind, status);
CREATE INDEX ticket_citizen ON ticket (citizen_hash, status, finished_at) WHERE citizen_hash IS NOT NULL;
CREATE INDEX ticket_queue ON ticket (point, date, service, priority IS NULL, entitled_at, seq,
                                     number) WHERE status = 'waiting';
CREATE INDEX ticket_deadline ON ticket (checkin_until) WHERE status = 'booked';
CREATE INDEX ticket_open ON ticket (date) WHERE status IN ('waiting', 'parked');
