"""The state table: every listed transition, and the ones it refuses."""

from __future__ import annotations

import pytest

from chalicelib.domain.errors import InvalidTransition
from chalicelib.domain.states import State, Transition, is_invocable, next_state

S, T = State, Transition


@pytest.mark.parametrize(("frm", "transition", "live", "to"), [
    (S.DRAFT, T.EDIT, False, S.DRAFT), (S.PRODUCTIVE, T.EDIT, True, S.MODIFIED), (S.MODIFIED, T.EDIT, True, S.MODIFIED),
    (S.DRAFT, T.DEPLOY_SUCCEEDED, False, S.PRODUCTIVE), (S.MODIFIED, T.DEPLOY_SUCCEEDED, True, S.PRODUCTIVE),
    (S.DRAFT, T.BUILD_FAILED, False, S.BUILD_ERROR), (S.DRAFT, T.DEPLOY_FAILED, False, S.DEPLOY_ERROR),
    (S.BUILD_ERROR, T.EDIT, False, S.DRAFT), (S.BUILD_ERROR, T.EDIT, True, S.MODIFIED),
    (S.PRODUCTIVE, T.UNDEPLOY, True, S.MARKED_UNDEPLOYED), (S.MODIFIED, T.UNDEPLOY, True, S.MARKED_UNDEPLOYED),
    (S.MARKED_UNDEPLOYED, T.UNDEPLOY_DONE, True, S.DRAFT), (S.DRAFT, T.DELETE, False, S.DRAFT),
])
def test_allowed_transition(frm, transition, live, to):
    assert next_state(frm, transition, live=live) is to


@pytest.mark.parametrize(("frm", "transition", "live"), [
    (S.DRAFT, T.UNDEPLOY, False), (S.MARKED_UNDEPLOYED, T.EDIT, True), (S.MARKED_UNDEPLOYED, T.DEPLOY, True),
    (S.PRODUCTIVE, T.DELETE, True), (S.MODIFIED, T.DELETE, True),
])
def test_refused_transition(frm, transition, live):
    with pytest.raises(InvalidTransition) as exc:
        next_state(frm, transition, live=live)
    assert exc.value.status == 409


def test_invocable_states():
    assert is_invocable(S.PRODUCTIVE, live=True) and is_invocable(S.MODIFIED, live=True)
    assert not is_invocable(S.DRAFT, live=False) and not is_invocable(S.MARKED_UNDEPLOYED, live=True)
    assert not is_invocable(S.PRODUCTIVE, live=False)
