"""A small, exact spot exchange: Lua order books in Redis, a Litestar API, RQ persistence into PostgreSQL."""

__version__ = "0.1.0"
