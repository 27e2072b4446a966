"""Issue 16, one specimen-validity rule: the program's specific-gravity threshold for a
dilute specimen, beside its creatinine threshold; a drug test's nitrite result kept as a
figure (it was only a note), so a lab's correction can judge the specimen again.

Written by hand in the auto generator's form, as other helpers' tables changed at the
same time."""

import decimal

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Numeric
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-04T10:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "program policy: dilute specific-gravity threshold; drug test nitrite"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Program",
        tablename="program",
        column_name="dilute_specific_gravity",
        db_column_name="dilute_specific_gravity",
        column_class_name="Numeric",
        column_class=Numeric,
        params={
            "default": decimal.Decimal("1.0030"),
            "digits": (6, 4),
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="DrugTest",
        tablename="drug_test",
        column_name="nitrite",
        db_column_name="nitrite",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": None,
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    return manager
