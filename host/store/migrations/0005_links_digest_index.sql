-- A complete run first sums each side's (id, version) pairs as the links
-- know them (LinkDigests). This index holds just those columns, so the sum
-- reads a few dozen bytes a link instead of each link's row with its base.
CREATE INDEX links_digest ON links (sync_name, left_id, left_version, right_id, right_version, state);
