-- TimescaleDB variant of 0011 (see the plain file for the meaning of the table).
CREATE TABLE probe_cell (
    segment_id  text NOT NULL,
    minute      timestamptz NOT NULL,
    source      text NOT NULL,
    seq         bigint NOT NULL,
    distance_cm bigint NOT NULL,
    time_ms     bigint NOT NULL,
    vehicles    integer NOT NULL,
    PRIMARY KEY (segment_id, minute, source, seq)
);
SELECT create_hypertable('probe_cell', 'minute', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE probe_cell SET (timescaledb.compress, timescaledb.compress_segmentby = 'segment_id', timescaledb.compress_orderby = 'minute DESC');
SELECT add_compression_policy('probe_cell', INTERVAL '2 days');
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('probe_cell', 'minute', '1 day', '30 days');
SELECT add_retention_policy('probe_cell', INTERVAL '30 days');
