"""Short-term speed forecasts per segment: +15, +30 and +60 minutes with a 10th–90th percentile
band, from a learned model (:mod:`analytics.forecast.model_file`) beside the two baselines
("now persists" and the historical average, :mod:`analytics.forecast.baselines`)."""
