#!/usr/bin/env python3
"""A stand-in IP camera for tests and benchmarks: an RTSP server (GStreamer's gst-rtsp-server).

One source pipeline makes an H.264 or H.265 elementary stream, either encoded live from a test
pattern, read from a file in real time (looped), or read from stdin as another program writes it,
and fans it out to every mount. Each mount is a shared RTSP media, so any number of clients and
mounts cost one encoder (or one file reader). With --per-client each client gets a media of its
own, fed by the same source, as a camera serves each client its own stream: a client that reads
slowly over TCP then backs up its own stream only, where it holds a shared media back for all.

    python3 test/support/rtsp-server.py --port 8554 [--mount /cam1 --mount /cam2]
        [--codec h264|h265] [--source live|file|stdin] [--file clip.mp4]
        [--width 320 --height 180 --fps 10 --gop 20 --bitrate 500] [--protocols tcp,udp]
        [--user USER --password PASS [--auth basic|digest]] [--per-client]
    ffmpeg -re -f lavfi -i testsrc2 -c:v libx264 -tune zerolatency -bsf:v h264_metadata=aud=insert \
        -flush_packets 1 -f h264 pipe:1 | python3 test/support/rtsp-server.py --port 8554 --source stdin
    python3 test/support/rtsp-server.py --check    # exits 0 when every element is installed

Sources: `live` encodes a moving test pattern (--width, --height, --fps, --gop, --bitrate,
--pattern); `file` serves an MP4 or MKV already encoded in --codec, paced at its own frame rate;
`stdin` serves the Annex-B elementary stream in --codec that arrives on stdin, each frame handed
on as soon as it is parsed. The writer paces it and makes the keyframes (a new viewer waits for
the next one), without B-frames (the stream has no timestamps); the end of stdin stops the server
with an error. Parsing holds each frame until the next one starts: one frame interval when every
frame begins with an access unit delimiter (`-bsf:v h264_metadata=aud=insert`, or
`hevc_metadata=aud=insert`), two without.

With --user and --password every mount asks for that user name and password (HTTP Basic, or
Digest with --auth digest); a client without them, or with others, gets 401 Unauthorized.

Prints `READY rtsp://host:port/mount [more urls]` once listening; stops on SIGTERM or SIGINT.
Needs Debian's python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-base, -good, -bad,
-ugly and gstreamer1.0-x.
"""

import argparse
import os
import signal
import sys
import threading

SYSTEM_PYTHON = "/usr/bin/python3"
DEBIAN_PACKAGES = (
    "python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good "
    "gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-x"
)
# Where each element comes from, to name the package when one is missing.
ELEMENT_PACKAGES = {
    "fdsrc": "libgstreamer1.0-0",
    "videotestsrc": "gstreamer1.0-plugins-base",
    "videoconvert": "gstreamer1.0-plugins-base",
    "appsrc": "gstreamer1.0-plugins-base",
    "appsink": "gstreamer1.0-plugins-base",
    "timeoverlay": "gstreamer1.0-x",
    "x264enc": "gstreamer1.0-plugins-ugly",
    "x265enc": "gstreamer1.0-plugins-bad",
    "h264parse": "gstreamer1.0-plugins-bad",
    "h265parse": "gstreamer1.0-plugins-bad",
    "rtph264pay": "gstreamer1.0-plugins-good",
    "rtph265pay": "gstreamer1.0-plugins-good",
    "qtdemux": "gstreamer1.0-plugins-good",
    "matroskademux": "gstreamer1.0-plugins-good",
    "tsdemux": "gstreamer1.0-plugins-bad",
    "capssetter": "gstreamer1.0-plugins-good",
    "rtpbin": "gstreamer1.0-plugins-good",
    "udpsrc": "gstreamer1.0-plugins-good",
    "udpsink": "gstreamer1.0-plugins-good",
}


def fail(message, code=2):
    print(f"rtsp-server: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


def import_gstreamer():
    try:
        import gi

        gi.require_version("Gst", "1.0")
        gi.require_version("GstRtsp", "1.0")
        gi.require_version("GstRtspServer", "1.0")
        gi.require_version("GstVideo", "1.0")
        from gi.repository import GLib, Gst, GstRtsp, GstRtspServer, GstVideo
    except (ImportError, ValueError) as err:
        # Debian's python3-gi is installed for Debian's Python only; another python3 first on
        # PATH (pyenv, a venv) cannot see it, so hand over to Debian's.
        here = os.path.realpath(sys.executable)
        if os.path.exists(SYSTEM_PYTHON) and here != os.path.realpath(SYSTEM_PYTHON):
            os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON, *sys.argv])
        fail(f"GStreamer's Python bindings are missing ({err}); install: apt-get install {DEBIAN_PACKAGES}")
    Gst.init(None)
    return GLib, Gst, GstRtsp, GstRtspServer, GstVideo


