"""The forwarding client against scripted loopback servers that speak raw HTTP/1.1."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from hooks.router import upstream
from hooks.router.upstream import (
    ConnectFailed,
    Pool,
    UpstreamError,
    UpstreamTimeout,
    parse_url,
)
from tests.unit.router.factory import run

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Server:
    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[bytes] = []
        self.disconnected = asyncio.Event()

    async def read_request(self, reader: asyncio.StreamReader) -> bytes | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        request = head + await reader.readexactly(length)
        self.requests.append(request)
        return request


@asynccontextmanager
async def serving(
    script: Callable[[Server, asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[tuple[Server, str]]:
    state = Server()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        try:
            await script(state, reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield state, f"http://127.0.0.1:{port}"
    finally:
        server.close()


def pool(**overrides: float) -> Pool:
    return Pool(
        connect_timeout=overrides.get("connect", 2.0), read_timeout=overrides.get("read", 2.0)
    )


async def body_of(response: upstream.Response) -> bytes:
    parts, last = [], False
    while not last:
        chunk, last = await response.read(2.0)
        parts.append(chunk)
    response.close()
    return b"".join(parts)


async def keep_alive_json(
    state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> None:
    while await state.read_request(reader) is not None:
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n"
            b'X-Id: 7\r\n\r\n{"ok":true}'
        )
        await writer.drain()


def test_request_line_headers_and_body_go_out_once_and_connections_are_reused() -> None:
    async def scenario() -> None:
        async with serving(keep_alive_json) as (state, url):
            client = pool()
            for _ in range(3):
                response = await client.request(
                    "POST",
                    url + "/v1/chat/completions?x=1",
                    [(b"authorization", b"Bearer k")],
                    b'{"model":"m"}',
                )
                assert response.status == 200
                assert (b"x-id", b"7") in response.headers
                assert await body_of(response) == b'{"ok":true}'
            client.close()
        assert state.connections == 1
        host = url.removeprefix("http://").encode()
        assert state.requests[0] == (
            b"POST /v1/chat/completions?x=1 HTTP/1.1\r\nhost: " + host + b"\r\n"
            b'content-length: 13\r\nauthorization: Bearer k\r\n\r\n{"model":"m"}'
        )

    run(scenario())


def test_chunked_body_arrives_piece_by_piece() -> None:
    async def chunked(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n"
            b"content-type: text/event-stream\r\n\r\n"
        )
        for index in range(3):
            event = f"data: {index}\n\n".encode()
            writer.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            await writer.drain()
            await asyncio.sleep(0.05)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        await state.read_request(reader)

    async def scenario() -> None:
        async with serving(chunked) as (_, url):
            client = pool()
            response = await client.request("POST", url + "/", [], b"{}")
            pieces = []
            last = False
            while not last:
                chunk, last = await response.read(2.0)
                pieces.append(chunk)
            response.close()
            assert pieces[:3] == [b"data: 0\n\n", b"data: 1\n\n", b"data: 2\n\n"]
            assert b"".join(pieces) == b"data: 0\n\ndata: 1\n\ndata: 2\n\n"
            client.close()

    run(scenario())


def test_a_body_delimited_by_closing_the_connection() -> None:
    async def until_close(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nall of it")
        await writer.drain()

    async def scenario() -> None:
        async with serving(until_close) as (state, url):
            client = pool()
            assert await body_of(await client.request("POST", url, [], b"")) == b"all of it"
            assert await body_of(await client.request("POST", url, [], b"")) == b"all of it"
            assert state.connections == 2
            client.close()

    run(scenario())


def test_interim_responses_are_skipped() -> None:
    async def early_hints(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nlink: </x>\r\n\r\n")
        writer.write(b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        await state.read_request(reader)

    async def scenario() -> None:
        async with serving(early_hints) as (_, url):
            client = pool()
            response = await client.request("POST", url, [], b"")
            assert response.status == 201
            assert response.headers == [(b"content-length", b"2")]
            assert await body_of(response) == b"ok"
            client.close()

    run(scenario())


def test_a_truncated_body_is_an_error_not_an_ending() -> None:
    async def truncated(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nonly part")
        await writer.drain()

    async def scenario() -> None:
        async with serving(truncated) as (_, url):
            client = pool()
            response = await client.request("POST", url, [], b"")
            assert await response.read(2.0) == (b"only part", False)
            with pytest.raises(UpstreamError, match="closed the connection"):
                await response.read(2.0)
            response.close()
            client.close()

    run(scenario())


def test_closing_early_aborts_the_connection_and_the_backend_sees_it() -> None:
    async def endless(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        try:
            while True:
                writer.write(b"5\r\nhello\r\n")
                await writer.drain()
                await asyncio.sleep(0.01)
        except ConnectionError:
            state.disconnected.set()

    async def scenario() -> None:
        async with serving(endless) as (state, url):
            client = pool()
            response = await client.request("POST", url, [], b"")
            await response.read(2.0)
            response.close()
            await asyncio.wait_for(state.disconnected.wait(), 2)
            client.close()

    run(scenario())


def test_a_slow_consumer_pauses_reading() -> None:
    async def firehose(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")
        for _ in range(2000):
            writer.write(b"400\r\n" + b"x" * 1024 + b"\r\n")
            await writer.drain()
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def scenario() -> None:
        async with serving(firehose) as (_, url):
            client = pool()
            response = await client.request("POST", url, [], b"")
            await asyncio.sleep(0.2)
            try:
                # Reading paused instead of buffering the whole stream: at most the
                # threshold plus what one socket read (asyncio reads 256 KiB) held.
                assert not response.complete
                assert len(response.chunks) <= upstream._PAUSE_ABOVE + 256
                assert len(await body_of(response)) == 2000 * 1024
            finally:
                client.close()

    run(scenario())


def test_connect_errors_and_timeouts() -> None:
    async def silent(
        state: Server, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await state.read_request(reader)
        await asyncio.sleep(5)

    async def scenario() -> None:
        client = pool()
        with pytest.raises(ConnectFailed):
            await client.request("POST", "http://127.0.0.1:1/", [], b"")
        async with serving(silent) as (_, url):
            with pytest.raises(UpstreamTimeout):
                await pool(read=0.2).request("POST", url, [], b"")
        with pytest.raises(ValueError, match="not an http"):
            await client.request("POST", "ftp://x/", [], b"")

    run(scenario())


def test_idle_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(upstream, "IDLE_SECONDS", 0.0)

    async def scenario() -> None:
        async with serving(keep_alive_json) as (state, url):
            client = pool()
            await body_of(await client.request("POST", url, [], b""))
            await asyncio.sleep(0.01)
            await body_of(await client.request("POST", url, [], b""))
            assert state.connections == 2
            client.close()

    run(scenario())


def test_parse_url() -> None:
    target = parse_url("https://inference.example.com/base/v1?a=b")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "inference.example.com",
        443,
        "/base/v1?a=b",
    )
    assert parse_url("http://vllm").port == 80
    assert parse_url("http://vllm").path == "/"
