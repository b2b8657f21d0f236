"""``clockwf import crontab``: one definition per crontab job, keeping what cron does with it.

The crontab is read the way cronie reads it (``entry.c``, ``env.c``, ``do_command.c``):

- comments are lines whose first non-blank character is ``#``; there are no continuation lines;
- ``NAME = value`` lines (cronie's ``load_env`` grammar: optional blanks around ``=``, a value
  in single or double quotes, trailing blanks of an unquoted value dropped) apply to the jobs
  after them; a later assignment replaces an earlier one;
- a job is five blank-separated time fields or an ``@`` macro, then (``--system``) a user, then
  the command: the rest of the line;
- the command runs as ``$SHELL -c command`` (SHELL defaults to ``/bin/sh``), with ``HOME`` (the
  user's home by default) as the working directory and ``PATH`` defaulting to ``/usr/bin:/bin``;
- the ``%`` rule: the first unescaped ``%`` ends the command, the text after it is written to the
  command's standard input with each unescaped ``%`` turned into a newline and a final newline
  added when missing; ``\\%`` is a literal ``%``. Without that text, standard input is empty.

Each generated definition keeps all of that: the same schedule (the five fields or the macro
as written), ``timezone`` from ``CRON_TZ`` (or ``TZ``) else the machine's zone, catch-up
``none`` and overlap ``allow`` (cron neither catches up nor waits for a previous run), the
environment (``PATH``, ``HOME``, ``SHELL`` set as cron sets them, plus every assignment), the
working directory, and a ``run`` text whose standard input is cron's: empty, or the ``%`` text
fed through ``printf``. Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import yaml

from clockwf.cron import MACROS, parse_cron
from clockwf.errors import ClockwfError, InvalidInput
from clockwf.models import ENV_NAME_RE, ID_PATTERN
from clockwf.timeutil import get_zone
from clockwf.validate import FileReport, validate_source

DEFAULT_SHELL = "/bin/sh"
DEFAULT_PATH = "/usr/bin:/bin"          # cronie's _PATH_DEFPATH
# Variables that configure cron itself; they are reported or mapped, not put into the step's
# environment (cron passes them too, but no program run by cron has a use for them).
CRON_CONTROLS = ("CRON_TZ", "MAILTO", "MAILFROM", "RANDOM_DELAY", "CONTENT_TYPE",
                 "CONTENT_TRANSFER_ENCODING")
# Settings that look like secrets are not copied into definition files (which go to git and to
# the store): the step reads them from the daemon's environment instead, as ${env:NAME}.
SECRET_NAME = re.compile(r"PASS|SECRET|TOKEN|API_?KEY|PRIVATE|CREDENTIAL", re.IGNORECASE)
SECRET_VALUE = re.compile(r"://[^/@:\s]+:[^/@\s]+@")   # a URL with a password
STEP_ID = "command"
_ID_MAX = 48
_BLANKS = " \t"
_OPERATOR = re.compile(r"^[();<>|&]+$")
_WRAPPERS = {"exec", "nice", "nohup", "ionice", "time", "env", "sudo", "chronic"}
_PRELUDES = {"cd", "test", "[", "[[", "sleep", "true", ":", "umask", "export", "source", "."}
_FIELDS = re.compile(r"^([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)"
                     r"(?:[ \t]+(.*))?$", re.DOTALL)


@dataclass(frozen=True)
class Finding:
    """A line clockwf refused (the job is left out) or a note about how a line was taken."""

    line: int | None
    severity: Literal["refused", "note"]
    message: str

    def text(self, path: str) -> str:
        where = f"{path}:{self.line}" if self.line is not None else path
        return f"{where}: refused: {self.message}" if self.severity == "refused" \
            else f"{where}: {self.message}"

    def as_json(self) -> dict[str, Any]:
        return {"line": self.line, "severity": self.severity, "message": self.message}


@dataclass(frozen=True)
class Assignment:
    line: int
    name: str
    value: str


@dataclass(frozen=True)
class Job:
    """One crontab job as cron would run it."""

    line: int
    text: str                    # the line as written
    schedule: str                # the five fields (single-spaced) or the macro
    command: str                 # what $SHELL -c runs (after the % rule)
    stdin: str                   # what cron writes to its standard input ("" = nothing)
    env: dict[str, Assignment]   # the assignments in effect at this line
    user: str | None = None      # --system: the user field


@dataclass
class Imported:
    workflow_id: str
    job: Job
    timezone: str
    yaml: str
    report: FileReport | None = None


@dataclass
class CrontabImport:
    path: str
    workflows: list[Imported] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def refused(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "refused"]


# -- cron's own rules, transcribed --------------------------------------------------------------


def parse_assignment(text: str) -> tuple[str, str] | None:
    """``(name, value)`` when the line is an environment setting under cronie's ``load_env``
    state machine, else None (then cron reads the line as a job). ``text`` starts at the first
    non-blank character and has no newline."""
    name: list[str] = []
    value: list[str] = []
    target = name
    state = "NAMEI"
    quote = ""
    i = 0
    while state != "ERROR" and i < len(text):
        c = text[i]
        if state in ("NAMEI", "VALUEI"):
            if c in "'\"":
                quote = c
                i += 1
            state = "NAME" if state == "NAMEI" else "VALUE"
            continue
        if state in ("NAME", "VALUE"):
            if quote:
                if c == quote:
                    state = "EQ1" if state == "NAME" else "FINI"
                    i += 1
                    continue
                if state == "NAME" and c == "=":
                    state = "ERROR"
                    continue
            elif state == "NAME":
                if c.isspace():
                    i += 1
                    state = "EQ1"
                    continue
                if c == "=":
                    state = "EQ1"
                    continue
            target.append(c)
            i += 1
        elif state == "EQ1":
            if c == "=":
                state = "EQ2"
                target = value
                quote = ""
            elif not c.isspace():
                state = "ERROR"
            i += 1
        elif state in ("EQ2", "FINI"):
            if c.isspace():
                i += 1
            else:
                state = "VALUEI" if state == "EQ2" else "ERROR"
    if state != "FINI" and not (state == "VALUE" and not quote):
        return None
    result = "".join(value)
    if state == "VALUE":
        result = result.rstrip()
    return "".join(name), result


def split_percent(command: str) -> tuple[str, str | None]:
    """cronie's first pass over a command: the part before the first unescaped ``%`` (with
    ``\\%`` made ``%``) and the raw text after it (None when there is no unescaped ``%``)."""
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(command):
        if escaped:
            if ch == "%":
                out[-1] = "%"
            else:
                out.append(ch)
            escaped = False
            continue
        if ch == "\\":
            out.append(ch)
            escaped = True
            continue
        if ch == "%":
            return "".join(out), command[i + 1:]
        out.append(ch)
    return "".join(out), None


def cron_stdin(data: str | None) -> str:
    """What cronie writes to the command's standard input from the text after the first ``%``:
    ``\\%`` -> ``%``, ``%`` -> newline, other backslashes kept, a newline added when the text
    does not end with one; nothing at all for an empty text."""
    if not data:
        return ""
    out: list[str] = []
    escaped = False
    need_newline = False
    for ch in data:
        if escaped:
            if ch != "%":
                out.append("\\")
        elif ch == "%":
            ch = "\n"
        escaped = ch == "\\"
        if not escaped:
            out.append(ch)
            need_newline = ch != "\n"
    if escaped:
        out.append("\\")
    if need_newline:
        out.append("\n")
    return "".join(out)


# -- reading a crontab --------------------------------------------------------------------------


def parse(text: str, *, system: bool = False) -> tuple[list[Job], list[Finding]]:
    """The jobs of a crontab and what was refused or noted, each with its line number."""
    jobs: list[Job] = []
    findings: list[Finding] = []
    env: dict[str, Assignment] = {}
    lines = text.split("\n")
    last = len(lines)
    if lines and lines[-1] == "":
        lines.pop()
        last = 0
    for number, raw in enumerate(lines, 1):
        body = raw.lstrip(_BLANKS)
        if not body or body.startswith("#"):
            continue
        if body.endswith("\r"):
            findings.append(Finding(number, "refused", "the line ends with a carriage return "
                                    "(a Windows line ending): cron would pass it to the shell as "
                                    "part of the line; convert the file to Unix line endings"))
            continue
        setting = parse_assignment(body)
        if setting is not None:
            name, value = setting
            env[name] = Assignment(number, name, value)
            findings.extend(_setting_notes(number, name, value, env))
            continue
        if number == last:
            findings.append(Finding(number, "refused", "the last line has no newline at its "
                                    "end: cron ignores it (crontab refuses to install such a "
                                    "file); add a newline"))
            continue
        job = _job(number, raw, body, env, system, findings)
        if job is not None:
            jobs.append(job)
    return jobs, findings


def _setting_notes(number: int, name: str, value: str,
                   env: dict[str, Assignment]) -> list[Finding]:
    if name == "MAILTO":
        if not value:
            return [Finding(number, "note", "MAILTO is empty: no mail, as under cron (each "
                            "run's output is kept with the run: clockwf runs show)")]
        return [Finding(number, "note", f"MAILTO={value} becomes a notify target of the jobs "
                        "below: a command that mails each failed, timed-out or interrupted run "
                        "(and the recovery after) through the local sendmail, as cron mails "
                        "through it; cron mails any output, clockwf keeps output with each run "
                        "(clockwf runs show)")]
    if name == "TZ" and "CRON_TZ" not in env:
        return [Finding(number, "note", f"TZ={value} is taken as the time zone of the jobs "
                        "below; cronie itself schedules by CRON_TZ only (TZ= changes only "
                        "their environment there): write CRON_TZ= to say the same to both")]
    if name == "MAILFROM" or name.startswith("CONTENT_"):
        return [Finding(number, "note", f"{name} configures cron's mail and is not kept")]
    return []


def _job(number: int, raw: str, body: str, env: dict[str, Assignment], system: bool,
         findings: list[Finding]) -> Job | None:
    def refuse(message: str) -> None:
        findings.append(Finding(number, "refused", message))

    if body.startswith("-"):
        findings.append(Finding(number, "note", "the leading '-' (no syslog line per run) is "
                                "dropped: clockwf records every run in its store"))
        body = body[1:]
    if body.startswith("@"):
        word, rest = _split_word(body)
        if word == "@reboot":
            refuse("@reboot runs once when cron starts: clockwf has no boot trigger; start it "
                   "from a systemd unit (or your init system) instead")
            return None
        if word not in MACROS:
            refuse(f"{word!r} is not a cron macro: use one of {', '.join(MACROS)}, or five "
                   "time fields")
            return None
        schedule = word
    else:
        m = _FIELDS.match(body)
        if m is None:
            count = len(body.split())
            refuse(f"{count} field{'s' if count != 1 else ''}: a job needs five time fields "
                   "(minute hour day-of-month month day-of-week) and a command"
                   + ("" if "=" not in body else "; not a NAME=value setting either"))
            return None
        schedule = " ".join(m.groups()[:5])
        rest = m.group(6) or ""
        if rest.startswith("*"):
            refuse("the command starts with '*': a sixth time field? cron refuses such a line "
                   "(clockwf takes five fields: no seconds or years)")
            return None
    user = None
    if system:
        user, rest = _split_word(rest)
        if not user:
            refuse("no user field: a system crontab line is: five time fields (or a macro), "
                   "a user, a command (without --system it is read as a user crontab)")
            return None
    if not rest:
        refuse("no command after the schedule" + (" and user" if system else ""))
        return None
    try:
        parse_cron(schedule)
    except ClockwfError as exc:
        refuse(f"schedule {schedule!r}: {exc.message}")
        return None
    command, data = split_percent(rest)
    return Job(number, raw, schedule, command, cron_stdin(data), dict(env), user)


def _split_word(text: str) -> tuple[str, str]:
    """The first blank-delimited word and the rest after the blanks that follow it."""
    m = re.match(r"([^ \t]*)[ \t]*(.*)$", text, re.DOTALL)
    assert m is not None
    return m.group(1), m.group(2)


# -- ids ----------------------------------------------------------------------------------------


def _tokens(command: str) -> list[str]:
    lex = shlex.shlex(command, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        return list(lex)
    except ValueError:  # unbalanced quotes: the shell would complain, the id need not
        return command.split()


def _segments(command: str) -> list[list[str]]:
    """Simple commands of the line, split at shell operators; a file-descriptor number right
    before a redirection is dropped."""
    segments: list[list[str]] = [[]]
    tokens = _tokens(command)
    for i, token in enumerate(tokens):
        if _OPERATOR.match(token):
            segments.append([])
            continue
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token.isdigit() and following[:1] in "<>" and following:
            continue
        segments[-1].append(token)
    return [s for s in segments if s]


def _words(segment: list[str]) -> list[str]:
    words = list(segment)
    while words and (re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in _WRAPPERS):
        words.pop(0)
        while words and (words[0].startswith("-") or words[0].isdigit()):
            words.pop(0)
    return words


def slug(command: str) -> str:
    """A readable id from a command: its program's name and first arguments."""
    segments = [_words(s) for s in _segments(command)]
    segments = [s for s in segments if s]
    chosen: list[str] = []
    for segment in segments:
        chosen = segment
        if segment[0] not in _PRELUDES:
            break
    parts: list[str] = []
    for word in chosen[:3]:
        word = word.rstrip("/").rsplit("/", 1)[-1] if "/" in word.rstrip("/") else word
        text = re.sub(r"[^a-z0-9._]+", "-", word.lower()).strip("-._")
        if text:
            parts.append(text)
    out = "-".join(parts)
    while len(out) > _ID_MAX and "-" in out:
        out = out.rsplit("-", 1)[0]
    out = re.sub(r"-{2,}", "-", out[:_ID_MAX]).strip("-._")
    return out if out and re.match(ID_PATTERN, out) else "job"


