"""EAWE core: settings, the relational data layer, audit log, credential encryption and the CLI."""

__version__ = "0.1.0"
