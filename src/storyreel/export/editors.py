"""What the OpenTimelineIO writers cannot say, added to the FCPXML and Kdenlive files.

Each pass parses the adapter's document, finds the picture track's clips (one per
item of the story, in order) and adds to them what the render shows:

- each still's cover-fitting and Ken Burns motion, as keyframes
  (:mod:`storyreel.export.motion`): in FCPXML an ``adjust-conform`` of ``fill`` and an
  ``adjust-transform`` whose ``position`` and ``scale`` are keyframed; in Kdenlive a
  ``qtblend`` filter (Kdenlive's Transform effect) whose ``rect`` is keyframed;
- a title card's title: in FCPXML a Basic Title in place of the writer's gap, in
  Kdenlive a title clip (MLT's ``kdenlivetitle``) in place of its colour clip;
- each crossfade as a dissolve ending on its cut, over the frames the render blends
  (the incoming clip's media starts that many frames before its cut): in FCPXML a
  Cross Dissolve ``transition`` in the spine, in Kdenlive a same-track mix (the clips
  alternate between the track's two playlists, a ``luma`` dissolve between them);
- in FCPXML, each chapter as a ``chapter-marker`` on the clip where it starts (the
  Kdenlive writer already carries them as guides).
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from xml.etree import ElementTree
from xml.etree.ElementTree import Element, SubElement

import opentimelineio as otio
from PIL import ImageColor

from storyreel.errors import RenderError
from storyreel.export.motion import Rect, image_rect, keyframe_frames, still_rects
from storyreel.frames.card import TITLE_SIZE
from storyreel.frames.pictures import segment_motion
from storyreel.media.image import probe_image
from storyreel.model.project import Project
from storyreel.model.visual import Card, Still, Video, Visual
from storyreel.timeline.plan import SegmentSpan
from storyreel.timeline.story import Chapter, Item, Story

__all__ = ["BASIC_TITLE", "CROSS_DISSOLVE", "fcp_time", "fcpxml_pass", "kdenlive_pass",
           "media_start", "teach_fcpx_writer"]

#: The effect Final Cut Pro (and DaVinci Resolve on import) knows as Basic Title.
BASIC_TITLE = (".../Titles.localized/Bumper:Opener.localized/Basic Title.localized/"
               "Basic Title.moti")

#: The effect Final Cut Pro (and DaVinci Resolve on import) knows as Cross Dissolve.
CROSS_DISSOLVE = "FxPlug:4731E73A-8DAC-4113-9A30-AE85B1761265"

#: Children of an FCPXML clip that come before its adjustments (the DTD's order).
_BEFORE_ADJUSTMENTS = frozenset({"note", "conform-rate", "timeMap"})
#: Children of an FCPXML spine that take time on the picture track.
_SPINE_ITEMS = frozenset({"clip", "asset-clip", "gap", "title", "video", "ref-clip",
                          "sync-clip", "mc-clip", "audition"})


def fcpxml_pass(text: str, project: Project, story: Story) -> str:
    """The FCPXML writer's ``text`` with the stills' motion and the cards' titles.

    Raises:
        RenderError: The writer's document is not shaped as expected.
    """
    root = ElementTree.fromstring(text)
    spine = root.find("./project/sequence/spine")
    resources = root.find("resources")
    if spine is None or resources is None:
        raise RenderError("the FCPXML writer left out its spine or resources")
    _fcp_frame(root, project)
    title_effect: str | None = None
    dissolve: str | None = None
    matched = list(_matched(story, [e for e in spine if e.tag in _SPINE_ITEMS], "FCPXML"))
    for item, span, element in matched:
        if isinstance(item.visual, Still) and item.segment is not None:
            _fcp_motion(element, _rects(project, item.segment, span), project)
        elif isinstance(item.visual, Card) and (item.visual.title or "").strip():
            if title_effect is None:
                title_effect = _add_effect(resources, "Basic Title", BASIC_TITLE)
            _fcp_title(element, item.visual.title or "", title_effect, project, item)
        if span.crossfade:
            if dissolve is None:
                dissolve = _add_effect(resources, "Cross Dissolve", CROSS_DISSOLVE)
            if element.tag == "clip":
                _fcp_lead(element, span.crossfade, project.fps, resources)
            spine.insert(list(spine).index(element), _fcp_dissolve(span, dissolve, project.fps))
    for chapter in story.chapters:
        _fcp_chapter(matched, chapter, project.fps)
    ElementTree.indent(root, space="    ")
    for said in spine.iter("text"):  # a title's text is said as it is, without indenting
        said.text = None
        for style in said:
            style.tail = None
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE fcpxml>\n'
            + ElementTree.tostring(root, encoding="unicode"))


def kdenlive_pass(text: str, project: Project, story: Story) -> str:
    """The Kdenlive writer's ``text`` with the project's frame, the stills' motion and
    the cards' titles.

    The writer's profile is always 1920x1080 and its black background track has no end
    (MLT would play ten minutes of black after the story): both are set from the story.

    Raises:
        RenderError: The writer's document is not shaped as expected.
        MediaError: A still cannot be read (its size places it).
    """
    root = ElementTree.fromstring(text)
    _kdenlive_frame(root, project, story.plan.total_frames)
    tractor, playlists = _picture_playlists(root)
    entries = [e for e in playlists[0] if e.tag == "entry"]
    for number, (item, span, entry) in enumerate(_matched(story, entries, "Kdenlive")):
        if isinstance(item.visual, Still) and item.segment is not None:
            image = probe_image(item.visual.image, item.segment + 1)
            rects = [image_rect(rect, image)
                     for rect in _rects(project, item.segment, span)]
            entry.append(_qtblend(rects, f"motion{number}"))
        elif isinstance(item.visual, Card) and (item.visual.title or "").strip():
            producer = root.find(f"producer[@id='{entry.get('producer')}']")
            if producer is None:
                raise RenderError("the Kdenlive writer left out a card's producer")
            _kdenlive_title(producer, item.visual.title or "", project,
                            span.crossfade + span.frames)
    _kdenlive_mixes(tractor, playlists, story, entries, project.fps)
    for item, entry in zip(story.items, entries, strict=True):
        if isinstance(item.visual, Video):
            _kdenlive_whole_clip(root, entry)
    ElementTree.indent(root, space="\t")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode")


def teach_fcpx_writer(fps: Fraction) -> None:
    """Give the FCP X writer the project's frame duration before it writes.

    Its table holds eight rates keyed by number (``29.97`` for NTSC, which
    ``float(30000/1001)`` is not), and a rate it lacks made it write an empty
    ``frameDuration`` and then fail on reading that back. An added entry only says
    what the writer would have said had it known the rate.
    """
    # the module OpenTimelineIO loaded the writer from (its own copy, not the import's)
    writer = otio.adapters.from_name("fcpx_xml").module()
    writer.FRAMERATE_FRAMEDURATION.setdefault(float(fps), fcp_time(1 / fps))


def media_start(visual: Visual, fps: Fraction) -> int:
    """The frame of its media an item's clip starts from (a video's trim, else 0), before
    the crossfade into it."""
    return round(visual.clip.trim[0] * fps) if isinstance(visual, Video) else 0


def fcp_time(seconds: Fraction) -> str:
    """FCPXML's rational seconds (``3s``, ``76/25s``)."""
    if seconds.denominator == 1:
        return f"{seconds.numerator}s"
    return f"{seconds.numerator}/{seconds.denominator}s"


