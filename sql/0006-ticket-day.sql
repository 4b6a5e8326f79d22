-- 0006-ticket-day.sql: a point's tickets of one day, found by (point, date).
--
-- ticket_slot (point, booked_service, date, start_min, kind, status) served the slot counts,
-- which slot_count (0005) now keeps. What remains asks for a point's day (the day's list,
-- statistics): through ticket_slot, that read every ticket the point ever had. ticket_day
-- reads that day's only, and its smaller entries cost each booking less.
DROP INDEX ticket_slot;
CREATE INDEX ticket_day ON ticket (point, date);
