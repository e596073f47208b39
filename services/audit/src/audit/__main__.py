"""Entry point: ``phananh-audit`` (or ``python -m audit``).

phananh-audit                  run the service
phananh-audit verify [--kafka] recompute the chains and check the signed checkpoints
phananh-audit rebuild-facts    refold the oversight read model from the trail
phananh-audit backup FILE      write the trail (records, chains, checkpoints) to FILE
phananh-audit restore FILE     load FILE into an empty database, then verify it
phananh-audit keygen           print a new checkpoint signing key and its public key
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any

from phananh_citydata import CityDataError
from phananh_platform.runtime import serve
from phananh_platform.settings import load_settings

from audit.app import create_app
from audit.settings import Settings


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    command = args[0] if args else "serve"
    if command == "serve":
        settings = load_settings(Settings, "phananh-audit")
        try:
            app = create_app(settings)
        except CityDataError as error:
            print(f"phananh-audit: {error}", file=sys.stderr)
            raise SystemExit(2) from None
        serve(app)
    elif command == "verify":
        from audit.cli.verify import main as verify

        sys.exit(verify(args[1:]))
    elif command in ("backup", "restore"):
        from audit.cli.backup import main as backup_or_restore

        sys.exit(backup_or_restore(command, args[1:]))
    elif command == "rebuild-facts":
        sys.exit(asyncio.run(_rebuild(load_settings(Settings, "phananh-audit"))))
    elif command == "keygen":
        from audit.domain.checkpoints import (
            generate_signing_key,
            load_signing_key,
            public_key_text,
        )

        key = generate_signing_key()
        print(f"PHANANH_AUDIT_SIGNING_KEY={key}")
        print(
            f'PHANANH_AUDIT_PUBLIC_KEYS=["{public_key_text(load_signing_key(key).public_key())}"]'
        )
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


async def _rebuild(settings: Settings) -> int:
    from phananh_platform.mongo import create_mongo_client

    from audit.adapters.facts_store import FactsStore
    from audit.adapters.trail_store import TrailStore

    client = create_mongo_client(settings.mongodb, app_name="phananh-audit-rebuild")
    try:
        database = client[settings.mongodb.database]
        trail = TrailStore(database)

        async def records() -> AsyncIterator[dict[str, Any]]:
            for chain_id in await trail.chain_ids():
                async for document in trail.read_chain(chain_id):
                    yield document

        count = await FactsStore(database).rebuild(records())
    finally:
        await client.close()
    print(f"read model rebuilt from the trail: {count} reports")
    return 0


if __name__ == "__main__":
    main()
