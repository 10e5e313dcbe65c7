-- Someone's rooms by name (the home page, the API's room list) read in the order of
-- this index instead of being sorted on every request. It also serves every lookup by
-- owner alone, which the index it replaces was for.
CREATE INDEX rooms_owner_name ON rooms(owner, name);
DROP INDEX rooms_owner;
