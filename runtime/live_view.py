"""``-o http://[HOST]:PORT``: a live view in the browser, served while the run lasts.

``/`` is a small page showing the input and the deblurred frames side by side; ``/input.mjpg`` and
``/deblurred.mjpg`` are MJPEG streams (``multipart/x-mixed-replace``, what browsers, VLC and ffplay show
live); ``/input.jpg`` and ``/deblurred.jpg`` the latest frame as one JPEG. The standard library's
``ThreadingHTTPServer`` runs in a background thread, one thread per client. Latest-frame semantics: ``write``
only swaps in the newest pair of frames, so the pipeline never waits for a client; each client is sent the
newest frame whenever it is ready for one (a slow client gets fewer frames), and each frame is JPEG-encoded
once, by the first client that asks for it. ``close`` ends every stream and shuts the server down.
"""

import logging
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import cv2
import numpy as np

from .errors import SinkError
from .live import as_bgr8
from .sinks import Sink
from .sources import Frame

log = logging.getLogger(__name__)

STREAMS = ("input", "deblurred")
JPEG_QUALITY = 85
BOUNDARY = "deblurframe"
WAIT_SECONDS = 0.25  # how often a waiting client looks whether the view closed
CLIENT_TIMEOUT_S = 10.0  # a client that takes no data for this long is dropped
SERVE_POLL_SECONDS = 0.1

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deblur-run live view</title>
<style>
body {{ margin: 0; padding: 1em; background: #111; color: #ddd; font: 15px system-ui, sans-serif; }}
main {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1em; }}
@media (max-width: 40em) {{ main {{ grid-template-columns: 1fr; }} }}
figure {{ margin: 0; min-width: 0; }}
img {{ display: block; width: 100%; max-height: 85vh; object-fit: contain; background: #222; }}
figcaption {{ padding: 0.3em 0; }}
</style>
</head>
<body>
<main>
<figure><img id="input" src="/input.mjpg" alt="input frames"><figcaption>input <span id="input-size"></span></figcaption></figure>
<figure><img id="deblurred" src="/deblurred.mjpg" alt="deblurred frames"><figcaption>deblurred{compare} <span id="deblurred-size"></span></figcaption></figure>
</main>
<script>
for (const name of ["input", "deblurred"]) {{
  const img = document.getElementById(name), size = document.getElementById(name + "-size");
  const show = () => {{ if (img.naturalWidth) size.textContent = img.naturalWidth + "x" + img.naturalHeight; }};
  img.addEventListener("load", show);
  img.addEventListener("error", () => setTimeout(() => {{ img.src = "/" + name + ".mjpg?" + Date.now(); }}, 1000));
  setInterval(show, 500);
}}
</script>
</body>
</html>
"""


def jpeg(image: np.ndarray) -> bytes:
    """A frame (gray, BGR or BGRA; 8 or 16 bit) as JPEG bytes."""
    ok, data = cv2.imencode(".jpg", as_bgr8(image), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise SinkError("OpenCV could not encode a live-view frame as JPEG")
    return data.tobytes()


class LatestFrames:
    """The newest input and deblurred frame, numbered; JPEGs made on demand, once per frame."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._encoding = {name: threading.Lock() for name in STREAMS}
        self.number = 0  # frames published so far
        self.closed = False
        self._images: dict[str, np.ndarray] = {}
        self._jpegs: dict[str, bytes] = {}

    def publish(self, images: dict[str, np.ndarray]) -> None:
        with self._changed:
            self.number += 1
            self._images, self._jpegs = images, {}
            self._changed.notify_all()

    def close(self) -> None:
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def wait(self, name: str, after: int, timeout: float) -> tuple[int, bytes | None]:
        """(number, JPEG) of a frame newer than ``after``; (after, None) when none came within ``timeout``.
        Raises EOFError once closed."""
        with self._changed:
            self._changed.wait_for(lambda: self.closed or self.number > after, timeout)
            if self.closed:
                raise EOFError
            if self.number <= after:
                return after, None
        return self.current(name)

    def current(self, name: str) -> tuple[int, bytes | None]:
        """(number, JPEG) of the newest frame; (0, None) before the first."""
        with self._encoding[name]:
            with self._changed:
                number, image, cached = self.number, self._images.get(name), self._jpegs.get(name)
            if cached is None and image is not None:
                cached = jpeg(image)  # outside the condition's lock: publish never waits for an encoder
                with self._changed:
                    if self.number == number:
                        self._jpegs[name] = cached
            return number, cached


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, frames: LatestFrames, compare: bool):
        self.frames, self.compare = frames, compare
        self.clients: set[socket.socket] = set()
        self.clients_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        with self.clients_lock:
            self.clients.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self.clients_lock:
            self.clients.discard(request)
        super().shutdown_request(request)

    def drop_clients(self) -> None:
        """End every open connection, so that no handler thread stays blocked on a slow client."""
        with self.clients_lock:
            clients = list(self.clients)
        for client in clients:
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _IPv6Server(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "deblur-run"
    timeout = CLIENT_TIMEOUT_S

    def log_message(self, format, *args) -> None:  # noqa: A002 (the base class's name)
        log.debug("live view: %s " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        path = urlsplit(self.path).path
        name = path.lstrip("/").rsplit(".", 1)[0]
        if path in ("/", "/index.html"):
            compare = " (left: input, right: deblurred)" if self.server.compare else ""
            self._send(PAGE.format(compare=compare).encode(), "text/html; charset=utf-8")
        elif name in STREAMS and path.endswith(".mjpg"):
            self._stream(name)
        elif name in STREAMS and path.endswith(".jpg"):
            _, data = self.server.frames.current(name)
            if data is None:
                self.send_error(HTTPStatus.SERVICE_UNAVAILABLE, "no frame yet")
            else:
                self._send(data, "image/jpeg")
        else:
            self.send_error(HTTPStatus.NOT_FOUND)

    def _send(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _stream(self, name: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY}")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        frames, seen = self.server.frames, 0
        try:
            while True:
                number, data = frames.wait(name, seen, WAIT_SECONDS)
                if data is None:
                    continue
                seen = number
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                                 .encode() + data + b"\r\n")
                self.wfile.flush()
        except EOFError:  # the run ended: close the multipart body
            try:
                self.wfile.write(f"--{BOUNDARY}--\r\n".encode())
            except OSError:
                pass
        except OSError:  # the client went away, or was too slow
            pass


class LiveView(Sink):
    """Serves the live view on ``host:port`` (empty host: all interfaces) from construction until ``close``."""

    def __init__(self, host: str, port: int, compare: bool = False):
        self.frames = LatestFrames()
        server_class = _IPv6Server if ":" in host else _Server
        try:
            self.server = server_class((host, port), self.frames, compare)
        except OSError as exc:
            where = f"{host or 'all interfaces'} port {port}"
            raise SinkError(f"http://{host}:{port}: cannot serve the live view on {where} ({exc.strerror or exc})") from exc
        self.port = self.server.server_address[1]  # the one given, or the free one picked for port 0
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": SERVE_POLL_SECONDS},
                                       daemon=True, name="deblur-live-view")
        self.thread.start()

    def write(self, frame: Frame, image: np.ndarray) -> None:
        self.frames.publish({"input": frame.image, "deblurred": image})

    def close(self, interrupted: bool = False) -> None:
        """End the streams, stop serving and free the port (returns within about a second)."""
        self.frames.close()
        self.server.shutdown()
        self.server.drop_clients()
        self.server.server_close()
        self.thread.join(timeout=1.0)
