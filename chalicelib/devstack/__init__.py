"""The local stack: moto as the AWS stand-in, resources from infrastructure/, chalice local."""
