"""AWSManagedRulesSQLiRuleSet: SQL injection in query arguments, body, cookies and URI path."""

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

# SQL injection, the libinjection-like core (SQLi_*). Each check needs SQL *structure*, not
# SQL words, so "O'Reilly - select size M" passes: a quote that breaks out of a string and is
# followed by boolean logic, a comment, a new statement or ORDER BY; UNION SELECT; stacked
# queries; time-based probes; tautologies like `or 1=1`.
#
# Prose is full of SQL's words, so each needs the shape SQL gives it: `in (`, `is null`,
# `like '`, a statement after ';' that names a table (`; select a colour` is English,
# `; select * from users` is not). A double quote right after ':', ',', '[' or '{' opens a
# JSON string rather than closing one, so `{"note": "Or is it?"}` is not a break-out; one
# before a comment counts only when nothing separates them (`admin"--`, not `"no" -- then`).
_SQL_NAME = r"""[\w.`"\[\]$]+"""
_SQL_STATEMENT = rf"""
    (?: select\s+(?: \*|@@|null\b|[\w.$]+\(
                   | \d+\s*(?:,\s*\d+\s*)*(?:$|--|\#|;|\)|from\b|union\b)
                   | {_SQL_NAME}(?:\s*,\s*{_SQL_NAME})*\s+from\s+{_SQL_NAME}
                     \s*(?:$|--|\#|;|\)|where\b|limit\b|order\b|group\b|union\b) )
      | update\s+{_SQL_NAME}\s+set\s+{_SQL_NAME}\s*=
      | delete\s+from\s+{_SQL_NAME}\s*(?:where\b|--|\#|;|$)
      | insert\s+into\s+{_SQL_NAME}\s*(?:\(|values\b|select\b)
      | shutdown\s*(?:--|\#|;|$)
      | waitfor\s+(?:delay|time)\s+['"] )
"""
_SQLI_QUOTED = re.compile(
    rf"""
    (?:['`]|(?<![:,\[{{])(?<![:,\[{{]\s)")
    (?: \s*\)*\s*(?:(?:or|and|xor|div)\b|\|\||&&)\s*
        (?: \(*\s*['"`]?[\w@.$-]*['"`]?\s*\)*\s*
            (?: =|<=>|<>|!=|<=|>=|<|>
              | (?:r?like|regexp|sounds\s+like)\s*[('"\d]
              | is\s+(?:not\s+)?(?:null|true|false|unknown)\b
              | (?:not\s+)?in\s*\(
              | between\s+\S+\s+and\b )
          | (?:true|false|null|\d+)\s*(?:--|\#|;|$)
          | \(*\s*(?:pg_)?(?:sleep|benchmark)\s*\( )
      | (?<=')\s*\)*\s*;?\s*(?:(?:--|\#)(?:[\s"}}\],;\\]|$)|/\*)
      | (?<=")\)*;?(?:--|\#)(?:[\s}}\],;\\]|$)
      | \s*\)*\s*;\s*{_SQL_STATEMENT}
      | \s*\)*\s*(?:order|group)\s+by\s+[\w,\s]{{1,40}}?(?:--|\#) )
    """,
    re.VERBOSE,
)
_SQLI_KEYWORDS = re.compile(
    r"""
    \bunion\b\s*(?:all\b|distinct\b)?\s*\(*\s*select\b
  | \bwaitfor\s+delay\s+['"]\d
  | \bhaving\s+\d+\s*=\s*\d+
    """,
    re.VERBOSE,
)
_SQLI_STACKED = re.compile(
    rf"""
    ;\s*(?:drop\s+(?:table|database|schema|view|index|user|procedure|function)\b
          | truncate\s+table\b | alter\s+(?:table|database|user)\b
          | create\s+(?:table|database|user|procedure|function|trigger)\b
          | insert\s+into\s+{_SQL_NAME}\s*(?:\(|values\b|select\b)
          | delete\s+from\s+{_SQL_NAME}\s*(?:where\b|--|\#|;|$)
          | exec(?:ute)?\s+(?:xp_|sp_|master\.) | declare\s+@)
  | [\d)]\s*;\s*{_SQL_STATEMENT}
    """,
    re.VERBOSE,
)
_SQLI_TIME = re.compile(
    r"(?:(?:and|or|xor)\b|\|\||&&|;|\bselect\b)\s*\(*\s*(?:pg_)?(?:sleep|benchmark)\s*\("
)
_SQLI_TAUTOLOGY = re.compile(
    r"""
    \b(?:or|and|xor)\s+(?:(?P<n>\d+)\s*(?:=|<=>|>=|<=|like\b)\s*(?P=n)\b
                         | (?P<q>['"])(?P<w>\w*)(?P=q)\s*(?:=|like\b)\s*(?P=q)(?P=w)(?!\w))
    """,
    re.VERBOSE,
)
_SQLI_ORDER_BY = re.compile(r"\d\s*\)*\s*(?:order|group)\s+by\s+[\w,\s]{1,40}?(?:--|\#)")
_sqli = detector(
    check(_SQLI_QUOTED, clue("or and xor div order group || && -- # /* ;"), clue("' \" `")),
    check(_SQLI_KEYWORDS, clue("union waitfor having")),
    check(_SQLI_STACKED, clue(";")),
    check(_SQLI_TIME, clue("sleep pg_sleep benchmark")),
    check(_SQLI_TAUTOLOGY, clue("or and xor"), clue("like =")),
    check(_SQLI_ORDER_BY, clue("order group"), clue("-- #")),
)

