"""AWSManagedRulesKnownBadInputsRuleSet: Java deserialization RCE, Log4Shell, a localhost Host
header, PROPFIND and exploitable paths."""

from __future__ import annotations

import ipaddress
import re

from sluiceway.wafv2.detection import (
    BODY,
    HEADERS,
    PATH,
    QUERY,
    Detector,
    SubRule,
    check,
    clue,
    detector,
    inspecting,
    sub_rule,
)
from sluiceway.wafv2.request import BODY_INSPECTION_LIMIT, Text, View, host_name

# Paths into source control, server configuration and credentials (WEB-INF, .git, .env, ...).
_exploitable_path = detector(
    check(
        re.compile(
            r"[/\\](?:web-inf|meta-inf|\.git|\.svn|\.hg|\.bzr|\.aws|\.ssh|\.env(?:\.[\w-]+)?"
            r"|\.htaccess|\.htpasswd|\.ds_store|\.npmrc|\.dockercfg|\.docker)(?:[/\\;]|$)"
        ),
        clue("inf git svn hg bzr aws ssh env htaccess htpasswd ds_store npmrc dockercfg docker"),
    )
)

# Java deserialization and expression-language RCE: the classes and gadgets exploits name,
# and a serialized Java object (base64 `rO0ABX...`, hex `aced0005`).
_java_rce = detector(
    check(
        re.compile(
            r"""
            java\.lang\.(?:runtime|processbuilder|process\b|reflect\.)
          | getruntime\s*\(\s*\)\s*\.\s*exec\b
          | class\.module\.classloader | javax\.script\.scriptenginemanager
          | java\.net\.urlclassloader | \#_memberaccess | ognl\.ognlcontext
          | org\.apache\.commons\.collections\d*\.functors | com\.sun\.org\.apache\.xalan
          | ro0abx | aced0005
            """,
            re.VERBOSE,
        ),
        clue(
            "java javax getruntime classloader _memberaccess ognl functors xalan",
            ("ro0abx", "aced0005"),
        ),
    )
)
_JAVA_SERIAL_MAGIC = b"\xac\xed\x00\x05"


def _java_rce_in_body(view: View) -> bool:
    """Serialized objects are binary: look for their magic in the raw bytes too."""
    body = view.body
    if body and _JAVA_SERIAL_MAGIC in body[:BODY_INSPECTION_LIMIT]:
        return True
    return any(_java_rce(text) for text in view.body_text())


# Log4Shell: lookups nest (`${${lower:j}ndi:`, `${${::-j}ndi:`, `${${env:X:-j}ndi:`), so the
# harmless ones are resolved, innermost first, until `${jndi:` shows or nothing changes.
_LOOKUP_DEFAULT = re.compile(r"\$\{[^${}]*?:-([^${}]*)\}")
_LOOKUP_CASE = re.compile(r"\$\{(?:lower|upper):([^${}]*)\}")
_LOOKUP_DATE = re.compile(r"\$\{date:'([^'${}]*)'\}")
_JNDI = re.compile(r"\$\{\s*jndi\s*:")
_LOOKUP_ROUNDS = 10


def _resolves_to_jndi(text: Text) -> bool:
    value = text.text
    for _ in range(_LOOKUP_ROUNDS):
        if _JNDI.search(value):
            return True
        resolved = _LOOKUP_DATE.sub(
            r"\1", _LOOKUP_CASE.sub(r"\1", _LOOKUP_DEFAULT.sub(r"\1", value))
        )
        if resolved == value:
            return False
        value = resolved
    return _JNDI.search(value) is not None


_log4shell = Detector(frozenset({"${"}), (), _resolves_to_jndi)


_LOCAL_HOSTS = frozenset({"localhost", "localhost.localdomain", "0.0.0.0", "::1", "[::1]"})


def _localhost(view: View) -> bool:
    host = view.headers().get("host")
    if host is None:
        return False
    name = host_name(host.strip().lower())
    if name in view.gateway_hosts:
        return False
    return name in _LOCAL_HOSTS or name.endswith(".localhost") or _is_loopback(name)


def _is_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def _propfind(view: View) -> bool:
    return view.request.method.upper() == "PROPFIND"


_KBI = "awswaf:managed:aws:known-bad-inputs:"

# AWS's documented rule order; the label is AWS's, verbatim.
RULES: tuple[SubRule, ...] = (
    sub_rule(
        "JavaDeserializationRCE_HEADER",
        _KBI + "JavaDeserializationRCE_Header",
        inspecting(HEADERS, _java_rce),
    ),
    sub_rule(
        "JavaDeserializationRCE_BODY",
        _KBI + "JavaDeserializationRCE_Body",
        _java_rce_in_body,
        body=True,
    ),
    sub_rule(
        "JavaDeserializationRCE_URIPATH",
        _KBI + "JavaDeserializationRCE_URIPath",
        inspecting(PATH, _java_rce),
    ),
    sub_rule(
        "JavaDeserializationRCE_QUERYSTRING",
        _KBI + "JavaDeserializationRCE_QueryString",
        inspecting(QUERY, _java_rce),
    ),
    sub_rule("Host_localhost_HEADER", _KBI + "Host_Localhost_Header", _localhost),
    sub_rule("PROPFIND_METHOD", _KBI + "Propfind_Method", _propfind),
    sub_rule(
        "ExploitablePaths_URIPATH",
        _KBI + "ExploitablePaths_URIPath",
        inspecting(PATH, _exploitable_path),
    ),
    sub_rule("Log4JRCE_HEADER", _KBI + "Log4JRCE_Header", inspecting(HEADERS, _log4shell)),
    sub_rule("Log4JRCE_QUERYSTRING", _KBI + "Log4JRCE_QueryString", inspecting(QUERY, _log4shell)),
    sub_rule("Log4JRCE_BODY", _KBI + "Log4JRCE_Body", inspecting(BODY, _log4shell), body=True),
    sub_rule("Log4JRCE_URIPATH", _KBI + "Log4JRCE_URIPath", inspecting(PATH, _log4shell)),
)
