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


def test_precut_budget_and_crons_come_from_settings():
    settings = Settings.from_env({"PRECUT_MAX_CLIPS_PER_RUN": "8", "PRECUT_CRON": "5 * * * *",
                                  "AWS_ENDPOINT_URL_LAMBDA": "http://127.0.0.1:9"})
    assert settings.precut_budget.per_run == 8 and settings.precut_budget.per_day == 1000
    assert (settings.precut_cron, settings.clip_demand_cron) == ("5 * * * *", "50 * * * *")
    assert settings.lambda_endpoint_url == "http://127.0.0.1:9"
    with pytest.raises(ValueError, match="PRECUT_MAX_COST_PER_DAY_USD must be a number"):
        Settings.from_env({"PRECUT_MAX_COST_PER_DAY_USD": "lots"})


def test_the_dagster_resource_names_set_variables_as_env_vars(monkeypatch):
    import dagster as dg

    from podclips_dagster.defs.resources import ClipServiceResource, clip_service_resource

    monkeypatch.setenv("MONGODB_URI", "mongodb://user:secret@127.0.0.1:9/")
    monkeypatch.setenv("S3_CLIPS_BUCKET", "clips-from-env")
    monkeypatch.delenv("S3_SOURCE_BUCKET", raising=False)
    resource = clip_service_resource()
    assert isinstance(resource.mongodb_uri, dg.EnvVar) and resource.mongodb_uri.env_var_name \
        == "MONGODB_URI"  # the UI shows the name, never the password
    assert resource.source_bucket == "pod-insights-raw"  # unset: the default, shown as such

    @dg.asset
    def buckets(clip_service: ClipServiceResource) -> dict:
        settings = clip_service.settings()
        return {"clips": settings.clips_bucket, "uri": settings.mongodb_uri}

    result = dg.materialize([buckets], resources={"clip_service": resource})
    assert result.output_for_node("buckets") == {
        "clips": "clips-from-env", "uri": "mongodb://user:secret@127.0.0.1:9/"}
