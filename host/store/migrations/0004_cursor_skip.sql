-- skip holds the marks (JSON array) of the writes a run made to a side since
-- its cursor was read: the side's next incremental read passes them to the
-- connector, which may leave those echoes out (ReadRequest.skip).
ALTER TABLE cursors ADD COLUMN skip TEXT NOT NULL DEFAULT '';
