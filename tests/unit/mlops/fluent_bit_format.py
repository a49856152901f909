"""A checker of fluent-bit's classic configuration format, since no fluent-bit binary
can be had here (no Debian, PyPI or npm package).

It follows fluent-bit's documentation (Administration > Configuring Fluent Bit >
Classic mode, and each plugin's page): `[SECTION]` headers, indented `Key Value`
entries (spaces, one indentation per file, keys case-insensitive), `#` comments,
`@INCLUDE` and `@SET`; every section of the pipeline has a `Name`; each plugin used
here has its required keys and only documented keys; a parser's regex is Onigmo
with `(?<name>...)` groups, checked here with Python's `re` against real lines.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from datetime import datetime

SECTIONS = {"SERVICE", "INPUT", "FILTER", "OUTPUT", "PARSER", "MULTILINE_PARSER"}
_COMMON = {"name", "alias", "log_level"}
_INPUT = _COMMON | {"tag", "threaded", "mem_buf_limit", "storage.type"}
_FILTER_OUTPUT = _COMMON | {"match", "match_regex"}

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("INPUT", "cpu"): _INPUT | {"interval_sec", "interval_nsec", "pid"},
    ("INPUT", "mem"): _INPUT | {"interval_sec", "interval_nsec", "pid"},
    ("INPUT", "tail"): _INPUT
    | {
        "path",
        "parser",
        "db",
        "refresh_interval",
        "read_from_head",
        "skip_long_lines",
        "buffer_chunk_size",
        "buffer_max_size",
        "path_key",
        "exclude_path",
        "rotate_wait",
    },
    ("FILTER", "log_to_metrics"): _FILTER_OUTPUT
    | {
        "tag",
        "metric_mode",
        "metric_name",
        "metric_namespace",
        "metric_subsystem",
        "metric_description",
        "value_field",
        "label_field",
        "add_label",
        "bucket",
        "regex",
        "exclude",
        "kubernetes_mode",
        "discard_logs",
        "emitter_name",
        "emitter_mem_buf_limit",
        "flush_interval_sec",
        "flush_interval_nsec",
    },
    ("OUTPUT", "prometheus_exporter"): _FILTER_OUTPUT | {"host", "port", "add_label"},
    ("OUTPUT", "stdout"): _FILTER_OUTPUT | {"format", "json_date_key", "json_date_format"},
    ("OUTPUT", "http"): _FILTER_OUTPUT
    | {"host", "port", "uri", "format", "header", "tls", "json_date_key", "json_date_format"},
    ("OUTPUT", "forward"): _FILTER_OUTPUT | {"host", "port", "tag", "time_as_integer"},
}
REQUIRED: dict[tuple[str, str], set[str]] = {
    ("INPUT", "tail"): {"path"},
    ("FILTER", "log_to_metrics"): {"tag", "metric_mode", "metric_name", "metric_description"},
}
SERVICE_KEYS = {
    "flush",
    "grace",
    "daemon",
    "log_file",
    "log_level",
    "parsers_file",
    "plugins_file",
    "http_server",
    "http_listen",
    "http_port",
    "storage.path",
}
PARSER_KEYS = {"name", "format", "regex", "time_key", "time_format", "time_keep", "types"}
LOG_LEVELS = {"off", "error", "warn", "info", "debug", "trace"}
METRIC_MODES = {"counter", "gauge", "histogram"}
_ENTRY = re.compile(r"^(?P<indent> +)(?P<key>[A-Za-z0-9_.]+)(?: +(?P<value>.*\S))? *$")


class FormatError(ValueError):
    """The file is not a valid fluent-bit classic configuration."""


@dataclass
class Section:
    kind: str
    line: int
    entries: list[tuple[str, str]] = field(default_factory=list)

    def get(self, key: str) -> str | None:
        values = self.all(key)
        return values[-1] if values else None

    def all(self, key: str) -> list[str]:
        return [v for k, v in self.entries if k == key.lower()]

    @property
    def name(self) -> str:
        return (self.get("name") or "").lower()


def parse(text: str) -> list[Section]:
    """Sections of a classic-format file; raises FormatError naming the line."""
    sections: list[Section] = []
    indent: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if "\t" in raw:
            raise FormatError(f"line {number}: tabs are not allowed, indent with spaces")
        if line.startswith("@"):
            directive = line.split(None, 1)[0].upper()
            if directive not in ("@INCLUDE", "@SET"):
                raise FormatError(f"line {number}: unknown directive {directive}")
            continue
        if line.startswith("["):
            match = re.fullmatch(r"\[([A-Z_]+)\]", line)
            if not match or match[1].upper() not in SECTIONS:
                raise FormatError(f"line {number}: unknown section header {line!r}")
            sections.append(Section(match[1].upper(), number))
            continue
        entry = _ENTRY.match(line)
        if not entry:
            raise FormatError(f"line {number}: expected an indented `Key Value`: {raw!r}")
        if not sections:
            raise FormatError(f"line {number}: entry outside any section")
        if indent is None:
            indent = entry["indent"]
        elif entry["indent"] != indent:
            raise FormatError(f"line {number}: indentation differs from the file's first entry")
        if entry["value"] is None:
            raise FormatError(f"line {number}: key {entry['key']} has no value")
        sections[-1].entries.append((entry["key"].lower(), entry["value"]))
    return sections


def check_pipeline(text: str, parsers: dict[str, Section]) -> list[Section]:
    """A main configuration: sections, plugins' keys, parser references, tags that match."""
    sections = parse(text)
    tags: list[str] = []
    for section in sections:
        if section.kind == "SERVICE":
            _only(section, SERVICE_KEYS)
            level = section.get("log_level")
            if level is not None and level.lower() not in LOG_LEVELS:
                raise FormatError(f"line {section.line}: Log_Level {level} is not a level")
            continue
        if section.kind in ("PARSER", "MULTILINE_PARSER"):
            raise FormatError(f"line {section.line}: [{section.kind}] belongs in a parsers file")
        key = (section.kind, section.name)
        if key not in ALLOWED:
            raise FormatError(f"line {section.line}: no {section.kind} plugin {section.name!r}")
        _only(section, ALLOWED[key])
        missing = sorted(k for k in REQUIRED.get(key, set()) if section.get(k) is None)
        if missing:
            raise FormatError(f"line {section.line}: {section.name} needs {', '.join(missing)}")
        if section.kind == "INPUT":
            tags.append(section.get("tag") or section.name)
            parser = section.get("parser")
            if parser is not None and parser not in parsers:
                raise FormatError(f"line {section.line}: no parser named {parser}")
        else:
            pattern = section.get("match")
            if pattern is None and section.get("match_regex") is None:
                raise FormatError(f"line {section.line}: {section.name} needs Match")
            if pattern is not None and not any(fnmatch.fnmatchcase(t, pattern) for t in tags):
                raise FormatError(f"line {section.line}: Match {pattern} matches no tag of {tags}")
        if key == ("FILTER", "log_to_metrics"):
            mode = (section.get("metric_mode") or "").lower()
            if mode not in METRIC_MODES:
                raise FormatError(
                    f"line {section.line}: Metric_Mode {mode} is not one of {METRIC_MODES}"
                )
            if mode in ("gauge", "histogram") and section.get("value_field") is None:
                raise FormatError(f"line {section.line}: a {mode} needs Value_Field")
            for bucket in section.all("bucket"):
                float(bucket)
            tags.append(section.get("tag") or "")
        if section.kind == "OUTPUT" and section.get("port") is not None:
            port = int(section.get("port") or "")
            if not 0 < port < 65536:
                raise FormatError(f"line {section.line}: Port {port} is not a port")
    return sections


