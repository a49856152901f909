"""The fluent-bit files of the ConfigMap, checked against fluent-bit's documented format."""

from __future__ import annotations

import pytest

from hooks.mlops import configs
from hooks.mlops.api import Metrics
from tests.unit.mlops import fluent_bit_format as fb

OUTPUTS = [
    (Metrics(), "prometheus_exporter"),
    (Metrics(output="stdout"), "stdout"),
    (Metrics(output="http", host="collector.monitoring", port=8888, uri="/ingest"), "http"),
    (Metrics(output="forward", host="fluentd.logging"), "forward"),
]
NGINX_LINE = (
    '127.0.0.1 [01/Dec/2026:22:59:01 +0000] "POST /v1/predict HTTP/1.1" 200 1532 rt=0.042 urt=0.041'
)


@pytest.mark.parametrize(("metrics", "plugin"), OUTPUTS, ids=lambda v: getattr(v, "output", v))
def test_every_output_is_a_valid_pipeline(metrics: Metrics, plugin: str) -> None:
    parsers = fb.check_parsers(configs.parsers_conf())
    sections = fb.check_pipeline(configs.fluent_bit_conf("m", metrics), parsers)
    service = next(s for s in sections if s.kind == "SERVICE")
    assert service.get("parsers_file") == f"{configs.CONFIG_DIR}/{configs.PARSERS_CONF}"
    inputs = {s.name: s for s in sections if s.kind == "INPUT"}
    assert set(inputs) == {"cpu", "mem", "tail"}
    assert inputs["tail"].get("path") == f"{configs.LOG_DIR}/{configs.ACCESS_LOG}"
    outputs = [s for s in sections if s.kind == "OUTPUT"]
    assert [o.name for o in outputs] == [plugin]
    if plugin == "prometheus_exporter":
        assert outputs[0].get("port") == str(configs.POD_PORTS.metrics)
        metric_names = {s.get("metric_name") for s in sections if s.kind == "FILTER"}
        assert metric_names == {
            "cpu_usage_percent",
            "memory_used_kilobytes",
            "request_duration_seconds",
            "requests_total",
        }
    if metrics.host:
        assert outputs[0].get("host") == metrics.host
        assert outputs[0].get("port") == str(metrics.port or configs.FORWARD_DEFAULT_PORT)


def test_the_parser_reads_the_line_nginx_writes() -> None:
    parser = fb.check_parsers(configs.parsers_conf())[configs.PARSER]
    record = fb.parse_line(parser, NGINX_LINE)
    assert record == {
        "remote": "127.0.0.1",
        "method": "POST",
        "path": "/v1/predict",
        "status": 200,
        "size": 1532,
        "request_time": 0.042,
        "upstream_response_time": "0.041",
    }
    # No upstream (nginx answered itself): `urt=-` still parses.
    assert fb.parse_line(parser, NGINX_LINE.replace("urt=0.041", "urt=-"))["request_time"] == 0.042


GOOD = configs.fluent_bit_conf("m", Metrics())


@pytest.mark.parametrize(
    ("reason", "text", "message"),
    [
        ("tab indentation", GOOD.replace("    Name         cpu", "\tName cpu"), "tabs"),
        ("mixed indentation", GOOD.replace("    Name         cpu", "  Name cpu"), "indentation"),
        ("unknown section", GOOD.replace("[FILTER]", "[FILTERS]", 1), "unknown section"),
        (
            "unknown plugin",
            GOOD.replace("Name         cpu", "Name         cpus"),
            "no INPUT plugin",
        ),
        ("typo in a key", GOOD.replace("Interval_Sec 10", "Interval_Secs 10", 1), "unknown keys"),
        ("tail without path", GOOD.replace("    Path ", "    Db "), "needs path"),
        (
            "output matching nothing",
            GOOD.replace("Match metrics", "Match nothing"),
            "matches no tag",
        ),
        ("gauge without value", GOOD.replace("    Value_Field        cpu_p\n", ""), "Value_Field"),
        (
            "unknown parser",
            GOOD.replace("Parser       aihooks_nginx", "Parser       nope"),
            "no parser",
        ),
        ("key without value", GOOD.replace("Flush        5", "Flush"), "no value"),
    ],
)
def test_the_checker_refuses_broken_files(reason: str, text: str, message: str) -> None:
    assert text != GOOD, reason
    parsers = fb.check_parsers(configs.parsers_conf())
    with pytest.raises(fb.FormatError, match=message):
        fb.check_pipeline(text, parsers)


def test_the_checker_refuses_a_parser_without_regex() -> None:
    broken = configs.parsers_conf().replace("Format      regex", "Format      nonsense")
    with pytest.raises(fb.FormatError, match="known Format"):
        fb.check_parsers(broken)
