"""Runtime settings: one frozen dataclass, one parser from the environment.

Command-line flags override the environment, which overrides the defaults:
``Settings.from_env(os.environ, port=9000)``.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DEFAULT_SENDER = "sluiceway notifications <no-reply@sluiceway.localhost>"

Durability = Literal["full", "relaxed"]
Isolation = Literal["process", "thread"]
FrontDoorMode = Literal["process", "inline"]


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path(".sluiceway")
    host: str = "127.0.0.1"
    port: int = 8080
    smtp: str | None = None
    smtp_from: str = DEFAULT_SENDER
    sms: str = "outbox"
    mqtt: str | None = None  # mqtt(s)://[user:password@]host[:port]; None: an embedded broker
    auto_confirm: bool = False
    params: Mapping[str, str] = field(default_factory=dict)
    region: str = "us-east-1"
    account_id: str = "000000000000"
    durability: Durability = "full"
    public_url: str | None = None
    tls_cert: str | None = None  # a PEM file, or "self-signed" (made in the data directory)
    tls_key: str | None = None
    log_format: Literal["auto", "json", "pretty"] = "auto"
    # The web console at /console: loopback clients only, plus these addresses or networks
    # ("*": any); a token when the runtime binds beyond loopback (made at start if None).
    console: bool = True
    console_hosts: tuple[str, ...] = ()
    console_token: str | None = None
    # process: each function in execution environments of its own (`sluiceway run`'s
    # default; needs an app loaded by reference). thread: handlers on threads of this
    # process (an app built inside a test).
    isolation: Isolation = "thread"
    environment_idle_seconds: float = 300.0  # an idle environment is reaped after this
    # process: `sluiceway run` accepts HTTP in a front door process of its own, which stores
    # queue routes' messages through the writer and hands every other request to the
    # runtime's gateway (`sluiceway run`'s default). inline: the runtime's gateway alone.
    front_door: FrontDoorMode = "inline"
    # Failed client authentications a minute at the token endpoint, per client id and per
    # source address, before it answers 429 (`sluiceway.cognito.throttle`).
    token_failure_limit: int = 20

    def __post_init__(self) -> None:
        if self.durability not in ("full", "relaxed"):
            raise ValueError(f"durability must be 'full' or 'relaxed', not {self.durability!r}")
        if not 0 <= self.port <= 65535:
            raise ValueError(f"port {self.port} is not 0..65535")
        if any(c in self.smtp_from for c in "\r\n") or "@" not in self.smtp_from:
            raise ValueError(f"--smtp-from {self.smtp_from!r} is not an email address")
        if not (
            self.sms == "outbox"
            or self.sms.startswith(("http://", "https://"))
            or (self.sms.startswith("python:") and self.sms.count(":") >= 2)
        ):
            raise ValueError(
                f"--sms {self.sms!r}: use outbox, an http(s):// URL or python:module:attr"
            )
        if self.mqtt is not None and not self.mqtt.startswith(("mqtt://", "mqtts://")):
            raise ValueError(f"--mqtt {self.mqtt!r}: use mqtt://[user:password@]host[:port]")
        if self.tls_cert not in (None, "self-signed") and not self.tls_key:
            raise ValueError("--tls-cert needs --tls-key (or use --tls self-signed)")
        if self.log_format not in ("auto", "json", "pretty"):
            raise ValueError(f"log format must be auto, json or pretty, not {self.log_format!r}")
        if self.isolation not in ("process", "thread"):
            raise ValueError(f"isolation must be 'process' or 'thread', not {self.isolation!r}")
        if self.front_door not in ("process", "inline"):
            raise ValueError(f"front door must be 'process' or 'inline', not {self.front_door!r}")
        if not isinstance(self.token_failure_limit, int) or self.token_failure_limit < 1:
            raise ValueError(
                f"--token-failure-limit {self.token_failure_limit!r}: at least 1 a minute"
            )
        if not self.environment_idle_seconds > 0:
            raise ValueError("environment_idle_seconds must be more than 0")
        for host in self.console_hosts:
            if host.lower() not in ("*", "any"):
                try:
                    ipaddress.ip_network(host, strict=False)
                except ValueError:
                    raise ValueError(
                        f"--console-host {host!r}: use an address, a network (10.0.0.0/8) or *"
                    ) from None

    @property
    def base_url(self) -> str:
        """Where links in notifications point (confirmation, unsubscribe)."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        scheme = "https" if self.tls_cert else "http"
        return f"{scheme}://{host}:{self.port}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read ``SLUICEWAY_*`` variables; keyword arguments (flags) win over them."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if "SLUICEWAY_DATA_DIR" in env:
            values["data_dir"] = Path(env["SLUICEWAY_DATA_DIR"])
        if "SLUICEWAY_HOST" in env:
            values["host"] = env["SLUICEWAY_HOST"]
        if "SLUICEWAY_PORT" in env:
            values["port"] = int(env["SLUICEWAY_PORT"])
        if "SLUICEWAY_SMTP" in env:
            values["smtp"] = env["SLUICEWAY_SMTP"] or None
        if "SLUICEWAY_SMS" in env:
            values["sms"] = env["SLUICEWAY_SMS"] or "outbox"
        if "SLUICEWAY_MQTT" in env:
            values["mqtt"] = env["SLUICEWAY_MQTT"] or None
        if "SLUICEWAY_SMTP_FROM" in env:
            values["smtp_from"] = env["SLUICEWAY_SMTP_FROM"]
        if env.get("SLUICEWAY_AUTO_CONFIRM", "").lower() in ("1", "true", "yes"):
            values["auto_confirm"] = True
        if "SLUICEWAY_REGION" in env:
            values["region"] = env["SLUICEWAY_REGION"]
        if "SLUICEWAY_DURABILITY" in env:
            values["durability"] = env["SLUICEWAY_DURABILITY"]
        if "SLUICEWAY_PUBLIC_URL" in env:
            values["public_url"] = env["SLUICEWAY_PUBLIC_URL"]
        if "SLUICEWAY_TLS_CERT" in env:
            values["tls_cert"] = env["SLUICEWAY_TLS_CERT"] or None
        if "SLUICEWAY_TLS_KEY" in env:
            values["tls_key"] = env["SLUICEWAY_TLS_KEY"] or None
        if "SLUICEWAY_LOG_FORMAT" in env:
            values["log_format"] = env["SLUICEWAY_LOG_FORMAT"]
        if env.get("SLUICEWAY_CONSOLE", "").lower() in ("0", "false", "no", "off"):
            values["console"] = False
        if env.get("SLUICEWAY_CONSOLE_HOSTS"):
            values["console_hosts"] = tuple(
                h.strip() for h in env["SLUICEWAY_CONSOLE_HOSTS"].split(",") if h.strip()
            )
        if env.get("SLUICEWAY_CONSOLE_TOKEN"):
            values["console_token"] = env["SLUICEWAY_CONSOLE_TOKEN"]
        if "SLUICEWAY_ISOLATION" in env:
            values["isolation"] = env["SLUICEWAY_ISOLATION"]
        if "SLUICEWAY_FRONT_DOOR" in env:
            values["front_door"] = env["SLUICEWAY_FRONT_DOOR"]
        if "SLUICEWAY_ENVIRONMENT_IDLE_SECONDS" in env:
            values["environment_idle_seconds"] = float(env["SLUICEWAY_ENVIRONMENT_IDLE_SECONDS"])
        if "SLUICEWAY_TOKEN_FAILURE_LIMIT" in env:
            values["token_failure_limit"] = int(env["SLUICEWAY_TOKEN_FAILURE_LIMIT"])
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)
