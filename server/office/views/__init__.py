"""The office pages, one module per area; each registers its routes on ``server.office.bp``."""
