-- Edie's space-time cells of the probes (analytics/space_mean.py): the distance a vehicle
-- covered and the time it spent on a segment within a minute, between two of its decided
-- fixes (from_ts: the earlier one), written by the probe worker in the transaction of its
-- traversals. The state builder's measured probe speed of a segment-minute is
-- sum(distance_m) / sum(time_s): vehicles still queued count. A replay never duplicates.
CREATE TABLE probe_cell (
    segment_id  text NOT NULL,
    minute      timestamptz NOT NULL,
    vehicle_id  text NOT NULL,
    from_ts     timestamptz NOT NULL,
    distance_m  real NOT NULL,
    time_s      real NOT NULL,
    PRIMARY KEY (segment_id, minute, vehicle_id, from_ts)
) PARTITION BY RANGE (minute);
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_cell', 'minute', '1 day', '30 days');
