"""flushwatch: monitor and analyse leverage flushes in crypto perpetual-futures markets."""

__version__ = "0.1.0"

__all__ = ["__version__"]
