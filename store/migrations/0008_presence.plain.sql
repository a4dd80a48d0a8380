-- Vehicles still on a segment and abnormally slow there (analytics/presence.py), recorded by
-- the probe worker at each minute boundary of a partition's stream time, in the transaction of
-- its traversals; read by the incident worker (the overdue-probe queues). One row per vehicle
-- per record time: a replay never duplicates. Times UTC, distances metres, durations seconds.
CREATE TABLE probe_presence (
    as_of         timestamptz NOT NULL,  -- the minute boundary the record describes
    segment_id    text NOT NULL,
    vehicle_id    text NOT NULL,
    vehicle_type  text NOT NULL DEFAULT 'other',
    entry_ts      timestamptz NOT NULL,  -- entry, or the first fix on the segment
    entry_seen    boolean NOT NULL,
    last_ts       timestamptz NOT NULL,  -- the last decided fix
    offset_m      real NOT NULL,
    progress_m    real NOT NULL,
    still_s       real NOT NULL,
    dwell_s       real NOT NULL,
    crawl_s       real NOT NULL,
    on_segment_s  real NOT NULL,
    PRIMARY KEY (as_of, vehicle_id)
) PARTITION BY RANGE (as_of);
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_presence', 'as_of', '1 day', '30 days');