def assign_ids(jobs: Iterable[Job]) -> list[tuple[str, Job]]:
    """Readable, unique ids, stable for the same crontab: the command's slug, and where several
    jobs share it a short hash of the schedule and command (and ``-2``, ``-3`` for identical
    lines, in line order)."""
    jobs = list(jobs)
    bases = [slug(job.command) for job in jobs]
    counts: dict[str, int] = {}
    for base in bases:
        counts[base] = counts.get(base, 0) + 1
    taken: set[str] = set()
    out: list[tuple[str, Job]] = []
    for base, job in zip(bases, jobs, strict=True):
        wid = base
        if counts[base] > 1:
            digest = hashlib.sha256("\0".join(
                (job.schedule, job.command, job.stdin, job.user or "")).encode()).hexdigest()
            wid = f"{base[:_ID_MAX]}-{digest[:6]}"
        candidate, n = wid, 1
        while candidate in taken:
            n += 1
            candidate = f"{wid}-{n}"
        taken.add(candidate)
        out.append((candidate, job))
    return out


# -- definitions --------------------------------------------------------------------------------


def local_zone() -> str | None:
    """The IANA name of this machine's zone (TZ, /etc/localtime, /etc/timezone), if known."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.readlink("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    try:
        candidates.append(Path("/etc/timezone").read_text("utf-8").strip())
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                get_zone(name)
            except ClockwfError:
                continue
            return name
    return None


def home_of(user: str | None) -> str | None:
    """The home directory cron would use: the user's (the current one for a user crontab)."""
    try:
        entry = pwd.getpwuid(os.getuid()) if user is None else pwd.getpwnam(user)
    except KeyError:
        return None
    return entry.pw_dir


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def _comment(text: str) -> str:
    """``text`` safe inside a YAML comment: controls (and what YAML refuses) as \\xNN."""
    return "".join(ch if ch == "\t" or (ch.isprintable() and ch not in "\x85\u2028\u2029")
                   else f"\\x{ord(ch):02x}" if ord(ch) < 256 else f"\\u{ord(ch):04x}"
                   for ch in text)


