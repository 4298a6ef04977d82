"""Exit codes of the `fngate` developer commands and the one error type that carries them.

Every command ends in one of these codes; ``CliError`` is printed as one line (plus a hint), never a traceback.
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    FAILED = 1  # the work ran and failed: Build/Deploy Error, the function threw, a dead job
    USAGE = 2  # bad input: arguments, local files (argparse uses 2 too)
    AUTH = 3  # not logged in, wrong password, unknown app key, expired or revoked token
    NOT_FOUND = 4  # no such function, deployment, user, app key, profile
    CONFLICT = 5  # the current state forbids it (deploy while deploying, delete while live, name taken)
    UNREACHABLE = 6  # the gateway does not answer (server down, wrong URL)
    SERVER = 7  # the gateway answered with a server error or something unexpected
    ABORTED = 8  # the user declined a confirmation
    TIMEOUT = 9  # waiting for a deploy/undeploy gave up
    FORBIDDEN = 10  # valid credentials without the role the action needs
    NO_STORE = 11  # an admin command was pointed at a data dir that is not a fngate store


class CliError(Exception):
    def __init__(self, message: str, code: Exit = Exit.FAILED, *, hint: str = "", details: object = None) -> None:
        super().__init__(message)
        self.message, self.code, self.hint, self.details = message, code, hint, details


def usage(message: str, hint: str = "") -> CliError:
    return CliError(message, Exit.USAGE, hint=hint)
