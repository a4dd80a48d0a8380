"""Gateways: processes that fetch feeds from outside and publish them to the feed topics."""
