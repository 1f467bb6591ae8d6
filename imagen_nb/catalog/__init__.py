"""The DuckDB catalog: schema, migrations and every query imagen-nb runs (user SQL aside)."""

from .connection import Catalog

__all__ = ["Catalog"]
