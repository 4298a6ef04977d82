"""The gateway's data dir as admin commands see it: it must already be a fngate store (made by `fngate serve`).

Admin commands write beside a running gateway (SQLite in WAL mode) or with none running; what they must never do
is create a second, empty store in a mistyped folder, whose keys and tokens the gateway would not know.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

from chalicelib.devcli.errors import CliError, Exit

if TYPE_CHECKING:
    from chalicelib.config import Settings

SQLITE_MAGIC = b"SQLite format 3\x00"
WAIT_STEP_S = 0.2


def store_problem(settings: Settings) -> str | None:
    """Why ``settings.data_dir`` is not a fngate store, or None if it is (other stores: nothing to check)."""
    if settings.store != "sqlite":
        return None
    where = settings.data_dir.resolve()
    if not where.is_dir():
        return f"there is no fngate data dir at {where}"
    db = settings.sqlite_path
    try:
        with db.open("rb") as f:
            if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                return f"{where} is not a fngate store: {db.name} is not an SQLite database"
    except FileNotFoundError:
        return f"{where} is not a fngate store (it has no {db.name})"
    if settings.keyring == "local" and not Path(settings.key_dir).is_dir():
        return f"{where} is not a complete fngate store (it has no {Path(settings.key_dir).name}/ with its keys)"
    return None


def require_store(settings: Settings, wait_s: float = 0.0) -> None:
    """Refuse a folder that is not a fngate store; ``wait_s``: give a gateway that is starting time to make it."""
    deadline = time.monotonic() + wait_s
    while (problem := store_problem(settings)) is not None:
        if time.monotonic() >= deadline:
            raise CliError(problem, Exit.NO_STORE,
                           hint="pass the --data-dir (or FNGATE_DATA_DIR) the gateway uses; `fngate serve "
                                "--data-dir DIR` creates a store on first start (--wait SECONDS waits for it)")
        time.sleep(WAIT_STEP_S)


def open_identity(settings: Settings) -> SimpleNamespace:
    from chalicelib.clock import Clock
    from chalicelib.services.container import build_keyring, build_store
    from chalicelib.services.identity import IdentityService, load_signer

    store, keyring = build_store(settings), build_keyring(settings)
    return SimpleNamespace(store=store, identity=IdentityService(store, keyring, load_signer(store, keyring),
                                                                Clock()))
