"""FastAPI public and operator API."""
