"""A 403 from the tracking server, said with the user and the permission it lacks."""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import PERMISSION_DENIED, RESOURCE_DOES_NOT_EXIST

from taxonomist.tracking.permissions import RegistryPermissionError, permission_needed


def test_a_refused_write_names_the_user_the_permission_and_the_model(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "reader")
    with pytest.raises(RegistryPermissionError,
                       match=r"user 'reader' may not move @live: it needs EDIT permission on "
                       r"registered model digits\.stack and lacks it \(the tracking server "
                       r"answered: Permission denied\)") as refused:
        with permission_needed("digits.stack", "EDIT", "move @live"):
            raise MlflowException("Permission denied", error_code=PERMISSION_DENIED)
    assert refused.value.user == "reader"


def test_without_a_username_the_message_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME", raising=False)
    with pytest.raises(RegistryPermissionError, match=r"MLFLOW_TRACKING_USERNAME is not set"):
        with permission_needed("digits.stack", "EDIT", "move @live"):
            raise MlflowException("Permission denied", error_code=PERMISSION_DENIED)


def test_other_errors_pass_through() -> None:
    with pytest.raises(MlflowException, match="no such model"):
        with permission_needed("digits.stack", "EDIT", "move @live"):
            raise MlflowException("no such model", error_code=RESOURCE_DOES_NOT_EXIST)
