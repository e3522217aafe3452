"""Streaming multipart/form-data: the `file` part goes straight to the spool, never whole
into memory; the small text fields are collected (each capped)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from assetry.domain.ports import StagedFile
from assetry.errors import Invalid, TooLarge

MAX_FIELD = 64 * 1024
MAX_FIELDS = 32
#: what a multipart body may carry besides the file (boundaries, headers, fields). A
#: Content-Length above the pool limit plus this is refused before reading the body.
OVERHEAD = MAX_FIELDS * 512 + 4 * MAX_FIELD


@dataclass
class Form:
    """The parsed form: text fields, and the staged file (None when no `file` part came)."""

    fields: dict[str, str]
    filename: str | None
    staged: StagedFile | None


@dataclass
class _State:
    fields: dict[str, str] = field(default_factory=dict)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    name: str | None = None
    filename: str | None = None  #: the `file` part's name, kept once seen
    in_file: bool = False
    file_seen: bool = False
    value: bytearray = field(default_factory=bytearray)
    chunks: list[bytes] = field(default_factory=list)


def check_content_length(request: Request, limit: int) -> None:
    """Refuse (413) from the Content-Length header alone, before reading the body."""
    raw = request.headers.get("content-length")
    if raw is not None and raw.isdigit() and int(raw) > limit + OVERHEAD:
        raise TooLarge(
            f"request body is {int(raw)} bytes; this pool accepts files of at most {limit}",
            limit=limit, size=int(raw),
        )


def _boundary(request: Request) -> bytes:
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise Invalid("the body must be multipart/form-data with a boundary", field="file")
    return boundary


async def read_form(
    request: Request,
    stage: Callable[[AsyncIterator[bytes]], Awaitable[StagedFile]],
    discard: Callable[[StagedFile], None],
) -> Form:
    """Parse the request body. `stage` receives the file's bytes as they arrive (it
    enforces the size limit); `discard` removes a staged file when no `file` part came.

    Raises Invalid (400) for a malformed body, a second file, or an oversized text field."""
    state = _State()

    def on_part_begin() -> None:
        state.headers, state.name, state.in_file = {}, None, False
        state.value = bytearray()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state.header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state.header_value += data[start:end]

    def on_header_end() -> None:
        state.headers[bytes(state.header_name).lower()] = bytes(state.header_value)
        state.header_name, state.header_value = bytearray(), bytearray()

    def on_headers_finished() -> None:
        _, params = parse_options_header(state.headers.get(b"content-disposition", b""))
        state.name = params.get(b"name", b"").decode("utf-8", "replace")
        raw_filename = params.get(b"filename")
        if raw_filename is not None:
            if state.name != "file":
                raise Invalid(f"unexpected file in field {state.name!r}", field=state.name)
            if state.file_seen:
                raise Invalid("only one file may be sent", field="file")
            state.filename = raw_filename.decode("utf-8", "replace")
            state.in_file = state.file_seen = True
        elif len(state.fields) >= MAX_FIELDS:
            raise Invalid(f"at most {MAX_FIELDS} form fields", field=state.name)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state.in_file:
            # Most of a file's bytes arrive as whole ASGI chunks: kept as they are, not
            # copied (a 12 MP upload is 4.7 MB of them).
            whole = start == 0 and end == len(data) and type(data) is bytes
            state.chunks.append(data if whole else bytes(data[start:end]))
        else:
            state.value += data[start:end]
            if len(state.value) > MAX_FIELD:
                raise Invalid(f"longer than {MAX_FIELD} bytes", field=state.name)

    def on_part_end() -> None:
        if not state.in_file and state.name is not None:
            state.fields[state.name] = state.value.decode("utf-8", "replace")
        state.in_file = False

    parser = MultipartParser(_boundary(request), {
        "on_part_begin": on_part_begin, "on_part_data": on_part_data,
        "on_part_end": on_part_end, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
    })

    async def file_bytes() -> AsyncIterator[bytes]:
        try:
            async for chunk in request.stream():
                parser.write(chunk)
                if state.chunks:
                    yield b"".join(state.chunks)
                    state.chunks.clear()
            parser.finalize()
        except MultipartParseError as exc:
            raise Invalid(f"malformed multipart body: {exc}", field="file") from exc
        if state.chunks:
            yield b"".join(state.chunks)
            state.chunks.clear()

    staged = await stage(file_bytes())
    if not state.file_seen:
        discard(staged)
        return Form(fields=state.fields, filename=None, staged=None)
    return Form(fields=state.fields, filename=state.filename, staged=staged)
