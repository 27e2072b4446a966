"""Operating the service: backups and restores, and the demo program."""
