-- The guard's trust belongs to an occupant's connection (its full real JID, which
-- Prosody vouches for), not to its nick, which any client chooses: someone who joins
-- later under a trusted person's nick is not that person. Rows from before this have no
-- connection and so match nobody: the meetings running during the upgrade lose their
-- trusted moderators once, which is the safe way round.
ALTER TABLE meeting_moderators ADD COLUMN occupant TEXT NOT NULL DEFAULT '';
