from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from enum import Enum
from piccolo.columns.column_types import Boolean
from piccolo.columns.column_types import Timestamptz
from piccolo.columns.column_types import Varchar
from piccolo.columns.indexes import IndexMethod

ID = "2026-12-03T17:40:35:244416"
VERSION = "1.38.0"
DESCRIPTION = "Lab workflow: drug-test version kinds, confirmation time, MRO name, oxidants; default panel; presumptive policy"


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="compliance", description=DESCRIPTION)

    manager.add_column(
        table_class_name="Program",
        tablename="program",
        column_name="presumptive_counts_before_confirmation",
        db_column_name="presumptive_counts_before_confirmation",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": False,
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
        table_class_name="Analyte",
        tablename="analyte",
        column_name="in_default_panel",
        db_column_name="in_default_panel",
        column_class_name="Boolean",
        column_class=Boolean,
        params={
            "default": True,
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
        column_name="mro_name",
        db_column_name="mro_name",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 200,
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

    manager.add_column(
        table_class_name="DrugTest",
        tablename="drug_test",
        column_name="oxidants",
        db_column_name="oxidants",
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

    manager.add_column(
        table_class_name="DrugTest",
        tablename="drug_test",
        column_name="version_kind",
        db_column_name="version_kind",
        column_class_name="Varchar",
        column_class=Varchar,
        params={
            "length": 20,
            "default": "original",
            "null": False,
            "primary_key": False,
            "unique": False,
            "index": False,
            "index_method": IndexMethod.btree,
            "choices": Enum(
                "VersionKind",
                {
                    "original": "original",
                    "correction": "correction",
                    "confirmation": "confirmation",
                    "mro_review": "mro_review",
                },
            ),
            "db_column_name": None,
            "secret": False,
        },
        schema=None,
    )

    manager.add_column(
        table_class_name="AnalyteResult",
        tablename="analyte_result",
        column_name="confirmed_at",
        db_column_name="confirmed_at",
        column_class_name="Timestamptz",
        column_class=Timestamptz,
        params={
            "default": None,
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

    manager.alter_column(
        table_class_name="Violation",
        tablename="violation",
        column_name="kind",
        db_column_name="kind",
        params={
            "choices": Enum(
                "ViolationKind",
                {
                    "missed_test": "missed_test",
                    "refused_test": "refused_test",
                    "confirmed_positive": "confirmed_positive",
                    "adulterated_specimen": "adulterated_specimen",
                    "substituted_specimen": "substituted_specimen",
                    "dilute_specimen": "dilute_specimen",
                    "unexcused_absence": "unexcused_absence",
                    "presumptive_positive": "presumptive_positive",
                },
            )
        },
        old_params={
            "choices": Enum(
                "ViolationKind",
                {
                    "missed_test": "missed_test",
                    "refused_test": "refused_test",
                    "confirmed_positive": "confirmed_positive",
                    "adulterated_specimen": "adulterated_specimen",
                    "substituted_specimen": "substituted_specimen",
                    "dilute_specimen": "dilute_specimen",
                    "unexcused_absence": "unexcused_absence",
                },
            )
        },
        column_class=Varchar,
        old_column_class=Varchar,
        schema=None,
    )

    return manager
