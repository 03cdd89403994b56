"""Administration requests (R5): free OS and panel installs, paid work by quote."""
