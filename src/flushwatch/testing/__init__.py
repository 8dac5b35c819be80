"""Test kit: locate the shared real-data folder, hypothesis strategies, small builders."""
