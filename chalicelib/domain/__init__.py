"""Domain values and pure rules: what a request is (`Ticket`, official or advisory), its
clock, the queue's order, incidents, quotes, attachments and report tallies. Imports
nothing but the foundation (`errors`, `ids`, `timeutil`, `validation`)."""
