"""`GET /health` answers 200 with a working database and 503 when it breaks."""

from pathlib import Path
from urllib.parse import urlsplit

import httpx

from compliance.core import db
from tests.support.databases import ENGINE, pg_admin


async def test_health_ok(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "engine": ENGINE,
        "version": "0.1.0",
    }


async def test_health_is_503_when_the_schema_is_gone(client: httpx.AsyncClient) -> None:
    engine = db.current_engine()
    await engine.run_ddl('ALTER TABLE "program" RENAME TO "program_elsewhere"')
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["database"] == "unreachable"
    await engine.run_ddl('ALTER TABLE "program_elsewhere" RENAME TO "program"')
    assert (await client.get("/health")).status_code == 200


async def test_health_is_503_when_the_database_is_unreachable(
    client: httpx.AsyncClient, database_url: str
) -> None:
    assert (await client.get("/health")).status_code == 200
    if ENGINE == "postgres":
        # Closed to connections and its sessions ended: unreachable at once (a DROP waits
        # on the server's file removal, up to half a minute on a loaded machine). The
        # run drops it with the others at the end.
        name = urlsplit(database_url).path.lstrip("/")
        await pg_admin(
            f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false; '
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
    else:
        path = Path(urlsplit(database_url).path)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"
    # The reason goes to the server log, not to the public.
    assert "Error" not in response.text
    if ENGINE == "sqlite":
        assert not Path(urlsplit(database_url).path).exists(), "health created an empty database"
