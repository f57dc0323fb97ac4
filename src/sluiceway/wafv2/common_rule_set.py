"""AWSManagedRulesCommonRuleSet (the core rule set): user agents, size restrictions, metadata
SSRF, file inclusion (LFI, RFI), restricted extensions and cross-site scripting."""

from __future__ import annotations

import re

from sluiceway.wafv2.detection import (
    ARGS,
    BODY,
    COOKIES,
    PATH,
    SubRule,
    check,
    clue,
    detector,
    inspecting,
    sub_rule,
)
from sluiceway.wafv2.matchers import body_bytes, cookie_bytes, longer_than, path_bytes, query_bytes
from sluiceway.wafv2.request import View

# Cross-site scripting: script-capable tags and event handlers inside a tag; a handler that
# breaks out of an attribute, first or after others (`' autofocus onfocus=`); script URLs
# (browsers drop tabs and newlines inside the scheme, so a space is allowed between its
# letters) followed by code, not by prose ("JavaScript: The Good Parts"); HTML data URLs;
# srcdoc. A tag name follows '<' at once in HTML, so "total < base price" is text; a tag is
# searched for a handler only up to the next '<', which keeps the work per tag bounded.
_EVENT_HANDLERS = (
    "onerror onload onclick ondblclick onauxclick oncontextmenu onmouseover onmouseout "
    "onmousedown onmouseup onmousemove onmouseenter onmouseleave onmousewheel onwheel onfocus "
    "onfocusin onfocusout onblur onchange onsubmit onreset oninput oninvalid onselect "
    "onkeydown onkeyup onkeypress onabort ontoggle onpointerdown onpointerup onpointermove "
    "onpointerover onpointerout onpointerenter onpointerleave onanimationstart "
    "onanimationend onanimationiteration ontransitionend ontransitionstart ondrag "
    "ondragstart ondragend ondragenter ondragleave ondragover ondrop onresize onscroll "
    "onunload onbeforeunload onhashchange onmessage onpageshow onpopstate onplay onpause "
    "oncopy oncut onpaste onsearch onshow onbegin onend onreadystatechange"
)
_XSS_TAG = re.compile(
    r"""
    </?(?:script|iframe|frame|frameset|object|embed|applet|base|meta|isindex|xss
         |vmlframe|import)\b
  | <[a-z][^<>]{0,500}?[\s/"'`]on[a-z]{3,}\s*=
    """,
    re.VERBOSE,
)
_XSS_ATTRIBUTE = re.compile(
    r"""['"`](?:[^'"`<>]{0,200}?[\s/])?(?:""" + "|".join(_EVENT_HANDLERS.split()) + r""")\s*="""
)
_XSS_SCRIPT_URL = re.compile(
    r"""(?:^|["'`=(<>])\s*(?:j\s?a\s?v\s?a|v\s?b|l\s?i\s?v\s?e)\s?s\s?c\s?r\s?i\s?p\s?t\s?:"""
    r"""(?:$|\S|\s+[\w$.\[\]'"]+\s*[(\[`=])"""
)
_XSS_OTHER = re.compile(r"data\s*:\s*text/html|\bsrcdoc\s*=")


# Whatever spaces an obfuscation puts into a script scheme, its last word ends the name.
_SCRIPT_SCHEME_ENDS = " ".join(
    name[i:] for name in ("javascript", "vbscript", "livescript") for i in range(len(name))
)
_xss = detector(
    check(_XSS_TAG, clue("<")),
    check(_XSS_ATTRIBUTE, clue(_EVENT_HANDLERS), clue("=")),
    check(_XSS_SCRIPT_URL, clue(_SCRIPT_SCHEME_ENDS)),
    check(_XSS_OTHER, clue("html srcdoc")),
)

