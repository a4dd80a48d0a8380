-- Edie's space-time cells of the probes (analytics/space_mean.py): the distance vehicles
-- covered and the time they spent on a segment within a minute (vehicles still queued
-- included), summed by the probe worker per partition (source) over the cells its vehicles
-- closed between two minute cuts (seq, numbered in the partition's checkpointed state) and
-- written in the transaction of its traversals, so a replay from a checkpoint writes the same
-- rows. Centimetres and milliseconds, as integers: a segment-minute's sums do not depend on
-- how the checkpoints grouped its cells. The state builder's probe speed of a segment-minute
-- is sum(distance_cm) / sum(time_ms) (× 36 for km/h).
CREATE TABLE probe_cell (
    segment_id  text NOT NULL,
    minute      timestamptz NOT NULL,
    source      text NOT NULL,
    seq         bigint NOT NULL,
    distance_cm bigint NOT NULL,
    time_ms     bigint NOT NULL,
    vehicles    integer NOT NULL,
    PRIMARY KEY (segment_id, minute, source, seq)
) PARTITION BY RANGE (minute);
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_cell', 'minute', '1 day', '30 days');
