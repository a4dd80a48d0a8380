-- TimescaleDB variant of 0004 (see the plain file for the meaning of each table).
DROP TABLE probe_observation;
DELETE FROM ts_table WHERE table_name = 'probe_observation';

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
);
SELECT create_hypertable('probe_traversal', 'minute', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE probe_traversal SET (timescaledb.compress, timescaledb.compress_segmentby = 'segment_id', timescaledb.compress_orderby = 'minute DESC');
SELECT add_compression_policy('probe_traversal', INTERVAL '2 days');
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_traversal', 'minute', '1 day', '30 days');
SELECT add_retention_policy('probe_traversal', INTERVAL '30 days');

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
