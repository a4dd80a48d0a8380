"""Time-series schema, migrations, writers and queries."""