def run_text(command: str, stdin: str, shell: str) -> str:
    """The step's ``run``: ``command`` run by ``shell`` with cron's standard input."""
    if stdin:
        return f"printf '%s' {shlex.quote(stdin)} | {shlex.quote(shell)} -c {shlex.quote(command)}"
    if shell == DEFAULT_SHELL:
        return f"exec </dev/null\n{command}"
    return f"exec {shlex.quote(shell)} -c {shlex.quote(command)} </dev/null"


def definition(job: Job, workflow_id: str, *, zone: str, home: str, source: str
               ) -> tuple[dict[str, Any], list[Finding]]:
    """The definition of one job (as a plain mapping) and what to report about it."""
    notes: list[Finding] = []
    values = {name: a.value for name, a in job.env.items()}
    shell = values.get("SHELL", DEFAULT_SHELL)
    env: dict[str, str] = {}
    problems: list[str] = []
    for name, a in job.env.items():
        if name in CRON_CONTROLS:
            continue
        if not ENV_NAME_RE.match(name):
            problems.append(f"{name}= (line {a.line}): {name!r} cannot be passed to a step "
                            "(clockwf takes names of letters, digits and _)")
        elif "${env:" in a.value:
            problems.append(f"{name}= (line {a.line}) contains '${{env:': clockwf would read "
                            "it as a reference to the daemon's environment, where cron passes "
                            "it as it is")
        elif SECRET_NAME.search(name) or SECRET_VALUE.search(a.value):
            env[name] = f"${{env:{name}}}"
            notes.append(Finding(a.line, "note", f"{name} looks like a secret: not copied into "
                                 f"the definitions; their steps read ${{env:{name}}} from the "
                                 "daemon's environment, so set it there"))
        else:
            env[name] = a.value
    if problems:
        raise InvalidInput("; ".join(problems))
    env.setdefault("SHELL", shell)
    env.setdefault("HOME", home)
    env.setdefault("PATH", DEFAULT_PATH)
    trigger: dict[str, Any] = {"type": "recurring", "cron": job.schedule, "timezone": zone}
    delay = values.get("RANDOM_DELAY")
    if delay is not None:
        if delay.isdigit() and int(delay) > 0:
            trigger["jitter"] = f"{int(delay)}m"
            notes.append(Finding(job.line, "note", f"RANDOM_DELAY={delay} (line "
                                 f"{job.env['RANDOM_DELAY'].line}) becomes jitter {delay}m: a "
                                 "fixed delay per occurrence, where cronie draws one when it "
                                 "loads the crontab"))
        elif delay != "0":
            notes.append(Finding(job.line, "note", f"RANDOM_DELAY={delay!r} is not a number "
                                 "of minutes; cronie ignores it, and so does the import"))
    mailto = values.get("MAILTO")
    description = f"Imported from {source}, line {job.line}."
    if job.user is not None:
        description += (f" crontab user: {job.user}; clockwf runs the step as the user of its "
                        f"daemon, not as {job.user}.")
    doc: dict[str, Any] = {
        "id": workflow_id,
        "description": description,
        "trigger": trigger,
        "policy": {"catchup": "none", "overlap": "allow"},
        "steps": [{"id": STEP_ID, "run": run_text(job.command, job.stdin, shell),
                   "env": env, "cwd": env["HOME"]}],
    }
    if mailto:
        doc["notify"] = {"on": list(MAIL_EVENTS),
                         "to": [{"command": mail_command(mailto, workflow_id)}]}
    return doc, notes