def parse_args():
    p = argparse.ArgumentParser(description="RTSP test camera")
    p.add_argument("--port", type=int)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--mount", action="append", help="mount path, repeatable (default /stream)")
    p.add_argument("--codec", choices=["h264", "h265"], default="h264")
    p.add_argument("--source", choices=["live", "file", "stdin"], default="live")
    p.add_argument(
        "--stdin-format",
        choices=["annexb", "mpegts"],
        default="annexb",
        help="for --source stdin: an Annex-B elementary stream, or MPEG-TS with video PES lengths",
    )
    p.add_argument("--file", help="MP4 or MKV already encoded in --codec (for --source file)")
    p.add_argument("--width", type=int, default=320)
    p.add_argument("--height", type=int, default=180)
    p.add_argument("--fps", type=int, default=10)
    p.add_argument("--gop", type=int, help="keyframe interval in frames (default 2 s worth)")
    p.add_argument("--bitrate", type=int, default=500, help="kbit/s")
    p.add_argument("--pattern", choices=["ball", "smpte"], default="ball")
    p.add_argument("--protocols", default="tcp,udp", help="allowed RTSP lower transports")
    p.add_argument(
        "--per-client",
        action="store_true",
        help="a media per client: a slow client backs up only its own stream (default: shared)",
    )
    p.add_argument("--user", help="user name a client must give (with --password)")
    p.add_argument("--password", help="password a client must give (with --user)")
    p.add_argument("--auth", choices=["basic", "digest"], default="basic", help="with --user and --password")
    p.add_argument("--exit-with-parent", action="store_true", help="stop when the parent process dies")
    p.add_argument("--check", action="store_true", help="only check that every element is installed")
    args = p.parse_args()
    if args.port is None and not args.check:
        p.error("--port is required")
    args.mount = args.mount or ["/stream"]
    if (args.user is None) != (args.password is None):
        p.error("--user and --password go together")
    for m in args.mount:
        if not m.startswith("/"):
            p.error(f"--mount {m}: must start with /")
    args.protocols = {x.strip() for x in args.protocols.split(",") if x.strip()}
    if not args.protocols or not args.protocols <= {"tcp", "udp"}:
        p.error("--protocols: a comma-separated subset of tcp,udp")
    if args.source == "file":
        if not args.file:
            p.error("--source file needs --file")
        if not os.path.isfile(args.file):
            p.error(f"--file {args.file}: no such file")
    args.gop = args.gop or 2 * args.fps
    return args


def source_description(args):
    """The source pipeline: an elementary stream, keyframes carrying SPS/PPS, into appsink `out`."""
    parse = f"{args.codec}parse config-interval=-1"
    caps = f"video/x-{args.codec},stream-format=byte-stream,alignment=au"
    if args.source == "file":
        demux = "matroskademux" if args.file.lower().endswith((".mkv", ".webm")) else "qtdemux"
        location = args.file.replace("\\", "\\\\").replace('"', '\\"')
        # sync=true paces the file at its own frame rate, like a camera.
        return (
            [demux, f"{args.codec}parse"],
            f'filesrc location="{location}" ! {demux} name=demux demux.video_0 ! queue ! {parse} '
            f"! {caps} ! appsink name=out sync=true emit-signals=true max-buffers=30",
        )
    if args.source == "stdin" and args.stdin_format == "mpegts":
        # MPEG-TS whose video PES packets carry their length (ffmpeg -omit_video_pes_length 0):
        # the demuxer hands on each frame as soon as its last byte is in, framed, so the parser
        # holds nothing (alignment=au), as a camera's own encoder would.
        return (
            ["fdsrc", "tsdemux", "capssetter", f"{args.codec}parse"],
            f"fdsrc fd=0 ! tsdemux ! capssetter join=false "
            f'caps="video/x-{args.codec},stream-format=byte-stream,alignment=au" ! {parse} ! {caps} '
            f"! appsink name=out sync=false emit-signals=true max-buffers=30",
        )
    if args.source == "stdin":
        # An Annex-B stream has no framing, so the parser closes a frame only once it has read
        # what starts the next one: its access unit delimiter if it has one (one frame interval
        # later), else its whole first slice (two intervals later).
        return (
            ["fdsrc", f"{args.codec}parse"],
            f"fdsrc fd=0 ! video/x-{args.codec},stream-format=byte-stream ! {parse} ! {caps} "
            f"! appsink name=out sync=false emit-signals=true max-buffers=30",
        )
    # One encoder thread, so the server cannot take every core from the code under test.
    if args.codec == "h264":
        encoder = "x264enc"
        encode = (
            f"x264enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop} "
            f"bitrate={args.bitrate} threads=1"
        )
    else:
        encoder = "x265enc"
        encode = (
            f"x265enc tune=zerolatency speed-preset=ultrafast key-int-max={args.gop} "
            f"bitrate={args.bitrate} option-string=pools=1:frame-threads=1"
        )
    raw = f"video/x-raw,format=I420,width={args.width},height={args.height},framerate={args.fps}/1"
    # The live source already paces frames: sync=false hands each one over as soon as it is encoded.
    return (
        ["videotestsrc", "timeoverlay", encoder, f"{args.codec}parse"],
        f"videotestsrc is-live=true pattern={args.pattern} ! {raw} "
        f"! timeoverlay halignment=left valignment=top ! {encode} ! {parse} ! {caps} "
        f"! appsink name=out sync=false emit-signals=true max-buffers=30",
    )


