"""taxonomist: YAML taxonomy + classifier definitions -> a promoted classifier stack."""

__version__ = "0.1.0"