def _matched(story: Story, elements: list[Element], name: str
             ) -> Iterator[tuple[Item, SegmentSpan, Element]]:
    if len(elements) != len(story.items):
        raise RenderError(f"the {name} writer wrote {len(elements)} pictures for "
                          f"{len(story.items)} items")
    yield from zip(story.items, story.plan.spans, elements, strict=True)


def _rects(project: Project, segment: int, span: SegmentSpan) -> list[Rect]:
    """The still's place on every frame it shows, the crossfade into it included (its
    clip's media starts there)."""
    return still_rects(segment_motion(project, segment), span.crossfade + span.frames, 0,
                       project.width, project.height)


def _fcp_frame(root: Element, project: Project) -> None:
    """Give the sequence's format the project's frame: the writer names it by the first
    picture's own size (``FFVideoFormat300x300p25.0``) and gives no width or height."""
    sequence = root.find("./project/sequence")
    if sequence is None:
        raise RenderError("the FCPXML writer left out its sequence")
    form = root.find(f"./resources/format[@id='{sequence.get('format')}']")
    if form is None:
        raise RenderError("the FCPXML writer left out the sequence's format")
    form.attrib.pop("name", None)
    form.set("width", str(project.width))
    form.set("height", str(project.height))


def _fcp_motion(clip: Element, rects: list[Rect], project: Project) -> None:
    """Fill the frame as the render does (FCP fits by default), then move as it does:
    ``position`` is the picture's centre from the frame's, in hundredths of the frame's
    height with y up; ``scale`` is over the filled size."""
    width, height, fps = project.width, project.height, project.fps

    def position(rect: Rect) -> str:
        x, y, w, h = rect
        return (f"{_number((x + w / 2 - width / 2) * 100 / height)} "
                f"{_number(-(y + h / 2 - height / 2) * 100 / height)}")

    def scale(rect: Rect) -> str:
        return f"{_number(rect[2] / width)} {_number(rect[2] / width)}"

    keys = keyframe_frames(rects)
    at = sum(1 for child in clip if child.tag in _BEFORE_ADJUSTMENTS)
    clip.insert(at, Element("adjust-conform", type="fill"))
    transform = Element("adjust-transform", position=position(rects[0]),
                        scale=scale(rects[0]))
    for name, value in (("position", position), ("scale", scale)):
        animation = SubElement(SubElement(transform, "param", name=name),
                               "keyframeAnimation")
        for key in keys:
            SubElement(animation, "keyframe", time=fcp_time(key / fps),
                       value=value(rects[key]), interp="linear", curve="linear")
    clip.insert(at + 1, transform)


