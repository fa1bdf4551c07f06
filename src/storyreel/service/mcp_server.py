"""``storyreel mcp``: the studio's projects, options and renders as MCP tools, for agents.

The tools call the same :class:`~storyreel.service.studio.Studio` as the web page and the
HTTP API, on the same data folder (one server per folder, as for the studio), so a project
an agent makes shows in the studio and the other way round. The studio's refusals come
back as MCP tool errors carrying the API's messages and problems.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings

from storyreel.service.errors import Invalid, StudioError
from storyreel.service.importers import ImportFailed, parse_text_blocks
from storyreel.service.lifecycle import make_studio, studio_running
from storyreel.service.options import build_manifest
from storyreel.service.protocol import problem_dicts
from storyreel.service.studio import Studio

__all__ = ["build_server", "open_studio", "serve_http", "serve_stdio"]

#: Files ``add_visual`` stores as a segment's clip; any other file is tried as a still.
CLIP_SUFFIXES = frozenset({".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi"})
#: The studio's job states in the words the tools answer with.
_STATUS = {"new": "none", "processing": "running"}

T = TypeVar("T")


@contextmanager
def open_studio(data_dir: Path, *, max_jobs: int = 1) -> Iterator[Studio]:
    """The studio of ``data_dir`` with its render workers running, for as long as the
    block lasts (the folder is locked against a second server meanwhile), as the web
    studio runs it."""
    with studio_running(make_studio(data_dir, max_jobs=max_jobs)) as studio:
        yield studio


def _answer(call: Callable[[], T]) -> T:
    """Run a studio call; its refusal becomes a tool error with the API's words."""
    try:
        return call()
    except StudioError as exc:
        raise _tool_error(str(exc), [p.model_dump(exclude_none=True)
                                     for p in exc.problems or []]) from exc


def _tool_error(message: str, problems: list[dict[str, Any]] | None) -> ToolError:
    """A tool error saying ``message``, the problems after it as JSON."""
    return ToolError(f"{message} {json.dumps(problems, ensure_ascii=False)}" if problems
                     else message)