# Local file inclusion: two or more traversals (one is a normal relative link in a body), or
# well-known system files and PHP stream wrappers. In a URI path even one traversal segment
# is an attack: clients resolve '..' before they send. A run of dots is taken whole, from its
# start (lookbehind, possessive): tried from every dot, 8 KB of dots took half a second.
_LFI_TARGETS = r"""
    (?<!\.)(?:\.{2,}+;?[/\\]+){2}
  | \.\.;?[/\\]+(?:etc|proc|windows|winnt|boot|root|usr|var)(?:[/\\]|$)
  | /etc/(?:passwd|shadow|group|hosts|issue|crontab|sudoers|master\.passwd)\b
  | /proc/(?:self|\d+)/
  | \b[a-z]:[/\\]+(?:windows|winnt)[/\\]
  | \b(?:boot|win|system)\.ini\b
  | \bphp://(?:filter|input|fd)\b
"""
_LFI_CLUE = clue(".. etc proc windows winnt ini php")
_lfi = detector(check(re.compile(_LFI_TARGETS, re.VERBOSE), _LFI_CLUE))
_lfi_path = detector(
    check(re.compile(r"(?:^|[/\\])\.\.;?(?:[/\\]|$)|" + _LFI_TARGETS, re.VERBOSE), _LFI_CLUE)
)

# Remote file inclusion: a URL whose host is an IPv4 address (dotted, hex or decimal).
_rfi = detector(
    check(
        re.compile(
            r"\b(?:https?|ftps?|file)://(?:[^/@\s]{0,64}@)?"
            r"(?:\d{1,3}(?:\.\d{1,3}){3}|0x[0-9a-f]{1,8}|\d{8,10})(?![\w.])"
        ),
        clue("://"),
    )
)

# Instance-metadata SSRF: the metadata addresses in their usual spellings (dotted, octal,
# hex, decimal, IPv4-mapped, EC2's IPv6 endpoint), the metadata host names and IMDS paths.
_ssrf = detector(
    check(
        re.compile(
            r"""
            169\.254\.169\.254 | 169\.254\.170\.2(?!\d) | 169\.254\.43518\b
          | \bfd00:0*ec2:[0:]*254\b | ::ffff:a9fe:a9fe
          | \b0xa9fea9fe\b | \b0xa9\.0xfe\.0xa9\.0xfe\b | \b0251\.0376\.0251\.0376\b
          | (?://|@)2852039166\b
          | metadata\.google\.internal | instance-data\.ec2\.internal
          | /latest/(?:meta-data|user-data|dynamic|api/token)(?:/|$|\?)
            """,
            re.VERBOSE,
        ),
        clue("169 0251 2852039166 fd00 a9fe xa9fea9fe xa9 metadata instance latest"),
    )
)

# Files a client has no reason to fetch: logs, configuration, backups, keys, databases.
_RESTRICTED_EXTENSIONS = (
    "log|ini|bak|backup|old|orig|swp|tmp|cfg|conf|config|sql|db|mdb|sqlite|dbf|dat|dll|bat|"
    "cmd|vbs|pem|key|pfx|p12|jks|htr|htw|ida|idq|idc|printer|asa|asax|ascx|axd|cdx|csproj|"
    "vbproj|licx|resx|resources|pdb|pol|pwd|pass|sys|webinfo"
)
_RESTRICTED_CLUE = clue(_RESTRICTED_EXTENSIONS.replace("|", " "))
_restricted_path = detector(
    check(re.compile(rf"\.(?:{_RESTRICTED_EXTENSIONS})(?:$|[/;])"), _RESTRICTED_CLUE)
)
_restricted_argument = detector(
    check(re.compile(rf"\.(?:{_RESTRICTED_EXTENSIONS})$"), _RESTRICTED_CLUE)
)

# Scanners and attack tools that announce themselves in User-Agent.
_BAD_BOT_NAMES = (
    "nessus nmap sqlmap nikto masscan zgrab zmeu nuclei acunetix w3af dirbuster gobuster "
    "wpscan netsparker openvas arachni havij fimap commix wfuzz jaeles morfeus paros "
    "webinspect appscan skipfish whatweb httprint pangolin grendel dirb feroxbuster"
)
_BAD_BOTS = frozenset(_BAD_BOT_NAMES.split())
_WORD = re.compile(r"[a-z_][a-z0-9_]*")


def _no_user_agent(view: View) -> bool:
    return not view.headers().get("user-agent", "").strip()


