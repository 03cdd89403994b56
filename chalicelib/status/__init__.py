"""Service status: incidents, planned maintenance, and what customers are told (R3.3)."""
