"""coffea processors of eventlens (installed as ``eventlens.processors``)."""