class FanOut:
    """Hands every encoded frame of the source to the appsrc of each prepared mount media."""

    def __init__(self, Gst, GstVideo, appsink, live):
        self.Gst, self.GstVideo, self.live = Gst, GstVideo, live
        self.lock = threading.Lock()
        self.outputs = []  # [appsrc, waiting for a keyframe, keyframe asked for]
        appsink.connect("new-sample", self.on_sample)

    def add(self, appsrc):
        with self.lock:
            self.outputs.append([appsrc, True, False])

    def remove(self, appsrc):
        with self.lock:
            self.outputs = [o for o in self.outputs if o[0] is not appsrc]

    def on_sample(self, sink):
        Gst = self.Gst
        sample = sink.emit("pull-sample")
        buf, caps = sample.get_buffer(), sample.get_caps()
        keyframe = not buf.has_flags(Gst.BufferFlags.DELTA_UNIT)
        with self.lock:
            outputs = list(self.outputs)
        for out in outputs:
            appsrc = out[0]
            clock = appsrc.get_clock()
            if clock is None:  # its pipeline is not playing yet
                continue
            if out[1]:
                if not keyframe:
                    if self.live and not out[2]:
                        # A new viewer should not wait a whole GOP for its first picture.
                        out[2] = True
                        sink.send_event(
                            self.GstVideo.video_event_new_upstream_force_key_unit(Gst.CLOCK_TIME_NONE, True, 0)
                        )
                    continue
                out[1] = False
            if appsrc.get_property("caps") != caps:
                appsrc.set_property("caps", caps)
            # Stamped with the media's own running time at arrival, since every media pipeline
            # has its own base time; the PTS-DTS gap (B-frames) of the source is kept. A stream from
            # stdin has no timestamps: the parser counts DTS alone, and the gap is taken as none.
            now = clock.get_time() - appsrc.get_base_time()
            copy = buf.copy()
            timed = buf.pts != Gst.CLOCK_TIME_NONE and buf.dts != Gst.CLOCK_TIME_NONE
            reorder = buf.pts - buf.dts if timed and buf.pts >= buf.dts else 0
            copy.dts = now
            copy.pts = now + reorder
            appsrc.emit("push-buffer", copy)
        return Gst.FlowReturn.OK


def require_elements(Gst, elements):
    missing = [e for e in elements if Gst.ElementFactory.find(e) is None]
    if missing:
        names = ", ".join(f"{e} (Debian package {ELEMENT_PACKAGES.get(e, '?')})" for e in missing)
        fail(f"missing GStreamer elements: {names}")


def require_password(GstRtsp, GstRtspServer, server, args):
    """Makes the server ask for --user/--password; returns the permissions each mount needs."""
    role = "camera-user"
    token = GstRtspServer.RTSPToken()
    token.set_string("media.factory.role", role)
    auth = GstRtspServer.RTSPAuth()
    if args.auth == "digest":
        auth.add_digest(args.user, args.password, token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.DIGEST)
    else:
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password), token)
        auth.set_supported_methods(GstRtsp.RTSPAuthMethod.BASIC)
    server.set_auth(auth)
    permissions = GstRtspServer.RTSPPermissions()
    permissions.add_permission_for_role(role, "media.factory.access", True)
    permissions.add_permission_for_role(role, "media.factory.construct", True)
    return permissions


