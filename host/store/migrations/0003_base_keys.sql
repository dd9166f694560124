-- base_keys is a digest of the set of mapping keys a link's base holds
-- (BaseKeys), written with the base. A run compares it with its own
-- mappings' digest and loads the bases of only the links that differ (and of
-- rows written before this column, which hold ''), so a no-change run of a
-- million links does not read a million bases.
ALTER TABLE links ADD COLUMN base_keys TEXT NOT NULL DEFAULT '';
