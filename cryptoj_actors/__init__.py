"""cryptoj_actors: an actor-based trading system for Coinbase Advanced Trade."""

__version__ = "0.1.0"
