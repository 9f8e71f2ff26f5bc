"""Authorization: scopes and per-model allow-lists."""

from __future__ import annotations

import pytest

from mlinfer.auth import ANONYMOUS, Identity, PermissionDeniedError, Scope, authorize
from mlinfer.auth.identity import scopes_from_claims
from mlinfer.core.errors import StatusCode


def _identity(scopes: set[str], models: tuple[str, ...] = ("*",)) -> Identity:
    return Identity("alice", "jwt", frozenset(scopes), models)


def test_scope_and_model_allowed() -> None:
    authorize(_identity({"infer"}, ("digits", "image_*")), Scope.INFER, "image_resnet")


def test_missing_scope_is_403_naming_scope_and_model() -> None:
    with pytest.raises(PermissionDeniedError) as info:
        authorize(_identity({"models:read"}), Scope.INFER, "digits")
    error = info.value
    assert error.status is StatusCode.PERMISSION_DENIED
    assert error.message == "'alice' is missing scope 'infer' for model 'digits'"
    assert error.www_authenticate == (
        'Bearer realm="mlinfer", error="insufficient_scope", '
        "error_description=\"'alice' is missing scope 'infer' for model 'digits'\", "
        'scope="infer"'
    )


def test_model_outside_allow_list_is_403() -> None:
    with pytest.raises(PermissionDeniedError, match="may not access model 'secret_model'"):
        authorize(_identity({"infer"}, ("digits", "image_*")), "infer", "secret_model")


def test_glob_is_case_sensitive_and_whole_name() -> None:
    identity = _identity({"infer"}, ("image_*",))
    assert identity.can_access("image_")
    assert not identity.can_access("Image_x")
    assert not identity.can_access("my_image_x")


def test_admin_implies_read_but_not_infer() -> None:
    admin = _identity(set(scopes_from_claims({"scope": "models:admin"})))
    authorize(admin, Scope.MODELS_READ, "digits")
    authorize(admin, Scope.MODELS_ADMIN, "digits")
    with pytest.raises(PermissionDeniedError, match="missing scope 'infer'"):
        authorize(admin, Scope.INFER, "digits")


def test_calls_without_a_model_check_scope_only_and_filter_listings() -> None:
    reader = _identity({"models:read"}, ("digits",))
    authorize(reader, Scope.MODELS_READ)
    assert reader.visible_models(["digits", "resnet", "image_x"]) == ["digits"]
    with pytest.raises(PermissionDeniedError, match=r"missing scope 'models:admin'$"):
        authorize(reader, Scope.MODELS_ADMIN)


def test_scopes_from_scope_and_scp_claims() -> None:
    assert scopes_from_claims({"scope": "infer  models:read"}) == {"infer", "models:read"}
    assert scopes_from_claims({"scp": ["infer", 7, ""]}) == {"infer"}
    assert scopes_from_claims({"scp": "models:read"}) == {"models:read"}
    assert scopes_from_claims({"scope": 5}) == frozenset()


def test_anonymous_may_do_everything() -> None:
    for scope in Scope:
        authorize(ANONYMOUS, scope, "anything")


def test_client_text_in_messages_is_header_safe() -> None:
    identity = Identity('evil"\r\nX-Injected: 1', "jwt", frozenset())
    with pytest.raises(PermissionDeniedError) as info:
        authorize(identity, Scope.INFER, "m\u00e9")
    assert "\r" not in info.value.www_authenticate
    assert '"\\' not in info.value.www_authenticate
    assert info.value.www_authenticate.count('"') == 8  # four quoted values, nothing else
    assert info.value.message.endswith("for model 'm\u00e9'")