def build_server(studio: Studio) -> MCPServer[Any]:
    """The MCP server whose tools and resources work on ``studio``."""
    from storyreel import __version__

    server: MCPServer[Any] = MCPServer(
        "storyreel", version=__version__,
        instructions="Make narrated videos: create a project from a story's text, "
        "optionally add pictures or clips, set options, render, then poll its status.")

    @server.tool()
    def create_project(title: str, text: str | None = None,
                       manifest: dict[str, Any] | None = None) -> str:
        """Create a project from a story's text (split into segments as the studio's text
        import does: paragraphs, or blocks with labels) or from a project JSON
        (``segments`` with ``text``, and options). A story from text shows title cards
        (its chapter, or the story's title) until ``add_visual`` gives a segment a picture.
        Answers JSON with the project's ``id``."""
        detail = _answer(lambda: _create(studio, title, text, manifest))
        return json.dumps({"id": detail.id, "title": detail.title,
                           "segments": len(detail.segment_list)}, ensure_ascii=False)

    @server.tool()
    def list_projects() -> str:
        """The studio's projects (also those made in its web page): ``id``, ``title``,
        ``status`` of the latest render (as ``project_status`` says it) and ``segments``."""
        return json.dumps([
            {"id": p.id, "title": p.title, "status": _STATUS.get(p.status, p.status),
             "segments": p.segments} for p in studio.views.list_projects()],
            ensure_ascii=False)

    @server.tool()
    def add_visual(project_id: int, segment: int, path: str) -> str:
        """Give segment number ``segment`` (1-based) a picture or a video clip read from a
        local file (an absolute path, ``~/...``, or relative to the folder the server was
        started in). Answers the segment as JSON."""
        return _answer(lambda: _add_visual(studio, project_id, segment,
                                           Path(path).expanduser()))

    @server.tool()
    def list_voices() -> str:
        """The voice engines on this machine: ready or not (and why), and their voices."""
        from dataclasses import asdict

        from storyreel.voice.engines import engine_statuses

        return json.dumps([asdict(status) for status in engine_statuses()], default=str)

    @server.tool()
    def set_options(project_id: int, platform: str | None = None,
                    caption_style: str | None = None, voice: str | None = None,
                    crossfade: float | None = None, width: int | None = None,
                    height: int | None = None, settings: dict[str, Any] | None = None
                    ) -> str:
        """Change render options: ``platform`` (e.g. shorts, youtube; several, comma-separated
        like ``youtube,shorts,square``, make one video each in one render),
        ``caption_style`` (phrase, word, karaoke, pop), ``voice`` (a voice of the built-in
        engine), ``crossfade`` in seconds, the video's ``width`` and ``height``, or any other
        ``settings`` of a manifest (merged into the current ones)."""
        patch: dict[str, Any] = dict(settings or {})
        names = [name.strip() for name in (platform or "").split(",") if name.strip()]
        if len(names) > 1:
            patch["platforms"] = names
        elif platform is not None:
            patch["platform"] = platform
        if caption_style is not None:
            patch["subtitles"] = {**patch.get("subtitles", {}), "style": caption_style}
        if voice is not None:
            patch["voice"] = {**patch.get("voice", {}), "voice": voice}
        if crossfade is not None:
            patch["transitions"] = {**patch.get("transitions", {}), "crossfade": crossfade}
        size = {k: v for k, v in (("width", width), ("height", height)) if v is not None}
        detail = _answer(lambda: studio.update(project_id, None, {**size, "settings": patch}))
        return json.dumps({"id": detail.id, "options": detail.options}, default=str)

    @server.tool()
    def render_project(project_id: int, draft: bool = False) -> str:
        """Queue a render (``draft``: a quick low-resolution one); poll ``project_status``."""
        job = _answer(lambda: studio.render(project_id, draft=draft))
        return json.dumps({"job_id": job.id, "status": "queued"})

    @server.tool()
    def project_status(project_id: int) -> str:
        """Where the project's latest render stands: ``status`` (queued, running,
        completed, failed, cancelled, or none before any render), ``progress`` (0-100),
        and, when completed, the video's ``path`` (of a render for several platforms,
        the first's, and ``videos``: each one's ``platform`` and ``path``)."""
        return json.dumps(_answer(lambda: _status(studio, project_id)), ensure_ascii=False)

    @server.tool()
    def export_timeline(project_id: int, format: str, path: str) -> str:
        """Write the project as an editable timeline for a video editor to ``path`` (a
        local file; its folder is made when missing): ``format`` otio (OpenTimelineIO),
        fcpxml (Final Cut Pro, DaVinci Resolve), kdenlive (Kdenlive, Shotcut) or edl.
        Narrations not yet spoken are spoken first; captions go beside it as an SRT.
        Answers JSON with the ``path``, ``frames``, ``fps``, ``clips``, ``captions`` and
        ``warnings`` (what the format leaves out). Not inside the studio's data folder,
        whose files the studio manages."""
        return json.dumps(_answer(lambda: _export(studio, project_id, format,
                                                  Path(path).expanduser())),
                          ensure_ascii=False)

    @server.resource("storyreel://projects/{project_id}", mime_type="application/json")
    def project(project_id: str) -> str:
        """A project with its segments, options and render status (the API's JSON)."""
        if not project_id.isdigit():
            raise ToolError(f"no project {project_id!r}")
        return _answer(lambda: studio.views.detail(int(project_id)).model_dump_json())

    return server


def _create(studio: Studio, title: str, text: str | None,
            manifest: dict[str, Any] | None) -> Any:
    if (text is None) == (manifest is None):
        raise Invalid("Give the story's text or a manifest (one of them).")
    if manifest is not None:
        return studio.create_from_json({**manifest, "title": title})
    try:
        parsed = parse_text_blocks(text or "")
    except ImportFailed as exc:
        raise Invalid(str(exc)) from None
    parsed.title = title
    _cards(parsed.segments, title)
    return studio.create(parsed)


def _cards(segments: list[dict[str, Any]], title: str) -> None:
    """Give a story told in text alone something to show: each segment a title card with
    its chapter, or the story's title (a picture added later takes the card's place)."""
    for segment in segments:
        if not segment.get("title"):
            segment["title"] = (segment.get("chapter") or "").strip() or title


def _add_visual(studio: Studio, project_id: int, number: int, path: Path) -> str:
    segments = studio.views.detail(project_id).segment_list
    if not 1 <= number <= len(segments):
        raise Invalid(f"The project has no segment {number} (it has {len(segments)}).")
    what = "video" if path.suffix.lower() in CLIP_SUFFIXES else "image"
    try:
        with path.open("rb") as source:
            answer = studio.upload(project_id, segments[number - 1].id, what, source)
    except OSError as exc:
        raise Invalid(f"The file {path} cannot be read ({exc.strerror or exc}).") from exc
    return answer.segment.model_dump_json()


