"""Unit tests for settings: env prefix, derived URLs, fail-fast errors naming the variable."""
from pathlib import Path

import pytest

from streams import config
from streams.config import ConfigError, Settings


def test_defaults_point_at_local_stack():
    s = Settings(_env_file=None)
    assert s.uses_local_stack
    assert s.kafka_servers == "127.0.0.1:19092"
    assert s.elasticsearch_url == "http://127.0.0.1:19200"


def test_env_prefix_and_external_servers(monkeypatch):
    monkeypatch.setenv("SURGEWATCH_KAFKA_BOOTSTRAP", "kafka://broker:9092")
    monkeypatch.setenv("SURGEWATCH_ES_URL", "http://es:9200")
    s = Settings(_env_file=None)
    assert s.kafka_servers == "broker:9092" and not s.uses_local_stack


def test_settings_are_frozen():
    s = Settings(_env_file=None)
    with pytest.raises(Exception):
        s.app_id = "other"  # type: ignore[misc]


def test_bad_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("SURGEWATCH_TOPIC_PARTITIONS", "zero")
    config.get_settings.cache_clear()
    try:
        with pytest.raises(ConfigError, match="SURGEWATCH_TOPIC_PARTITIONS"):
            config.get_settings()
    finally:
        config.get_settings.cache_clear()


def test_unknown_stage_fails_fast():
    from surgewatch.app import build_app
    with pytest.raises(ValueError, match="SURGEWATCH_STAGES"):
        build_app(Settings(_env_file=None, stages="enrich,bogus"))


def test_run_reset_is_refused_on_an_external_cluster() -> None:
    # `surgewatch run --reset` wipes topics by name: never on a cluster the project did not start
    from surgewatch.runner import prepare
    external = Settings(_env_file=None, kafka_bootstrap="broker.example:9092", es_url="http://es.example:9200")
    with pytest.raises(ConfigError, match="run without --reset"):
        prepare(external, reset=True)


def test_reset_never_deletes_a_folder_that_is_not_a_worker_data_dir(tmp_path: Path) -> None:
    # a mistyped SURGEWATCH_WORKER_DATA_DIR (`~`) must survive `run --reset`: only the stack dir's own folders or a
    # folder a worker marked are removed
    from surgewatch.runner import WORKER_MARKER, remove_worker_data, worker_data_removable
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    s = Settings(_env_file=None, stack_dir=tmp_path / "stack", worker_data_dir=home)
    assert not worker_data_removable(s)
    with pytest.raises(ConfigError, match="SURGEWATCH_WORKER_DATA_DIR"):
        remove_worker_data(s)
    assert (home / "notes").is_dir()
    (home / WORKER_MARKER).touch()
    remove_worker_data(s)
    assert not home.exists()
    inside = Settings(_env_file=None, stack_dir=tmp_path / "stack", worker_data_dir=tmp_path / "stack" / "w")
    (tmp_path / "stack" / "w").mkdir(parents=True)
    assert worker_data_removable(inside)
