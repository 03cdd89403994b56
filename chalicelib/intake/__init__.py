"""Channel adapters (cabinet, e-mail, chat) and the pipeline they feed."""