def _export(studio: Studio, project_id: int, fmt: str, target: Path) -> dict[str, Any]:
    """The project as its render would make it, exported by ``storyreel export``."""
    from storyreel.errors import StoryreelError, ValidationFailed
    from storyreel.model.load import project_from_dict

    try:
        from storyreel.export import FORMATS, export_project
    except ImportError as exc:
        raise _tool_error("Exporting needs the 'export' extra (pip install "
                          f"'storyreel[export]'): {exc}", None) from exc
    if fmt not in FORMATS:
        raise Invalid(f"Unknown timeline format {fmt!r}: choose one of {', '.join(FORMATS)}.")
    row = studio.project(project_id)
    if target.resolve().parent.is_relative_to(studio.data_dir.resolve()):
        raise Invalid(f"The timeline cannot be written to {target}: the studio's data folder "
                      f"({studio.data_dir}) holds only the files it manages; choose a path "
                      "outside it.")
    manifest = build_manifest(row.title, row.options, studio.store.segments(project_id))
    try:
        target.parent.mkdir(parents=True, exist_ok=True)  # an agent may have no shell
    except OSError as exc:
        raise Invalid(f"The folder {target.parent} cannot be made "
                      f"({exc.strerror or exc}).") from exc
    try:
        project = project_from_dict(manifest, base_dir=studio.folder(project_id))
        result = export_project(project, target, fmt)
    except ValidationFailed as exc:
        count = len(exc.problems)
        raise _tool_error(f"The timeline cannot be written yet: {count} problem"
                          f"{'s' if count != 1 else ''} to fix.",
                          problem_dicts(exc.problems)) from exc
    except StoryreelError as exc:
        raise _tool_error(f"The timeline could not be written: {exc}", None) from exc
    return {"path": str(result.path), "format": result.format, "frames": result.frames,
            "fps": str(result.fps), "clips": result.clips,
            "captions": str(result.captions) if result.captions else None,
            "warnings": result.warnings}


def _status(studio: Studio, project_id: int) -> dict[str, Any]:
    status = studio.views.status(project_id)
    answer: dict[str, Any] = {
        "status": _STATUS.get(status.status, status.status), "progress": status.percent,
        "phase": status.phase, "message": status.message, "error": status.error}
    if status.problems:
        answer["problems"] = [p.model_dump(exclude_none=True) for p in status.problems]
    if status.status == "completed" and status.job_id is not None:
        answer["path"] = str(studio.render_file(status.job_id, "video")[0])
        job, _ = studio.finished(status.job_id)
        if job.outputs:  # a render for several platforms: one video each
            answer["videos"] = [
                {"platform": o["platform"],
                 "path": str(studio.render_file(job.id, "video", o["platform"])[0])}
                for o in job.outputs]
    return answer


def serve_stdio(data_dir: Path) -> None:
    """Run the MCP server on stdin/stdout until the client closes it."""
    with open_studio(data_dir) as studio:
        build_server(studio).run("stdio")


def serve_http(data_dir: Path, port: int,
               on_listening: Callable[[int], None] | None = None) -> None:
    """Run the MCP server as streamable HTTP at ``http://127.0.0.1:PORT/mcp`` until
    interrupted (``port`` 0: any free one; ``on_listening`` gets the port once bound).

    Only loopback, as the studio without a token: requests naming another ``Host`` or
    coming from another ``Origin`` (a web page's DNS-rebinding trick) are refused.

    Raises:
        StudioConfigError: The port cannot be bound.
    """
    import uvicorn

    from storyreel.service.server import listening_socket, serve_on

    with listening_socket("127.0.0.1", port) as listener:
        bound = int(listener.getsockname()[1])
        hosts = [f"127.0.0.1:{bound}", f"localhost:{bound}"]
        security = TransportSecuritySettings(
            allowed_hosts=hosts, allowed_origins=[f"http://{host}" for host in hosts])
        with open_studio(data_dir) as studio:
            app = build_server(studio).streamable_http_app(transport_security=security)
            if on_listening is not None:
                on_listening(bound)
            serve_on(listener, uvicorn.Config(app, log_level="info"))  # until Ctrl-C
