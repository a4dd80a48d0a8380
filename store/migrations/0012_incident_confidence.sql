-- How sure the system is of an incident it raised (0–1; NULL for incidents operators
-- reported), and whether it was announced: incidents below the incident worker's
-- announce_confidence are kept for review (operator API ?review=true) and are not published
-- (public API, streams, relay) until their confidence reaches it.
ALTER TABLE incident ADD COLUMN confidence real CHECK (confidence BETWEEN 0 AND 1);
ALTER TABLE incident ADD COLUMN announced boolean NOT NULL DEFAULT true;
CREATE INDEX incident_review_idx ON incident (started_at DESC)
    WHERE NOT announced AND status IN ('suspected', 'confirmed');
