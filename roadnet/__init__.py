"""The road network model shared by analytics and simulators."""

from roadnet.model import RoadNetwork, load_network

__all__ = ["RoadNetwork", "load_network"]
