"""Piccolo app config: our tables and where their migrations live."""

from pathlib import Path

from piccolo.conf.apps import AppConfig

from compliance.tables import ALL_TABLES

APP_CONFIG = AppConfig(
    app_name="compliance",
    migrations_folder_path=str(Path(__file__).parent / "migrations"),
    table_classes=list(ALL_TABLES),
    migration_dependencies=[],
    commands=[],
)
