-- TimescaleDB variant of 0008 (see the plain file for the meaning of the table).
CREATE TABLE probe_presence (
    as_of         timestamptz NOT NULL,
    segment_id    text NOT NULL,
    vehicle_id    text NOT NULL,
    vehicle_type  text NOT NULL DEFAULT 'other',
    entry_ts      timestamptz NOT NULL,
    entry_seen    boolean NOT NULL,
    last_ts       timestamptz NOT NULL,
    offset_m      real NOT NULL,
    progress_m    real NOT NULL,
    still_s       real NOT NULL,
    dwell_s       real NOT NULL,
    crawl_s       real NOT NULL,
    on_segment_s  real NOT NULL,
    PRIMARY KEY (as_of, vehicle_id)
);
SELECT create_hypertable('probe_presence', 'as_of', chunk_time_interval => INTERVAL '1 day');
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_presence', 'as_of', '1 day', '30 days');
SELECT add_retention_policy('probe_presence', INTERVAL '30 days');
