-- Map-matched probe traversals replace the nearest-segment observations; per-partition
-- worker state rides with the consumer checkpoint; the state builder's work queue and the
-- learned free-flow speeds.
DROP TABLE probe_observation;
DELETE FROM ts_table WHERE table_name = 'probe_observation';

-- One row per vehicle per traversed segment; minute = minute of the traversal's midpoint.
CREATE TABLE probe_traversal (
    segment_id   text NOT NULL,
    minute       timestamptz NOT NULL,
    vehicle_id   text NOT NULL,
    entry_ts     timestamptz NOT NULL,
    exit_ts      timestamptz NOT NULL,
    speed_kmh    real NOT NULL,
    dwell_s      real NOT NULL DEFAULT 0,
    vehicle_type text NOT NULL DEFAULT 'other',
    PRIMARY KEY (segment_id, minute, vehicle_id, entry_ts)
) PARTITION BY RANGE (minute);
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_traversal', 'minute', '1 day', '30 days');

ALTER TABLE consumer_checkpoint ADD COLUMN state bytea;

CREATE TABLE state_dirty (
    minute timestamptz PRIMARY KEY
);

CREATE TABLE segment_free_flow (
    segment_id    text PRIMARY KEY,
    free_flow_kmh real NOT NULL,
    n_samples     integer NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX segment_state_15m_bucket_idx ON segment_state_15m (bucket);