def check_parsers(text: str) -> dict[str, Section]:
    """A parsers file: every [PARSER] has a Name and a Format, a regex parser a Regex."""
    found: dict[str, Section] = {}
    for section in parse(text):
        if section.kind != "PARSER":
            raise FormatError(f"line {section.line}: [{section.kind}] in a parsers file")
        _only(section, PARSER_KEYS)
        name, fmt = section.get("name"), (section.get("format") or "").lower()
        if not name or fmt not in ("json", "regex", "ltsv", "logfmt"):
            raise FormatError(f"line {section.line}: a parser needs a Name and a known Format")
        if fmt == "regex":
            compile_regex(section.get("regex") or "")
        found[name] = section
    return found


def compile_regex(onigmo: str) -> re.Pattern[str]:
    """Onigmo's named groups `(?<name>...)` as Python's `(?P<name>...)`."""
    if not onigmo:
        raise FormatError("a regex parser needs a Regex")
    return re.compile(re.sub(r"\(\?<([A-Za-z_][A-Za-z0-9_]*)>", r"(?P<\1>", onigmo))


def parse_line(parser: Section, line: str) -> dict[str, object]:
    """What the parser makes of one log line: fields typed as `Types` says, time checked."""
    match = compile_regex(parser.get("regex") or "").match(line)
    if match is None:
        raise FormatError(f"parser {parser.get('name')} does not match {line!r}")
    record: dict[str, object] = dict(match.groupdict())
    time_key = parser.get("time_key")
    if time_key is not None:
        if time_key not in record:
            raise FormatError(f"Time_Key {time_key} is not a group of the regex")
        moment = datetime.strptime(  # noqa: DTZ007 (the format's %z makes it aware)
            str(record.pop(time_key)), parser.get("time_format") or ""
        )
        if moment.tzinfo is None:
            raise FormatError(f"Time_Format of {parser.get('name')} reads no time zone")
    casts = {"integer": int, "float": float, "string": str}
    for pair in (parser.get("types") or "").split():
        key, _, kind = pair.partition(":")
        if key not in record or kind not in casts:
            raise FormatError(f"Types {pair}: no such group or type")
        record[key] = casts[kind](str(record[key]))
    return record


def _only(section: Section, allowed: set[str]) -> None:
    unknown = sorted({k for k, _ in section.entries} - allowed)
    if unknown:
        raise FormatError(
            f"line {section.line}: [{section.kind}] {section.name or ''} has unknown keys {unknown}"
        )
