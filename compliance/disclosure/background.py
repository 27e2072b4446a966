"""The app's background loop: violation notices and outbox delivery every half minute,
and the daily signed audit checkpoint. One failure is logged (without message bodies)
and the loop goes on."""

from __future__ import annotations

import asyncio
import logging

from compliance import audit
from compliance.core.settings import Settings
from compliance.disclosure import notices, outbox

INTERVAL_S = 30.0
log = logging.getLogger(__name__)


async def run_once(settings: Settings) -> tuple[int, outbox.DeliveryReport]:
    queued = await notices.send_violation_notices(settings)
    return queued, await outbox.deliver_due(settings)


async def loop(settings: Settings, interval: float = INTERVAL_S) -> None:
    while True:
        try:
            await run_once(settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("background jobs failed: %s", exc.__class__.__name__)
        try:
            await audit.checkpoint_if_due(settings)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("audit checkpoint failed: %s", exc.__class__.__name__)
        await asyncio.sleep(interval)
