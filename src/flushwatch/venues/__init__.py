"""Venue wire decoders: one subpackage per venue, shared by importers and live connectors."""