MAIL_EVENTS = ("failed", "timed_out", "interrupted", "recovered")


def mail_command(mailto: str, workflow_id: str) -> str:
    """A notify ``command`` target that mails the notification (JSON on its standard input)
    to cron's MAILTO addresses through the local sendmail, as cron itself does."""
    header = f"To: {mailto}\nSubject: clockwf: {workflow_id}\n\n"
    return f"{{ printf '%s' {shlex.quote(header)}; cat; }} | /usr/sbin/sendmail -t"


def render(doc: dict[str, Any], job: Job, source: str) -> str:
    """The definition file: a comment with the original line, then the YAML."""
    head = [f"# Imported by `clockwf import crontab` from {_comment(source)}, line {job.line}:",
            f"#   {_comment(job.text)}",
            "# As under cron: missed times are not caught up, runs may overlap, PATH/HOME/SHELL",
            "# and the working directory are cron's, and standard input is empty or the line's"
            " % text."]
    if job.user is not None:
        head.append(f"# User {_comment(job.user)}: clockwf runs steps as its own user (the "
                    "daemon's), not as this one.")
    body = yaml.dump(doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100,
                     default_flow_style=False)
    return "\n".join(head) + "\n" + body


def import_crontab(text: str, source: str, now: datetime, *, system: bool = False,
                   default_zone: str | None = None, out_dir: str = ".",
                   home: Callable[[str | None], str | None] = home_of) -> CrontabImport:
    """Read a crontab and build one validated definition per job it can keep."""
    result = CrontabImport(source)
    jobs, result.findings = parse(text, system=system)
    zone_default = default_zone or local_zone()
    if default_zone is None and zone_default is None and jobs:
        result.findings.append(Finding(None, "note", "this machine's time zone has no IANA "
                                       "name: jobs without CRON_TZ are scheduled in UTC (set "
                                       "--timezone)"))
    for workflow_id, job in assign_ids(jobs):
        def refuse(message: str, job: Job = job) -> None:
            result.findings.append(Finding(job.line, "refused", message))

        zone_var = job.env.get("CRON_TZ") or job.env.get("TZ")
        zone = zone_var.value.lstrip(":") if zone_var is not None else (zone_default or "UTC")
        if zone_var is not None:
            try:
                get_zone(zone)
            except ClockwfError as exc:
                refuse(f"{zone_var.name}={zone_var.value} (line {zone_var.line}): "
                       f"{exc.message}")
                continue
        user_home = home(job.user)
        if user_home is None and "HOME" not in job.env:
            refuse(f"user {job.user!r} does not exist on this machine: cron refuses the line "
                   "(set HOME= above it, or create the user)" if job.user is not None else
                   "the current user has no home directory: set HOME= in the crontab")
            continue
        try:
            doc, notes = definition(job, workflow_id, zone=zone, home=user_home or "/",
                                    source=source)
        except InvalidInput as exc:
            refuse(exc.message)
            continue
        text_out = render(doc, job, source)
        path = os.path.join(out_dir, f"{workflow_id}.yaml")
        report = validate_source(text_out, path, now)
        if not report.ok:
            refuse("the generated definition does not validate: "
                   + "; ".join(d.message for d in report.errors))
            continue
        result.findings.extend(notes)
        result.findings.extend(Finding(job.line, "note", f"validate: {d.message}")
                               for d in report.warnings)
        result.workflows.append(Imported(workflow_id, job, zone, text_out, report))
    result.findings = sorted(dict.fromkeys(result.findings), key=lambda f: (f.line or 0))
    return result
