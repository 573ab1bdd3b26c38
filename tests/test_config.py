"""Settings from env vars: defaults that depend on where podclips runs, and clear errors."""

import pytest

from podclips_dagster.config import Settings


def test_storage_and_precut_mode_follow_where_it_runs():
    local = Settings.from_env({})
    assert (local.storage, local.precut_mode) == ("local", "direct")  # `podclips dev`, a server
    on_lambda = Settings.from_env({"MONGODB_URI": "mongodb://db", "AWS_LAMBDA_FUNCTION_NAME": "f"})
    assert (on_lambda.storage, on_lambda.precut_mode) == ("s3", "invoke")
    assert on_lambda.lambda_function_name == "f" and local.lambda_function_name is None
    assert Settings.from_env({"AWS_LAMBDA_FUNCTION_NAME": "f", "PRECUT_MODE": "queue"}
                             ).precut_mode == "queue"


@pytest.mark.parametrize("env, says", [
    ({"PRECUT_MODE": "later"}, "PRECUT_MODE must be one of direct, invoke, queue, got 'later'"),
    ({"PODCLIPS_STORAGE": "ftp"}, "PODCLIPS_STORAGE must be 's3' or 'local', got 'ftp'"),
    ({"CLIP_RETENTION_DAYS": "a month"}, "CLIP_RETENTION_DAYS must be an integer, got 'a month'"),
])
def test_bad_values_are_named(env, says):
    with pytest.raises(ValueError) as err:
        Settings.from_env(env)
    assert str(err.value) == says


def test_library_code_without_mongodb_uri_names_the_missing_setting(tmp_path):
    from podclips_dagster.core.errors import MissingConfiguration
    from podclips_dagster.core.service import ClipService

    with pytest.raises(MissingConfiguration) as err:
        ClipService.from_settings(Settings.from_env({"PODCLIPS_HOME": str(tmp_path)}))
    assert err.value.code == "not_configured" and "MONGODB_URI is not set" in err.value.message
    assert not any(tmp_path.iterdir())  # no embedded server was started behind our back

