-- TimescaleDB variant of 0013 (see the plain file for the meaning of the tables).
CREATE TABLE segment_forecast (
    segment_id      text NOT NULL,
    issued_at       timestamptz NOT NULL,
    horizon_min     smallint NOT NULL,
    target_at       timestamptz NOT NULL,
    speed_kmh       real NOT NULL,
    p10_kmh         real,
    p90_kmh         real,
    travel_time_s   real NOT NULL,
    congestion_level smallint,
    persistence_kmh real,
    historical_kmh  real,
    basis           text NOT NULL,
    PRIMARY KEY (segment_id, issued_at, horizon_min)
);
SELECT create_hypertable('segment_forecast', 'issued_at', chunk_time_interval => INTERVAL '1 day');
ALTER TABLE segment_forecast SET (timescaledb.compress, timescaledb.compress_segmentby = 'segment_id', timescaledb.compress_orderby = 'issued_at DESC');
SELECT add_compression_policy('segment_forecast', INTERVAL '2 days');
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('segment_forecast', 'issued_at', '1 day', '14 days');
SELECT add_retention_policy('segment_forecast', INTERVAL '14 days');

CREATE TABLE segment_forecast_current (LIKE segment_forecast INCLUDING DEFAULTS,
    model           text,
    PRIMARY KEY (segment_id, horizon_min));
