-- Loops reported per lane under their own ids form one station: detectors sharing a
-- station_id are aggregated as one (occupancy averaged over lanes, volumes summed). NULL: the
-- detector is a station of its own.
ALTER TABLE detector ADD COLUMN IF NOT EXISTS station_id text;
CREATE INDEX IF NOT EXISTS detector_station_idx ON detector (station_id);
