"""qm: AI quality management for contact centres."""
