-- Incidents: the update history doubles as an outbox (seq), plus the columns the detectors fill.
--
-- Every write to incident_update takes the transaction-level advisory lock
-- store.incidents.WRITE_LOCK first, so seq values become visible in order: a reader that sees
-- seq N has seen every committed seq < N (a relay or a streaming API resumes by seq).

ALTER TABLE incident_update ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX incident_update_seq_idx ON incident_update (seq);
-- The incident as it was right after this update (what the relay publishes).
ALTER TABLE incident_update ADD COLUMN snapshot jsonb NOT NULL DEFAULT '{}'::jsonb;

ALTER TABLE incident ADD COLUMN queue_m real;          -- estimated queue length, metres
ALTER TABLE incident ADD COLUMN method text;           -- detection method(s) that raised it
ALTER TABLE incident ADD COLUMN detected_at timestamptz;  -- when the system first raised it
ALTER TABLE incident ADD COLUMN confirmed_at timestamptz;
ALTER TABLE incident ADD COLUMN created_by text;
CREATE INDEX incident_segment_idx ON incident (segment_id, started_at DESC);

-- How far each relay (outbox publisher) has published incident_update rows.
CREATE TABLE incident_relay (
    relay      text PRIMARY KEY,
    last_seq   bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- The incident worker's progress: last minute whose detections were applied (idempotent reruns).
CREATE TABLE incident_progress (
    worker     text PRIMARY KEY,
    minute     timestamptz NOT NULL,
    state      bytea,
    updated_at timestamptz NOT NULL DEFAULT now()
);
