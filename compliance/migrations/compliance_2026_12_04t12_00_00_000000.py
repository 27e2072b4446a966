"""Issue 16, program analytes: an analyte's kind (a drug, or an immunoassay class such as
opiates, confirmed per drug), its drug class, and the class a drug is confirmed under.
Written by hand in the auto generator's form, with an ID apart from the other helpers'."""

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.base import OnDelete
from piccolo.columns.base import OnUpdate
from piccolo.columns.column_types import ForeignKey
from piccolo.columns.column_types import Serial
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod
from piccolo.table import Table


class Analyte(Table, tablename="analyte", schema=None):
    id = Serial(
        null=False,
        primary_key=True,
        unique=False,
        index=False,
        index_method=IndexMethod.btree,
        choices=None,
        db_column_name="id",
        secret=False,
    )


ID = "2026-12-04T12:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "program analytes: kinds (drug, immunoassay class), drug class, class members"


def _varchar(length: int, default: str) -> dict:
    return {
        "length": length,
        "default": default,
        "null": False,
        "primary_key": False,
        "unique": False,
        "index": False,
        "index_method": IndexMethod.btree,
        "choices": None,
        "db_column_name": None,
        "secret": False,
    }


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Analyte",
        tablename="analyte",
        column_name="kind",
        db_column_name="kind",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_varchar(10, "drug"),
        schema=None,
    )

    manager.add_column(
        table_class_name="Analyte",
        tablename="analyte",
        column_name="drug_class",
        db_column_name="drug_class",
        column_class_name="Varchar",
        column_class=Varchar,
        params=_varchar(80, ""),
        schema=None,
    )

    manager.add_column(
        table_class_name="Analyte",
        tablename="analyte",
        column_name="member_of",
        db_column_name="member_of",
        column_class_name="ForeignKey",
        column_class=ForeignKey,
        params={
            "references": Analyte,
            "on_delete": OnDelete.restrict,
            "on_update": OnUpdate.cascade,
            "target_column": None,
            "null": True,
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
