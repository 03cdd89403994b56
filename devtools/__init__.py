"""Tools for developers, outside the Lambda bundle: the local stack (moto as the AWS
stand-in, resources from infrastructure/, chalice local), the command line, replay and
offline mail parsing. `python -m chalicelib <command>` delegates here."""
