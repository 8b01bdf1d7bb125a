"""Kafka connection options: consumes Settings (security protocol, SASL user, TLS files), produces the keyword arguments
of every Kafka client the product opens -- kafka-python, aiokafka and Faust -- from one place, so none connects
differently from the others."""
from __future__ import annotations

import ssl
from typing import Any

from streams.config import ConfigError, Settings

SASL = ("SASL_PLAINTEXT", "SASL_SSL")
TLS = ("SSL", "SASL_SSL")


def check(settings: Settings) -> None:
    """Fail fast, naming what to set, when the security settings do not fit together."""
    protocol = settings.kafka_security_protocol
    if protocol in SASL and not (settings.kafka_sasl_username and settings.kafka_sasl_password.get_secret_value()):
        raise ConfigError(f"SURGEWATCH_KAFKA_SECURITY_PROTOCOL={protocol} needs SURGEWATCH_KAFKA_SASL_USERNAME and "
                          "SURGEWATCH_KAFKA_SASL_PASSWORD")
    if protocol not in TLS and (settings.kafka_ssl_cafile or settings.kafka_ssl_certfile):
        raise ConfigError("SURGEWATCH_KAFKA_SSL_* files are set but SURGEWATCH_KAFKA_SECURITY_PROTOCOL is "
                          f"{protocol}: set it to SSL or SASL_SSL")
    if bool(settings.kafka_ssl_certfile) != bool(settings.kafka_ssl_keyfile):
        raise ConfigError("mutual TLS needs both SURGEWATCH_KAFKA_SSL_CERTFILE and SURGEWATCH_KAFKA_SSL_KEYFILE")


def _protocol_and_sasl(settings: Settings) -> dict[str, Any]:
    """The options kafka-python and aiokafka name alike: the protocol and, with SASL, the mechanism and user."""
    check(settings)
    protocol = settings.kafka_security_protocol
    opts: dict[str, Any] = {"security_protocol": protocol}
    if protocol in SASL:
        opts.update(sasl_mechanism=settings.kafka_sasl_mechanism, sasl_plain_username=settings.kafka_sasl_username,
                    sasl_plain_password=settings.kafka_sasl_password.get_secret_value())
    return opts


def kafka_python(settings: Settings) -> dict[str, Any]:
    """kafka-python (KafkaProducer, KafkaConsumer, KafkaAdminClient): nothing extra on a plaintext cluster."""
    opts = _protocol_and_sasl(settings)
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {}
    if protocol in TLS:
        opts.update({k: v for k, v in (("ssl_cafile", settings.kafka_ssl_cafile),
                                       ("ssl_certfile", settings.kafka_ssl_certfile),
                                       ("ssl_keyfile", settings.kafka_ssl_keyfile)) if v})
    return opts


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context of aiokafka and Faust (None without TLS): the CA bundle, and the client pair for mutual TLS."""
    if settings.kafka_security_protocol not in TLS:
        return None
    context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    if settings.kafka_ssl_certfile:
        context.load_cert_chain(settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile or None)
    return context


def aiokafka(settings: Settings) -> dict[str, Any]:
    """aiokafka (the alert forwarder's consumer and dead-letter producer)."""
    opts = _protocol_and_sasl(settings)
    context = ssl_context(settings)
    if context is not None:
        opts["ssl_context"] = context
    return opts


def faust_credentials(settings: Settings) -> Any:
    """Faust's `broker_credentials` (None on a plaintext cluster)."""
    import faust
    check(settings)
    protocol = settings.kafka_security_protocol
    if protocol in SASL:
        return faust.SASLCredentials(username=settings.kafka_sasl_username,
                                     password=settings.kafka_sasl_password.get_secret_value(),
                                     mechanism=settings.kafka_sasl_mechanism, ssl_context=ssl_context(settings))
    if protocol == "SSL":
        return faust.SSLCredentials(ssl_context(settings))
    return None