def _fcp_dissolve(span: SegmentSpan, effect: str, fps: Fraction) -> Element:
    """A Cross Dissolve over the ``crossfade`` frames before ``span``'s cut: the spine's
    clips keep their cuts, the incoming clip's media (from its ``start``) lies under it."""
    transition = Element("transition", name="Cross Dissolve",
                         offset=fcp_time(Fraction(span.visible_start) / fps),
                         duration=fcp_time(Fraction(span.crossfade) / fps))
    SubElement(transition, "filter-video", ref=effect, name="Cross Dissolve")
    return transition


def _fcp_lead(clip: Element, lead: int, fps: Fraction, resources: Element) -> None:
    """Start ``clip`` ``lead`` frames further into its media (the frames the dissolve into
    it shows), what is anchored to it kept in place and its media long enough."""
    shift = Fraction(lead) / fps
    start = round(_seconds(clip.get("start", "0s")) * fps) / fps + shift
    clip.set("start", fcp_time(start))
    for child in clip:
        if "lane" in child.attrib:
            child.set("offset", fcp_time(_seconds(child.attrib["offset"]) + shift))
    needed = start + _seconds(clip.attrib["duration"])
    video = clip.find("video")
    asset = None if video is None else resources.find(f"asset[@id='{video.get('ref')}']")
    for media in (video, asset):  # each says its duration from its own start
        if media is None:
            continue
        reach = needed - _seconds(media.get("start", "0s"))
        if _seconds(media.get("duration", "0s")) < reach:
            media.set("duration", fcp_time(reach))


def _fcp_chapter(matched: list[tuple[Item, SegmentSpan, Element]], chapter: Chapter,
                 fps: Fraction) -> None:
    """A chapter marker on the spine item shown at the chapter's first frame, placed in
    that item's own time (which starts at its ``start``)."""
    for _, span, element in matched:
        if span.first_frame <= chapter.start < span.end_frame:
            at = _seconds(element.get("start", "0s")) + Fraction(
                chapter.start - span.first_frame) / fps
            SubElement(element, "chapter-marker", start=fcp_time(at),
                       duration=fcp_time(1 / fps), value=chapter.title, posterOffset="0s")
            return
    raise RenderError(f"chapter {chapter.title!r} starts after the story's end")


