"""Function states and their transitions (spec/management-api.md §6), as a table.

Where a transition depends on whether an earlier deployment is still live (editing a function in Build Error),
the table is keyed by that too, so the rule stays data rather than branches.
"""

from __future__ import annotations

from enum import StrEnum

from chalicelib.domain.errors import InvalidTransition


class State(StrEnum):
    DRAFT = "Draft"
    PRODUCTIVE = "Productive"
    MODIFIED = "Modified"
    MARKED_UNDEPLOYED = "Marked Undeployed"
    BUILD_ERROR = "Build Error"
    DEPLOY_ERROR = "Deploy Error"


class Transition(StrEnum):
    EDIT = "edit"
    DEPLOY = "deploy"
    DEPLOY_SUCCEEDED = "deploy-succeeded"
    BUILD_FAILED = "build-failed"
    DEPLOY_FAILED = "deploy-failed"
    UNDEPLOY = "undeploy"
    UNDEPLOY_DONE = "undeploy-done"
    UNDEPLOY_FAILED = "undeploy-failed"  # gave up: the deployment is still live, and the function says so
    DELETE = "delete"


S, T = State, Transition
_ANY_LIVE = (True, False)
# (from, transition, live) -> to ; "live" = a deployment of this function is serving invocations.
_TABLE: dict[tuple[State, Transition, bool], State] = {}


def _allow(frm: State, transition: Transition, to: State, lives: tuple[bool, ...] = _ANY_LIVE) -> None:
    for live in lives:
        _TABLE[(frm, transition, live)] = to


for _s in (S.DRAFT,):
    _allow(_s, T.EDIT, S.DRAFT, (False,))
for _s in (S.PRODUCTIVE, S.MODIFIED):
    _allow(_s, T.EDIT, S.MODIFIED, (True,))
for _s in (S.BUILD_ERROR, S.DEPLOY_ERROR):
    _allow(_s, T.EDIT, S.DRAFT, (False,))
    _allow(_s, T.EDIT, S.MODIFIED, (True,))
for _s in (S.DRAFT, S.MODIFIED, S.PRODUCTIVE, S.BUILD_ERROR, S.DEPLOY_ERROR):
    _allow(_s, T.DEPLOY, _s)  # the state moves when the deployment finishes
    _allow(_s, T.DEPLOY_SUCCEEDED, S.PRODUCTIVE)
    _allow(_s, T.BUILD_FAILED, S.BUILD_ERROR)
    _allow(_s, T.DEPLOY_FAILED, S.DEPLOY_ERROR)
for _s in (S.PRODUCTIVE, S.MODIFIED, S.BUILD_ERROR, S.DEPLOY_ERROR):
    _allow(_s, T.UNDEPLOY, S.MARKED_UNDEPLOYED, (True,))
_allow(S.MARKED_UNDEPLOYED, T.UNDEPLOY_DONE, S.DRAFT)
_allow(S.MARKED_UNDEPLOYED, T.UNDEPLOY_FAILED, S.DEPLOY_ERROR, (True,))
for _s in (S.DRAFT, S.BUILD_ERROR, S.DEPLOY_ERROR):
    _allow(_s, T.DELETE, _s, (False,))

TRANSITIONS = dict(_TABLE)
"""Read-only view for tests and docs."""


def next_state(current: State, transition: Transition, *, live: bool) -> State:
    """The state after ``transition``; raises InvalidTransition (409) if the table has no such row."""
    try:
        return _TABLE[(current, transition, live)]
    except KeyError:
        raise InvalidTransition(action=transition.value, state=current.value) from None


def is_invocable(state: State, *, live: bool) -> bool:
    """A function serves invocations while a deployment is live and it is not being undeployed."""
    return live and state not in (State.DRAFT, State.MARKED_UNDEPLOYED)
