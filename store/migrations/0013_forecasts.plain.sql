-- Short-term speed forecasts (analytics/forecast, `itms worker forecast`). segment_forecast
-- keeps every stored issue (the worker stores one every history_every_min minutes) so that
-- forecasts can be scored against what happened; segment_forecast_current holds the newest
-- forecast of every segment and horizon for fast reads (the API). Speeds km/h, travel times
-- s, horizons minutes, congestion_level as segment_state's (from the forecast speed); basis: 'model' or the baseline used and why
-- ('baseline:no_model', 'baseline:model_other_network', 'baseline:no_history').
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
) PARTITION BY RANGE (issued_at);
INSERT INTO ts_table (table_name, time_column, chunk_interval, retention)
    VALUES ('segment_forecast', 'issued_at', '1 day', '14 days');

CREATE TABLE segment_forecast_current (LIKE segment_forecast INCLUDING DEFAULTS,
    model           text,
    PRIMARY KEY (segment_id, horizon_min));