def _fcp_title(gap: Element, title: str, effect: str, project: Project, item: Item) -> None:
    """Turn the writer's gap for a card into a Basic Title saying its title (what the gap
    holds, the narration under it, stays anchored to it)."""
    gap.tag = "title"
    gap.set("ref", effect)
    gap.set("name", title)
    _on_frame_start(gap, project.fps)
    style = f"ts{item.segment if item.segment is not None else 0}"
    options = project.settings.subtitles
    red, green, blue = ImageColor.getrgb(options.color)[:3]
    text = Element("text")
    SubElement(text, "text-style", ref=style).text = (
        title.upper() if options.uppercase else title)
    definition = Element("text-style-def", id=style)
    SubElement(definition, "text-style", font="Helvetica",
               fontSize=_number(TITLE_SIZE * min(project.width, project.height)),
               fontColor=f"{_number(red / 255)} {_number(green / 255)} "
                         f"{_number(blue / 255)} 1",
               bold="1", alignment="center")
    gap.insert(0, text)
    gap.insert(1, definition)


def _on_frame_start(element: Element, fps: Fraction) -> None:
    """Move ``element``'s own start (the writer's ``3600s``, off the frame grid at 29.97
    fps) to the frame nearest it, and what is anchored to it along."""
    start = _seconds(element.get("start", "0s"))
    moved = round(start * fps) / fps
    if moved == start:
        return
    element.set("start", fcp_time(moved))
    for child in element:
        if "offset" in child.attrib:
            child.set("offset", fcp_time(_seconds(child.attrib["offset"]) - start + moved))


def _seconds(text: str) -> Fraction:
    return Fraction(text.removesuffix("s"))


def _add_effect(resources: Element, name: str, uid: str) -> str:
    taken = {element.get("id") for element in resources}
    number = len(taken) + 1
    while f"r{number}" in taken:
        number += 1
    SubElement(resources, "effect", id=f"r{number}", name=name, uid=uid)
    return f"r{number}"


def _picture_playlists(root: Element) -> tuple[Element, tuple[Element, Element]]:
    """The picture track's tractor and its two playlists (Kdenlive's sub-tracks)."""
    for tractor in root.iter("tractor"):
        name = tractor.find("property[@name='kdenlive:track_name']")
        tracks = tractor.findall("track")
        if name is None or name.text != "Picture" or len(tracks) != 2:
            continue
        found = [root.find(f"playlist[@id='{track.get('producer')}']") for track in tracks]
        if found[0] is not None and found[1] is not None:
            for track in tracks:  # the second sub-track shows pictures too
                track.set("hide", "audio")
            return tractor, (found[0], found[1])
    raise RenderError("the Kdenlive writer left out the picture track")


def _kdenlive_mixes(tractor: Element, playlists: tuple[Element, Element], story: Story,
                    entries: list[Element], fps: Fraction) -> None:
    """Crossfades as Kdenlive's same-track mixes: a clip a crossfade leads into starts
    that many frames before its cut, on the other sub-track than the clip before it, and a
    ``luma`` dissolve (MLT's, without a wipe) blends the two over those frames."""
    for entry in list(playlists[0]):
        if entry.tag in ("entry", "blank"):
            playlists[0].remove(entry)
    ends = [0, 0]
    side = 0
    for number, (item, span, entry) in enumerate(_matched(story, entries, "Kdenlive")):
        if span.crossfade:
            side = 1 - side
            mix = SubElement(tractor, "transition", {
                "id": f"mix{number}", "in": str(span.visible_start),
                "out": str(span.first_frame - 1)})
            for key, value in (("a_track", "0"), ("b_track", "1"), ("mlt_service", "luma"),
                               ("kdenlive_id", "luma"), ("kdenlive:mixcut", str(span.crossfade)),
                               ("reverse", str(1 - side))):  # reversed: fading in from b to a
                SubElement(mix, "property", name=key).text = value
        first = media_start(item.visual, fps)
        entry.attrib.update({"in": str(first),
                             "out": str(first + span.crossfade + span.frames - 1)})
        if span.visible_start > ends[side]:
            SubElement(playlists[side], "blank", length=str(span.visible_start - ends[side]))
        playlists[side].append(entry)
        ends[side] = span.end_frame


