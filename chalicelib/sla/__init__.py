"""The response-time rule (R2): deadlines, delay notices, the sweep."""