# SQLiExtendedPatterns_*: SQL functions and catalogue names with no business in user input.
_SQL_FUNCTION_WORDS = (
    "sleep pg_sleep benchmark information_schema sqlite_master pg_catalog mysql xp_cmdshell "
    "sp_executesql sysobjects syscolumns sysdatabases syslogins load_file extractvalue "
    "updatexml utl_inaddr utl_http dbms_pipe dbms_lock pg_read_file lo_import outfile "
    "dumpfile char"
)
_SQLI_EXTENDED = re.compile(
    r"""
    \b(?:sleep|pg_sleep)\s*\(\s*\d+(?:\.\d+)?\s*\)
  | \bbenchmark\s*\(\s*\d+\s*,
  | \b(?:information_schema|sqlite_master|pg_catalog|mysql\.user|xp_cmdshell|sp_executesql)\b
  | \bsys(?:objects|columns|databases|logins)\b
  | \b(?:load_file|extractvalue|updatexml|utl_inaddr\.get_host_address|utl_http\.request
       |dbms_pipe\.receive_message|dbms_lock\.sleep|pg_read_file|lo_import)\s*\(
  | \binto\s+(?:out|dump)file\b
  | @@(?:version|datadir|hostname|basedir)\b
  | \bchar\s*\(\s*\d+\s*(?:,\s*\d+\s*){2,}\)
    """,
    re.VERBOSE,
)
_sqli_extended = detector(check(_SQLI_EXTENDED, clue(_SQL_FUNCTION_WORDS + " @@")))


_SQL = "awswaf:managed:aws:sql-database:"

# AWS's documented rule order; the label is AWS's, verbatim.
RULES: tuple[SubRule, ...] = (
    sub_rule("SQLi_QUERYARGUMENTS", _SQL + "SQLi_QueryArguments", inspecting(ARGS, _sqli)),
    sub_rule(
        "SQLiExtendedPatterns_QUERYARGUMENTS",
        _SQL + "SQLiExtendedPatterns_QueryArguments",
        inspecting(ARGS, _sqli_extended),
    ),
    sub_rule("SQLi_BODY", _SQL + "SQLi_Body", inspecting(BODY, _sqli), body=True),
    sub_rule(
        "SQLiExtendedPatterns_BODY",
        _SQL + "SQLiExtendedPatterns_Body",
        inspecting(BODY, _sqli_extended),
        body=True,
    ),
    sub_rule("SQLi_COOKIE", _SQL + "SQLi_Cookie", inspecting(COOKIES, _sqli)),
    sub_rule("SQLi_URIPATH", _SQL + "SQLi_URIPath", inspecting(PATH, _sqli)),
)