def _qtblend(rects: list[Rect], name: str) -> Element:
    """Kdenlive's Transform effect (MLT's ``qtblend``) placing the image on each frame:
    ``rect`` keyframes by frame of the clip, the image fitted into them unstretched."""
    keys = keyframe_frames(rects)
    frames = ";".join(f"{key}=" + " ".join(_number(v) for v in rects[key]) + " 1"
                      for key in keys)
    motion = Element("filter", {"id": name, "in": "0", "out": str(len(rects) - 1)})
    for key, value in (("mlt_service", "qtblend"), ("kdenlive_id", "qtblend"),
                       ("rect", frames), ("rotation", "0"), ("compositing", "0"),
                       ("distort", "0"), ("rotate_center", "1")):
        SubElement(motion, "property", name=key).text = value
    return motion


def _kdenlive_title(producer: Element, title: str, project: Project, frames: int) -> None:
    """Make the writer's colour clip for a card a Kdenlive title: the card's colour with its
    title centred on it, in the render's caption colour and outline (editable in Kdenlive's
    title editor)."""
    width, height = project.width, project.height
    options = project.settings.subtitles
    size = round(TITLE_SIZE * min(width, height))
    lines = (title.upper() if options.uppercase else title).strip().splitlines()
    box = (width * 0.9, size * 1.4 * len(lines))
    document = Element("kdenlivetitle", {
        "duration": str(frames), "LC_NUMERIC": "C", "width": str(width),
        "height": str(height), "out": str(frames - 1)})
    item = SubElement(document, "item", {"type": "QGraphicsTextItem", "z-index": "0"})
    SubElement(SubElement(item, "position", x=_number((width - box[0]) / 2),
                          y=_number((height - box[1]) / 2)),
               "transform").text = "1,0,0,0,1,0,0,0,1"
    SubElement(item, "content", {
        "font": "DejaVu Sans", "font-pixel-size": str(size), "font-italic": "0",
        "font-underline": "0", "font-color": _mlt_colour(options.color),
        "font-outline": _number(options.outline * size),
        "font-outline-color": _mlt_colour(options.outline_color),
        "alignment": "4",  # centred (Qt::AlignHCenter)
        "box-width": _number(box[0]), "box-height": _number(box[1]),
        "line-spacing": "0"}).text = "\n".join(lines)
    for name in ("startviewport", "endviewport"):
        SubElement(document, name, rect=f"0,0,{width},{height}")
    SubElement(document, "background", color=_mlt_colour(project.settings.background))
    for unused in producer.findall("property[@name='resource']"):
        producer.remove(unused)
    for name, value in (("mlt_service", "kdenlivetitle"), ("kdenlive:clip_type", "2"),
                        ("xmldata", ElementTree.tostring(document, encoding="unicode"))):
        found = producer.find(f"property[@name='{name}']")
        if found is None:
            found = SubElement(producer, "property", name=name)
        found.text = value


def _kdenlive_whole_clip(root: Element, entry: Element) -> None:
    """Make a video clip's producer start at the file's first frame, where the entry's
    ``in`` counts from: the writer starts it at the trim and gives it the trimmed length,
    which made melt play it that far off and hold its last frame early."""
    end = int(entry.attrib["out"]) + 1
    name = entry.attrib["producer"]
    for found in (root.find(f"producer[@id='{name}']"),
                  root.find(f"playlist[@id='main_bin']/entry[@producer='{name}']")):
        if found is None:
            raise RenderError("the Kdenlive writer left out a clip's producer")
        length = found.find("property[@name='length']")
        if length is not None:
            end = max(end, int(length.text or 0))
            length.text = str(end)
        found.attrib.update({"in": "0", "out": str(end - 1)})


def _mlt_colour(colour: str) -> str:
    red, green, blue = ImageColor.getrgb(colour)[:3]
    return f"{red},{green},{blue},255"


def _kdenlive_frame(root: Element, project: Project, frames: int) -> None:
    profile = root.find("profile")
    black = root.find("producer[@id='black_track']")
    if profile is None or black is None:
        raise RenderError("the Kdenlive writer left out its profile or background track")
    ratio = Fraction(project.width, project.height)
    profile.attrib.update(width=str(project.width), height=str(project.height),
                          display_aspect_num=str(ratio.numerator),
                          display_aspect_den=str(ratio.denominator),
                          description=f"{project.width}x{project.height} {project.fps} fps")
    black.attrib.update({"in": "0", "out": str(frames - 1)})
    SubElement(black, "property", name="length").text = str(frames)


def _number(value: float) -> str:
    """A coordinate to a ten-thousandth of its unit, without trailing zeros."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
