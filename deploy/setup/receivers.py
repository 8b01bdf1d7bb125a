"""Alertmanager receivers from the environment: consumes deploy/alertmanager/alertmanager.yml (routes, inhibitions,
receiver names) and ALERT_* variables (webhook URL, Slack, SMTP), produces the config Alertmanager runs with."""
from __future__ import annotations

import copy
from typing import Any, Dict, List, Mapping

# receivers that also send email (urgent spikes and on-call pipeline alerts); Slack and the webhook get all
EMAIL_RECEIVERS = frozenset({"spikes-urgent-webhook", "oncall-webhook"})


class ReceiverConfigError(ValueError):
    """An ALERT_* variable is missing or malformed (the message names it)."""


def _url(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if value and not value.startswith(("http://", "https://")):
        raise ReceiverConfigError(f"{name} must be an http(s) URL, got {value!r}")
    return value


def _email(env: Mapping[str, str]) -> Dict[str, Any]:
    to = env.get("ALERT_EMAIL_TO", "").strip()
    if not to:
        return {}
    host, sender = env.get("ALERT_SMTP_SMARTHOST", "").strip(), env.get("ALERT_SMTP_FROM", "").strip()
    for name, value in (("ALERT_SMTP_SMARTHOST", host), ("ALERT_SMTP_FROM", sender)):
        if not value:
            raise ReceiverConfigError(f"ALERT_EMAIL_TO is set, so {name} is required")
    if ":" not in host:
        raise ReceiverConfigError(f"ALERT_SMTP_SMARTHOST must be host:port, got {host!r}")
    tls = env.get("ALERT_SMTP_REQUIRE_TLS", "true").strip().lower()
    if tls not in ("true", "false"):
        raise ReceiverConfigError(f"ALERT_SMTP_REQUIRE_TLS must be true or false, got {tls!r}")
    email: Dict[str, Any] = {"to": to, "from": sender, "smarthost": host, "require_tls": tls == "true",
                             "send_resolved": True}
    if env.get("ALERT_SMTP_USERNAME"):
        email["auth_username"] = env["ALERT_SMTP_USERNAME"]
        email["auth_password"] = env.get("ALERT_SMTP_PASSWORD", "")
    return email


def integrations(name: str, env: Mapping[str, str]) -> Dict[str, List[Dict[str, Any]]]:
    """The webhook / Slack / email configs one receiver gets from env (none configured: an empty receiver,
    whose alerts show in Alertmanager's UI only)."""
    out: Dict[str, List[Dict[str, Any]]] = {}
    hook = _url(env, "ALERT_WEBHOOK_URL")
    if hook:
        out["webhook_configs"] = [{"url": hook.replace("{receiver}", name), "send_resolved": True}]
    slack = _url(env, "ALERT_SLACK_WEBHOOK_URL")
    if slack:
        cfg: Dict[str, Any] = {"api_url": slack, "send_resolved": True,
                               "title": '{{ .CommonLabels.alertname }} ({{ .Status }}): {{ .CommonLabels.key }}',
                               "text": '{{ range .Alerts }}{{ .Annotations.summary }}\n{{ end }}'}
        if env.get("ALERT_SLACK_CHANNEL"):
            cfg["channel"] = env["ALERT_SLACK_CHANNEL"]
        out["slack_configs"] = [cfg]
    email = _email(env)
    if email and name in EMAIL_RECEIVERS:
        out["email_configs"] = [email]
    return out


def render(base: Mapping[str, Any], env: Mapping[str, str]) -> Dict[str, Any]:
    """The shipped config with every receiver's integrations replaced by what env configures."""
    cfg = copy.deepcopy(dict(base))
    receivers = []
    for rcv in cfg["receivers"]:
        receivers.append({"name": rcv["name"], **integrations(rcv["name"], env)})
    cfg["receivers"] = receivers
    return cfg


def configured_channels(cfg: Mapping[str, Any]) -> List[str]:
    """Integration kinds present in a rendered config (empty: alerts reach no one outside Alertmanager's UI)."""
    kinds = {k for r in cfg["receivers"] for k in r if k.endswith("_configs")}
    return sorted(kinds)
