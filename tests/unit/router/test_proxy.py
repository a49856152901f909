import pytest

from hooks.router.proxy import backend_url, request_headers, response_headers


def test_request_headers_drop_hop_by_hop_and_what_the_router_recomputes() -> None:
    headers = [
        (b"Host", b"router:8000"),
        (b"Content-Length", b"17"),
        (b"Connection", b"keep-alive, X-Secret-Hop"),
        (b"Keep-Alive", b"timeout=5"),
        (b"Transfer-Encoding", b"chunked"),
        (b"TE", b"trailers"),
        (b"Upgrade", b"h2c"),
        (b"Proxy-Authorization", b"Basic eA=="),
        (b"X-Secret-Hop", b"1"),
        (b"Expect", b"100-continue"),
        (b"Authorization", b"Bearer sk-123"),
        (b"Content-Type", b"application/json"),
        (b"Accept", b"text/event-stream"),
    ]
    assert request_headers(headers, "10.0.0.7") == [
        (b"authorization", b"Bearer sk-123"),
        (b"content-type", b"application/json"),
        (b"accept", b"text/event-stream"),
        (b"x-forwarded-for", b"10.0.0.7"),
    ]


@pytest.mark.parametrize(
    ("reason", "given", "client", "want"),
    [
        ("appended to the chain", b"203.0.113.9", "10.0.0.7", b"203.0.113.9, 10.0.0.7"),
        ("kept without a client address", b"203.0.113.9", None, b"203.0.113.9"),
    ],
)
def test_forwarded_for(reason: str, given: bytes, client: str | None, want: bytes) -> None:
    got = dict(request_headers([(b"x-forwarded-for", given)], client))
    assert got[b"x-forwarded-for"] == want, reason


def test_response_headers_keep_end_to_end_ones() -> None:
    headers = [
        (b"content-type", b"text/event-stream"),
        (b"content-length", b"42"),
        (b"content-encoding", b"gzip"),
        (b"connection", b"close"),
        (b"transfer-encoding", b"chunked"),
        (b"date", b"Thu, 15 Jan 2026 10:30:00 GMT"),
        (b"server", b"vllm"),
        (b"x-request-id", b"abc"),
    ]
    assert response_headers(headers) == [
        (b"content-type", b"text/event-stream"),
        (b"content-length", b"42"),
        (b"content-encoding", b"gzip"),
        (b"x-request-id", b"abc"),
    ]


@pytest.mark.parametrize(
    ("base", "path", "query", "want"),
    [
        ("http://vllm:8000", "/v1/completions", b"", "http://vllm:8000/v1/completions"),
        ("http://vllm:8000/", "/v1/completions", b"", "http://vllm:8000/v1/completions"),
        (
            "http://gw/ollama",
            "/v1/embeddings",
            b"a=1&b=2",
            "http://gw/ollama/v1/embeddings?a=1&b=2",
        ),
    ],
)
def test_backend_url(base: str, path: str, query: bytes, want: str) -> None:
    assert backend_url(base, path, query) == want
