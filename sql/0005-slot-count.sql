-- 0005-slot-count.sql: how many bookings hold each slot, kept by triggers.
--
-- A booking not cancelled holds its slot (point, booked_service, date, start_min). Counting
-- them along ticket_slot cost a read of every booking of the day for each availability, and
-- of every booking of the slot for each booking made; this table answers both with the rows
-- asked for. The triggers keep it in the statement, and so in the savepoint, of every change
-- that moves a booking in or out of a slot, whatever code makes it: it cannot drift.
CREATE TABLE slot_count (
  point     TEXT NOT NULL,
  service   TEXT NOT NULL,
  date      TEXT NOT NULL,
  start_min INTEGER NOT NULL,
  booked    INTEGER NOT NULL CHECK (booked >= 0),
  PRIMARY KEY (point, service, date, start_min)
) WITHOUT ROWID;

INSERT INTO slot_count (point, service, date, start_min, booked)
  SELECT point, booked_service, date, start_min, count(*) FROM ticket
  WHERE kind = 'booking' AND status != 'cancelled' AND start_min IS NOT NULL
  GROUP BY point, booked_service, date, start_min;

CREATE TRIGGER slot_count_book AFTER INSERT ON ticket
  WHEN new.kind = 'booking' AND new.status != 'cancelled' AND new.start_min IS NOT NULL
BEGIN
  INSERT INTO slot_count (point, service, date, start_min, booked)
    VALUES (new.point, new.booked_service, new.date, new.start_min, 1)
    ON CONFLICT DO UPDATE SET booked = booked + 1;
END;

CREATE TRIGGER slot_count_move AFTER UPDATE OF status, booked_service, date, start_min ON ticket
  WHEN new.kind = 'booking' AND ((old.status = 'cancelled') != (new.status = 'cancelled') OR
       old.booked_service != new.booked_service OR old.date != new.date OR
       old.start_min IS NOT new.start_min)
BEGIN
  UPDATE slot_count SET booked = booked - 1
    WHERE old.status != 'cancelled' AND point = old.point AND service = old.booked_service AND
          date = old.date AND start_min = old.start_min;
  INSERT INTO slot_count (point, service, date, start_min, booked)
    SELECT new.point, new.booked_service, new.date, new.start_min, 1
    WHERE new.status != 'cancelled' AND new.start_min IS NOT NULL
    ON CONFLICT DO UPDATE SET booked = booked + 1;
END;