def main():
    args = parse_args()
    GLib, Gst, GstRtsp, GstRtspServer, GstVideo = import_gstreamer()
    if args.check:
        require_elements(Gst, ELEMENT_PACKAGES)
        print("OK", flush=True)
        return

    pay = "rtph264pay" if args.codec == "h264" else "rtph265pay"
    needed, description = source_description(args)
    require_elements(Gst, needed + ["appsrc", "appsink", pay, "rtpbin", "udpsrc", "udpsink"])

    loop = GLib.MainLoop()
    status = {"code": 0}

    def stop(code=0):
        status["code"] = code
        loop.quit()
        return GLib.SOURCE_REMOVE

    source = Gst.parse_launch(description)
    fanout = FanOut(Gst, GstVideo, source.get_by_name("out"), live=args.source == "live")

    def on_source_message(_bus, msg):
        if msg.type == Gst.MessageType.EOS and args.source == "stdin":
            print("rtsp-server: the stream on stdin ended", file=sys.stderr, flush=True)
            stop(1)
        elif msg.type == Gst.MessageType.EOS:
            # Loop the file: back to its start; frames keep their arrival times, so viewers see
            # one endless stream.
            source.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)
        elif msg.type == Gst.MessageType.ERROR:
            err, debug = msg.parse_error()
            print(f"rtsp-server: source failed: {err.message} ({debug})", file=sys.stderr, flush=True)
            stop(1)
        return True

    bus = source.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_source_message)
    source.set_state(Gst.State.PLAYING)
    result, _, _ = source.get_state(10 * Gst.SECOND)
    if result == Gst.StateChangeReturn.FAILURE:
        msg = bus.pop_filtered(Gst.MessageType.ERROR)
        reason = msg.parse_error()[0].message if msg else "unknown error"
        if args.source == "file":
            reason += f" (is {args.file} an MP4 or MKV of {args.codec} video?)"
        if args.source == "stdin":
            reason += f" (is stdin an Annex-B {args.codec} elementary stream?)"
        fail(f"source did not start: {reason}", 1)
    if args.source == "stdin" and bus.pop_filtered(Gst.MessageType.EOS):
        fail("the stream on stdin ended before its first frame", 1)

    protocols = GstRtsp.RTSPLowerTrans(0)
    if "tcp" in args.protocols:
        protocols |= GstRtsp.RTSPLowerTrans.TCP
    if "udp" in args.protocols:
        protocols |= GstRtsp.RTSPLowerTrans.UDP

    def on_media_configure(_factory, media):
        appsrc = media.get_element().get_by_name("src")
        fanout.add(appsrc)
        media.connect("unprepared", lambda _m: fanout.remove(appsrc))

    server = GstRtspServer.RTSPServer()
    server.set_address(args.host)
    server.set_service(str(args.port))
    permissions = require_password(GstRtsp, GstRtspServer, server, args) if args.user is not None else None
    mounts = server.get_mount_points()
    for path in args.mount:
        factory = GstRtspServer.RTSPMediaFactory()
        factory.set_launch(
            "( appsrc name=src is-live=true format=time do-timestamp=false max-time=2000000000 "
            f"! {pay} name=pay0 pt=96 config-interval=-1 )"
        )
        factory.set_shared(not args.per_client)
        factory.set_protocols(protocols)
        factory.connect("media-configure", on_media_configure)
        if permissions is not None:
            factory.set_permissions(permissions)
        mounts.add_factory(path, factory)
    if server.attach(None) == 0:
        fail(f"cannot listen on {args.host}:{args.port}", 1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_HIGH, sig, stop)
    if args.exit_with_parent:
        parent = os.getppid()
        GLib.timeout_add(500, lambda: stop() if os.getppid() != parent else GLib.SOURCE_CONTINUE)

    urls = " ".join(f"rtsp://{args.host}:{args.port}{m}" for m in args.mount)
    print(f"READY {urls}", flush=True)
    loop.run()
    source.set_state(Gst.State.NULL)
    sys.exit(status["code"])


if __name__ == "__main__":
    main()
