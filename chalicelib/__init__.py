"""Support intake: the serverless pipeline for a hosting company's technical support."""
