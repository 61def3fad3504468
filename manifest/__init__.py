"""The Teams app package: manifest template, icons and the ``python -m manifest build`` command."""
