"""Piccolo's configuration, so ``PICCOLO_CONF=compliance.piccolo_conf piccolo ...`` works.

The engine comes from ``DATABASE_URL`` exactly as the app's does.
"""

from piccolo.conf.apps import AppRegistry

from compliance.core.db import create_engine
from compliance.core.settings import database_target_from_env

DB = create_engine(database_target_from_env())

APP_REGISTRY = AppRegistry(apps=["compliance.piccolo_app"])