def _bad_bot(view: View) -> bool:
    agent = view.headers().get("user-agent")
    return agent is not None and not _BAD_BOTS.isdisjoint(_WORD.findall(agent.lower()))


_CRS = "awswaf:managed:aws:core-rule-set:"

# AWS's documented rule order; the label is AWS's, verbatim.
RULES: tuple[SubRule, ...] = (
    sub_rule("NoUserAgent_HEADER", _CRS + "NoUserAgent_Header", _no_user_agent),
    sub_rule("UserAgent_BadBots_HEADER", _CRS + "BadBots_Header", _bad_bot),
    sub_rule(
        "SizeRestrictions_QUERYSTRING",
        _CRS + "SizeRestrictions_QueryString",
        longer_than(2_048, query_bytes),
    ),
    sub_rule(
        "SizeRestrictions_Cookie_HEADER",
        _CRS + "SizeRestrictions_Cookie_Header",
        longer_than(10_240, cookie_bytes),
    ),
    sub_rule(
        "SizeRestrictions_BODY",
        _CRS + "SizeRestrictions_Body",
        longer_than(8_192, body_bytes),
        body=True,
    ),
    sub_rule(
        "SizeRestrictions_URIPATH",
        _CRS + "SizeRestrictions_URIPath",
        longer_than(1_024, path_bytes),
    ),
    sub_rule(
        "EC2MetaDataSSRF_BODY",
        _CRS + "EC2MetaDataSSRF_Body",
        inspecting(BODY, _ssrf),
        body=True,
    ),
    sub_rule("EC2MetaDataSSRF_COOKIE", _CRS + "EC2MetaDataSSRF_Cookie", inspecting(COOKIES, _ssrf)),
    sub_rule("EC2MetaDataSSRF_URIPATH", _CRS + "EC2MetaDataSSRF_URIPath", inspecting(PATH, _ssrf)),
    sub_rule(
        "EC2MetaDataSSRF_QUERYARGUMENTS",
        _CRS + "EC2MetaDataSSRF_QueryArguments",
        inspecting(ARGS, _ssrf),
    ),
    sub_rule(
        "GenericLFI_QUERYARGUMENTS",
        _CRS + "GenericLFI_QueryArguments",
        inspecting(ARGS, _lfi),
    ),
    sub_rule("GenericLFI_URIPATH", _CRS + "GenericLFI_URIPath", inspecting(PATH, _lfi_path)),
    sub_rule("GenericLFI_BODY", _CRS + "GenericLFI_Body", inspecting(BODY, _lfi), body=True),
    sub_rule(
        "RestrictedExtensions_URIPATH",
        _CRS + "RestrictedExtensions_URIPath",
        inspecting(PATH, _restricted_path),
    ),
    sub_rule(
        "RestrictedExtensions_QUERYARGUMENTS",
        _CRS + "RestrictedExtensions_QueryArguments",
        inspecting(ARGS, _restricted_argument),
    ),
    sub_rule(
        "GenericRFI_QUERYARGUMENTS",
        _CRS + "GenericRFI_QueryArguments",
        inspecting(ARGS, _rfi),
    ),
    sub_rule("GenericRFI_BODY", _CRS + "GenericRFI_Body", inspecting(BODY, _rfi), body=True),
    sub_rule("GenericRFI_URIPATH", _CRS + "GenericRFI_URIPath", inspecting(PATH, _rfi)),
    sub_rule(
        "CrossSiteScripting_COOKIE",
        _CRS + "CrossSiteScripting_Cookie",
        inspecting(COOKIES, _xss),
    ),
    sub_rule(
        "CrossSiteScripting_QUERYARGUMENTS",
        _CRS + "CrossSiteScripting_QueryArguments",
        inspecting(ARGS, _xss),
    ),
    sub_rule(
        "CrossSiteScripting_BODY",
        _CRS + "CrossSiteScripting_Body",
        inspecting(BODY, _xss),
        body=True,
    ),
    sub_rule(
        "CrossSiteScripting_URIPATH",
        _CRS + "CrossSiteScripting_URIPath",
        inspecting(PATH, _xss),
    ),
)
