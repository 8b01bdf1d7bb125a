"""Unit tests of the alert forwarder's pure parts: subscription filter, Alertmanager/webhook mapping, decoding."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import typer
from typer.testing import CliRunner

from sinks.alerting import cli as alerting_cli
from sinks.alerting import forwarder
from sinks.alerting import http
from sinks.alerting import mapping
from streams import records
from streams.codec import decode
from streams.records import Alert, ArticleRef


def decode_alert(value: bytes | None) -> Alert:
    return decode(Alert, value)


NOW = datetime(2023, 11, 2, 12, 0, tzinfo=timezone.utc)


def make_alert(**over: object) -> Alert:
    base = dict(
        alert_id="community:muslims|topic:protest@2023-11-02T10:00:00Z",
        key="community:muslims|topic:protest",
        dimensions={"community": "muslims", "topic": "protest"},
        window_start="2023-11-02T10:00:00Z",
        window_end="2023-11-02T11:00:00Z",
        state="firing",
        observed=14.0,
        expected=2.25,
        score=5.5,
        severity="high",
        top_articles=[ArticleRef(id=f"a{i}", title=f"Protest  in Makhachkala {i}", url=f"https://ex.org/{i}",
                                 source="ex.org") for i in range(7)],
        co_tags=["region:dagestan", "region:north-caucasus"],
        kibana_url="http://localhost:5601/app/discover#/?_a=(query:(language:kuery,query:'id:(a0 or a1)'))",
    )
    base.update(over)
    return Alert(**base)  # type: ignore[arg-type]


def test_severity_rank_orders_and_rejects_unknown() -> None:
    assert [mapping.severity_rank(s) for s in ("low", "Medium", "high", "critical")] == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="unknown severity"):
        mapping.severity_rank("urgent")


@pytest.mark.parametrize(
    "prefixes,min_sev,alert_over,expected",
    [
        ((), "low", {}, True),
        (("region:",), "low", {}, False),
        (("community:muslims",), "low", {}, True),
        (("region:", "community:"), "critical", {}, False),
        ((), "high", {"severity": "medium"}, False),
        ((), "high", {"severity": "critical"}, True),
        # a resolution of a subscribed key always passes, whatever its final severity
        ((), "high", {"severity": "low", "state": "resolved"}, True),
        (("region:",), "low", {"state": "resolved"}, False),
    ],
)
def test_subscription_matches(prefixes: tuple, min_sev: str, alert_over: dict, expected: bool) -> None:
    assert mapping.Subscription(prefixes, min_sev).matches(make_alert(**alert_over)) is expected


def test_subscription_rejects_bad_min_severity() -> None:
    with pytest.raises(ValueError):
        mapping.Subscription((), "loud")


def test_firing_alert_maps_to_alertmanager_v2() -> None:
    [am] = mapping.to_alertmanager(make_alert(), NOW, firing_ttl=timedelta(minutes=30), max_articles=3)
    assert am["labels"] == {"alertname": "SurgewatchSpike", "key": "community:muslims|topic:protest",
                            "severity": "high", "community": "muslims", "topic": "protest"}
    assert am["startsAt"] == "2023-11-02T10:00:00Z"
    assert am["endsAt"] == "2023-11-02T12:30:00Z"
    assert am["generatorURL"].startswith("http://localhost:5601/app/discover")
    ann = am["annotations"]
    assert ann["observed"] == "14" and ann["expected"] == "2.25"
    assert ann["summary"] == "News surge on community:muslims|topic:protest: 14 observed vs 2.2 expected (high, firing)"
    assert ann["kibana_url"] == am["generatorURL"]
    lines = ann["top_articles"].splitlines()
    assert len(lines) == 3
    assert lines[0] == "- Protest in Makhachkala 0 (ex.org) https://ex.org/0"
    assert ann["co_tags"] == "region:dagestan, region:north-caucasus"


def test_resolved_alert_sets_ends_at_for_every_severity() -> None:
    out = mapping.to_alertmanager(make_alert(state="resolved", severity="low"), NOW)
    assert sorted(a["labels"]["severity"] for a in out) == sorted(records.SEVERITIES)
    assert {a["endsAt"] for a in out} == {"2023-11-02T11:00:00Z"}
    assert {a["labels"]["key"] for a in out} == {"community:muslims|topic:protest"}


def test_resolved_alert_never_ends_in_the_future() -> None:
    alert = make_alert(state="resolved", window_end="2023-11-02T18:00:00Z")
    assert {a["endsAt"] for a in mapping.to_alertmanager(alert, NOW)} == {"2023-11-02T12:00:00Z"}


def test_escalation_resolves_lower_severities_of_the_same_key() -> None:
    out = mapping.to_alertmanager(make_alert(state="escalated", severity="high"), NOW)
    by_sev = {a["labels"]["severity"]: a for a in out}
    assert set(by_sev) == {"high", "low", "medium"}
    assert by_sev["high"]["endsAt"] > NOW.isoformat().replace("+00:00", "Z")
    assert by_sev["low"]["endsAt"] == by_sev["medium"]["endsAt"] == "2023-11-02T12:00:00Z"


def test_dimension_label_names_are_sanitised() -> None:
    alert = make_alert(dimensions={"sub-region": "x", "severity": "y", "9x": "z", "empty": ""})
    labels = mapping.alert_labels(alert)
    assert labels["sub_region"] == "x" and labels["dim_severity"] == "y" and labels["_9x"] == "z"
    assert labels["severity"] == "high" and "empty" not in labels


def test_webhook_payload_is_plain_json_of_the_alert() -> None:
    payload = mapping.webhook_payload(make_alert())
    assert "__faust" not in json.dumps(payload)
    assert payload["key"] == "community:muslims|topic:protest"
    assert payload["top_articles"][0] == {"id": "a0", "title": "Protest  in Makhachkala 0",
                                          "url": "https://ex.org/0", "source": "ex.org", "published_at": None}


def test_decode_alert_roundtrip_and_errors() -> None:
    alert = make_alert()
    decoded = decode_alert(alert.dumps())
    assert decoded.key == alert.key and decoded.top_articles[0].title == alert.top_articles[0].title
    for bad, msg in ((None, "empty"), (b"{nope", "not JSON"), (b"[1]", "object"), (b'{"key": "x"}', "missing")):
        with pytest.raises(ValueError, match=msg):
            decode_alert(bad)


def test_register_adds_forward_command_and_validates_options() -> None:
    app = typer.Typer()
    alerting_cli.register(app)

    @app.command("noop")
    def noop() -> None:  # a second command keeps typer in group mode
        pass

    runner = CliRunner()
    res = runner.invoke(app, ["forward", "--help"])
    assert res.exit_code == 0
    for opt in ("--alertmanager-url", "--webhook-url", "--key-prefix", "--min-severity", "--from-beginning",
                "--group-id"):
        assert opt in res.output
    res = runner.invoke(app, ["forward"])
    assert res.exit_code != 0 and "--alertmanager-url" in res.output
    res = runner.invoke(app, ["forward", "--webhook-url", "http://127.0.0.1:9/x", "--min-severity", "loud"])
    assert res.exit_code != 0 and "unknown severity" in res.output


def test_forward_reports_an_unreachable_kafka_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from streams.config import get_settings

    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("SURGEWATCH_KAFKA_BOOTSTRAP", f"127.0.0.1:{port}")
    get_settings.cache_clear()
    try:
        app = typer.Typer()
        alerting_cli.register(app)
        app.command("noop")(lambda: None)
        res = CliRunner().invoke(app, ["forward", "--webhook-url", "http://127.0.0.1:9/x"])
    finally:
        get_settings.cache_clear()
    assert res.exit_code == 2
    assert f"127.0.0.1:{port}" in res.output and "SURGEWATCH_KAFKA_BOOTSTRAP" in res.output


# ------------------------------------------------------------------------------------------------ offsets

def test_offset_book_commits_the_offset_after_the_last_handled_record() -> None:
    tp0, tp1 = forwarder.TopicPartition("alerts", 0), forwarder.TopicPartition("alerts", 1)
    book = forwarder.OffsetBook()
    for off in (4, 5, 6):
        book.handled(tp0, off)
    book.handled(tp1, 0)
    assert book.take() == {tp0: 7, tp1: 1}
    assert book.take() == {}  # taken offsets are not committed twice


def test_a_new_partition_is_pinned_at_its_first_record_or_its_reset_position() -> None:
    assert forwarder.start_offset(committed=None, first_fetched=3, position=9) == 3
    assert forwarder.start_offset(committed=None, first_fetched=None, position=9) == 9
    assert forwarder.start_offset(committed=0, first_fetched=None, position=9) is None
    assert forwarder.start_offset(committed=12, first_fetched=12, position=13) is None


class _Rec:
    def __init__(self, offset: int, value: bytes) -> None:
        self.offset, self.value = offset, value


class _FailsOn:
    """Stands in for Forwarder.deliver: records keys, raises DeliveryError on one key, ValueError on another."""

    def __init__(self, fail_key: str, reject_key: str) -> None:
        self.fail_key, self.reject_key, self.sent = fail_key, reject_key, []

    async def deliver(self, alert: Alert) -> bool:
        if alert.key == self.fail_key:
            raise http.DeliveryError("receiver down")
        if alert.key == self.reject_key:
            raise ValueError("HTTP 400")
        self.sent.append(alert.key)
        return True


async def test_handle_batch_records_what_was_handled_before_retries_ran_out() -> None:
    tp = forwarder.TopicPartition("alerts", 0)
    recs = [_Rec(10, make_alert(key="region:a").dumps()), _Rec(11, b"not json"),
            _Rec(12, make_alert(key="region:rejected").dumps()), _Rec(13, make_alert(key="region:down").dumps()),
            _Rec(14, make_alert(key="region:b").dumps())]
    fwd = _FailsOn("region:down", "region:rejected")
    book = forwarder.OffsetBook()
    dead: list = []

    async def dead_letter(reason: str, error: str, tp_: object, rec: _Rec) -> None:
        dead.append((reason, rec.offset))
    with pytest.raises(http.DeliveryError):
        await forwarder.handle_batch(fwd, book, {tp: recs}, Alert, dead_letter)  # type: ignore[arg-type]
    # delivered, undecodable and rejected alerts are done; the undelivered one (13) is where a restart resumes
    assert fwd.sent == ["region:a"] and book.take() == {tp: 13}
    # nothing is skipped silently: the undecodable and the rejected alert are dead letters
    assert dead == [("bad_record", 11), ("receiver_rejected", 12)]


async def test_a_forged_alert_is_a_dead_letter_not_a_crash() -> None:
    """A missing field or `"severity": 5` must not put the forwarder in a restart loop."""
    tp = forwarder.TopicPartition("alerts", 0)
    good = json.loads(make_alert(key="region:a").dumps())
    forged = [{k: v for k, v in good.items() if k != "key"}, {**good, "severity": 5}, {**good, "state": None}]
    recs = [_Rec(i, json.dumps(f).encode()) for i, f in enumerate(forged)] + [_Rec(3, make_alert(key="region:b").dumps())]
    fwd = _FailsOn("none", "none")
    book = forwarder.OffsetBook()
    dead: list = []

    async def dead_letter(reason: str, error: str, tp_: object, rec: _Rec) -> None:
        dead.append(rec.offset)
    await forwarder.handle_batch(fwd, book, {tp: recs}, Alert, dead_letter)  # type: ignore[arg-type]
    assert fwd.sent == ["region:b"] and dead == [0, 1, 2] and book.take() == {tp: 4}


def test_forward_starts_a_new_group_at_the_oldest_alert_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list = []

    async def record(settings: object, kwargs: object, group: str, from_beginning: bool,
                     incidents: bool = False) -> None:
        seen.append((group, from_beginning))

    monkeypatch.setattr(alerting_cli, "run_forwarder", record)
    app = typer.Typer()
    alerting_cli.register(app)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    for args, expected in (([], True), (["--from-beginning"], True), (["--from-latest"], False)):
        res = runner.invoke(app, ["forward", "--webhook-url", "http://127.0.0.1:9/x", "--group-id", "g", *args])
        assert res.exit_code == 0, res.output
        assert seen.pop() == ("g", expected)


# ------------------------------------------------------------------------------------------------ incidents

def make_incident(change: str = "opened", severity: str = "low", keys: tuple = ("region:ru-da", "region:ru"),
                  new_keys: tuple = ("region:ru-da",), previous: object = None, **over: object) -> records.Incident:
    base = dict(incident_id="inc-0123", revision=1, state="resolved" if change == "resolved" else "open",
                change=change, severity=severity, headline_key=keys[0], headline_label="Dagestan",
                first_seen="2023-11-02T10:05:00Z", last_update="2023-11-02T11:00:00Z", previous_severity=previous,
                keys=[records.IncidentKey(key=k, alert_id=f"a-{k}", state="firing", severity=severity, observed=9.0,
                                          expected=0.5, score=6.0, window_start="2023-11-02T10:00:00Z",
                                          window_end="2023-11-02T11:00:00Z") for k in keys],
                new_keys=list(new_keys), items=12,
                top_articles=[ArticleRef(id="a1", title="Rally in Makhachkala", url="https://ex.org/1")],
                kibana_url="http://localhost:5601/app/discover#/?x")
    base.update(over)
    return records.Incident(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("prefixes,min_sev,incident,expected", [
    ((), "low", make_incident(), "opened"),
    ((), "low", make_incident("updated", new_keys=("region:ru",), previous="low"), None),
    ((), "low", make_incident("escalated", severity="medium", new_keys=(), previous="low"), "escalated"),
    ((), "low", make_incident("resolved", new_keys=(), previous="low"), "resolved"),
    (("topic:",), "low", make_incident(), None),
    (("topic:",), "low", make_incident("resolved", new_keys=()), None),
    # a subscribed key joins an incident: it opens for this subscriber then
    (("topic:",), "low", make_incident("updated", keys=("region:ru-da", "topic:protest"),
                                       new_keys=("topic:protest",), previous="low"), "opened"),
    # it reaches the subscriber's severity: it opens for it then, and its escalation above that notifies again
    ((), "high", make_incident("escalated", severity="high", new_keys=(), previous="medium"), "opened"),
    ((), "medium", make_incident("escalated", severity="high", new_keys=(), previous="medium"), "escalated"),
    ((), "high", make_incident("resolved", severity="medium", new_keys=()), None),
])
def test_incident_notices_once_per_incident(prefixes: tuple, min_sev: str, incident: records.Incident,
                                            expected: object) -> None:
    assert mapping.Subscription(prefixes, min_sev).notice(incident) == expected
    # the record alone decides: the same after a round trip through the wire
    assert mapping.Subscription(prefixes, min_sev).notice(decode(records.Incident, incident.dumps())) == expected


def test_incident_maps_to_one_alertmanager_alert_per_incident() -> None:
    inc = make_incident("escalated", severity="high", new_keys=(), previous="low")
    [fire, *ended] = mapping.incident_to_alertmanager(inc, "escalated", NOW, timedelta(minutes=30))
    assert fire["labels"] == {"alertname": "SurgewatchSpike", "key": "inc-0123", "severity": "high",
                              "incident_id": "inc-0123"}
    assert fire["endsAt"] == "2023-11-02T12:30:00Z" and fire["generatorURL"].startswith("http://localhost:5601")
    ann = fire["annotations"]
    assert "Dagestan" in ann["summary"] and "region:ru: 9 observed vs 0.5 expected" in ann["keys"]
    assert "Rally in Makhachkala" in ann["top_articles"] and ann["kibana_url"]
    assert [a["labels"]["severity"] for a in ended] == ["low", "medium"] and all(a["endsAt"] == iso_now() for a in ended)
    resolved = mapping.incident_to_alertmanager(make_incident("resolved"), "resolved", NOW)
    assert {a["labels"]["severity"] for a in resolved} == set(records.SEVERITIES)
    body = mapping.incident_webhook_payload(inc, "escalated")
    assert body["notice"] == "escalated" and body["incident_id"] == "inc-0123" and body["key_count"] == 2
    json.dumps(body)


def iso_now() -> str:
    return records.iso(NOW)


class _Session:
    """Records POSTs (an aiohttp session stand-in answering 200)."""

    def __init__(self) -> None:
        self.posts: list = []

    def post(self, url: str, json: object, timeout: object) -> "_Resp":
        self.posts.append((url, json))
        return _Resp()


class _Resp:
    status = 200

    async def __aenter__(self) -> "_Resp":
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None


async def test_forwarder_notifies_each_incident_once_and_resolves_it() -> None:
    session = _Session()
    fwd = forwarder.Forwarder(session=session, webhook_url="http://hook/x",  # type: ignore[arg-type]
                              alertmanager_url="http://am")
    revisions = [make_incident(), make_incident("updated", new_keys=("region:ru",), previous="low"),
                 make_incident("updated", new_keys=(), previous="low"), make_incident("resolved", new_keys=())]
    tp = forwarder.TopicPartition("incidents", 0)
    book = forwarder.OffsetBook()
    await forwarder.handle_batch(fwd, book, {tp: [_Rec(i, r.dumps()) for i, r in enumerate(revisions)]},
                                 records.Incident)
    hooks = [body["notice"] for url, body in session.posts if url == "http://hook/x"]
    assert hooks == ["opened", "resolved"] and fwd.forwarded == 2 and fwd.skipped == 2
    assert book.take() == {tp: 4} and fwd.active == {}


def test_forward_notifies_per_incident_by_default_and_per_key_on_request(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list = []

    async def record(settings: object, kwargs: object, group: str, from_beginning: bool,
                     incidents: bool = False) -> None:
        seen.append((group.endswith("-incidents"), incidents))

    monkeypatch.setattr(alerting_cli, "run_forwarder", record)
    app = typer.Typer()
    alerting_cli.register(app)
    app.command("noop")(lambda: None)
    runner = CliRunner()
    for args, expected in (([], (True, True)), (["--per-key"], (False, False))):
        res = runner.invoke(app, ["forward", "--webhook-url", "http://127.0.0.1:9/x", *args])
        assert res.exit_code == 0, res.output
        assert seen.pop() == expected


def test_an_unreachable_receiver_is_a_delivery_error_that_names_no_token() -> None:
    """Retries exhausted on a refused connection end as DeliveryError (the CLI exits 2), and the message shows the
    receiver's host and port only, never the path or query that may hold a token."""
    import asyncio
    import socket

    import aiohttp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://user:pw@127.0.0.1:{port}/hooks/T0KEN?key=SECRET"

    async def go() -> None:
        async with aiohttp.ClientSession() as session:
            await http.post_with_retry(session, url, {"a": 1}, http.RetryPolicy(attempts=2, initial=0.01), 1.0)
    with pytest.raises(http.DeliveryError) as err:
        asyncio.run(go())
    assert f"http://127.0.0.1:{port}" in str(err.value)
    assert "T0KEN" not in str(err.value) and "SECRET" not in str(err.value) and "pw" not in str(err.value)
