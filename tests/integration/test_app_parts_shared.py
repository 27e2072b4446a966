"""The test harness works out each handler's signature and signature model once per
process (tests/support/app.py); an app built that way must be the app built from
scratch."""

import json
from typing import Any

from litestar import Litestar
from msgspec.structs import fields

from compliance.app import create_app
from compliance.core.settings import Settings
from tests.support.app import signatures_parsed_afresh


def handlers_as_built(app: Litestar) -> list[tuple[str, ...]]:
    """Every handler with what Litestar made of its signature: parameters (type, default,
    kind), return type, the fields of its signature model (name, type, default) and the
    keyword arguments it is called with."""
    rows = []
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            signature = handler.parsed_fn_signature
            model = handler.signature_model
            rows.append(
                (
                    route.path,
                    str(handler),
                    repr(sorted(handler.http_methods)),
                    repr(
                        sorted(
                            (name, repr(f.annotation), repr(f.default), repr(f.kwarg_definition))
                            for name, f in signature.parameters.items()
                        )
                    ),
                    repr(signature.return_type.annotation),
                    repr(sorted((f.name, repr(f.type), repr(f.default)) for f in fields(model))),
                    repr(sorted(_kwargs(handler, route))),
                )
            )
    return sorted(rows)


def _kwargs(handler: Any, route: Any) -> list[str]:
    model = handler.create_kwargs_model(path_parameters=route.path_parameters)
    params = (
        *model.expected_path_params,
        *model.expected_query_params,
        *model.expected_header_params,
        *model.expected_cookie_params,
    )
    return [
        repr(sorted(repr(p) for p in params)),
        repr(sorted(model.expected_reserved_kwargs)),
        repr(sorted(d.key for batch in model.dependency_batches for d in batch)),
        repr((model.expected_form_data, model.expected_msgpack_data, model.is_data_optional)),
    ]


def test_an_app_built_with_remembered_signatures_is_the_app_built_afresh(
    settings: Settings,
) -> None:
    create_app(settings)  # the process has seen every handler once
    remembered = create_app(settings)
    with signatures_parsed_afresh():
        afresh = create_app(settings)
    assert handlers_as_built(remembered) == handlers_as_built(afresh)
    assert len(handlers_as_built(afresh)) > 300
    schema = [
        json.dumps(app.openapi_schema.to_schema(), sort_keys=True) for app in (remembered, afresh)
    ]
    assert schema[0] == schema[1]
