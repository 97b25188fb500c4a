"""icemonitor: ICE enforcement records, ingested, placed and analysed with their definitions."""

__version__ = "0.1.0"
