"""Kafka connection options: one builder for kafka-python, aiokafka and Faust; plaintext adds nothing; bad combinations
fail fast naming what to set; secrets never show in the settings' repr."""
from __future__ import annotations

import faust
import pytest

from streams import kafka_clients
from streams.config import ConfigError, Settings


def settings(**kw: object) -> Settings:
    return Settings(_env_file=None, **kw)


def test_plaintext_adds_nothing_to_kafka_python_and_no_faust_credentials() -> None:
    s = settings()
    assert kafka_clients.kafka_python(s) == {}
    assert kafka_clients.aiokafka(s) == {"security_protocol": "PLAINTEXT"}
    assert kafka_clients.faust_credentials(s) is None


def test_scram_reaches_every_client() -> None:
    s = settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="app", kafka_sasl_password="pw",
                 kafka_sasl_mechanism="SCRAM-SHA-256")
    expected = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
                "sasl_plain_username": "app", "sasl_plain_password": "pw"}
    assert kafka_clients.kafka_python(s) == expected
    assert kafka_clients.aiokafka(s) == expected
    creds = kafka_clients.faust_credentials(s)
    assert isinstance(creds, faust.SASLCredentials)
    assert (creds.username, creds.password, creds.mechanism.value, creds.protocol.value) == \
        ("app", "pw", "SCRAM-SHA-256", "SASL_PLAINTEXT")
    assert "pw" not in repr(s)


def test_sasl_ssl_uses_a_tls_context_with_the_system_cas() -> None:
    s = settings(kafka_security_protocol="SASL_SSL", kafka_sasl_username="app", kafka_sasl_password="pw")
    assert kafka_clients.aiokafka(s)["ssl_context"] is not None
    creds = kafka_clients.faust_credentials(s)
    assert creds.protocol.value == "SASL_SSL" and creds.ssl_context is not None
    assert "ssl_cafile" not in kafka_clients.kafka_python(s)


def test_ssl_alone_gives_faust_ssl_credentials() -> None:
    creds = kafka_clients.faust_credentials(settings(kafka_security_protocol="SSL"))
    assert isinstance(creds, faust.SSLCredentials)


@pytest.mark.parametrize("kw,names", [
    ({"kafka_security_protocol": "SASL_SSL"}, "SURGEWATCH_KAFKA_SASL_USERNAME and SURGEWATCH_KAFKA_SASL_PASSWORD"),
    ({"kafka_security_protocol": "SASL_PLAINTEXT", "kafka_sasl_username": "app"}, "SURGEWATCH_KAFKA_SASL_PASSWORD"),
    ({"kafka_ssl_cafile": "/etc/ca.pem"}, "SURGEWATCH_KAFKA_SECURITY_PROTOCOL"),
    ({"kafka_security_protocol": "SSL", "kafka_ssl_certfile": "c.pem"}, "SURGEWATCH_KAFKA_SSL_KEYFILE"),
])
def test_bad_combinations_fail_fast_naming_what_to_set(kw: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        kafka_clients.kafka_python(settings(**kw))


def test_es_url_credentials_never_shown() -> None:
    s = settings(es_url="https://elastic:hunter2@es.internal:9200/?x=1")
    assert s.elasticsearch_url_shown == "https://es.internal:9200/"
    from sinks.elasticsearch.client import _options
    assert _options(settings(es_api_key="a2V5", es_username="u"))["api_key"] == "a2V5"
    assert "basic_auth" not in _options(settings(es_api_key="a2V5", es_username="u"))
    assert _options(settings(es_ca_certs="/ca.pem"))["ca_certs"] == "/ca.pem"
