"""``python -m field_client`` runs the ``fieldsync`` command line."""

from field_client.cli import main

main()
