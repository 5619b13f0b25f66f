"""Pillow opens .inr pictures after one import, as pillow-heif and pillow-jxl-plugin do:

    import inrcodec.pillow_plugin
    from PIL import Image
    Image.open("photo.inr").save("photo.png")

Picture modes only (image, rec); a video file is refused with the call to use. The decoder is
inrcodec's own (fixed point, no torch for the image mode); its size and memory checks apply, and
Pillow's decompression-bomb check sees the size from the header before anything is decoded.
"""
from __future__ import annotations

from PIL import Image, ImageFile

from . import modes
from .bitstream import MAGIC, MAX_FILE_BYTES, container_length
from .errors import InrcodecError
from .limits import DEFAULT_MAX_PIXELS


def _accept(prefix: bytes) -> bool:
    return prefix[:len(MAGIC)] == MAGIC


def _read_file(fp) -> bytes:
    """The file's bytes, no further than its container says it runs."""
    data, total = b"", None
    while total is None:
        chunk = fp.read(4096)
        if not chunk:
            return data
        data += chunk
        total = container_length(data)
    if total > MAX_FILE_BYTES:
        raise SyntaxError(f"corrupt inrcodec file (its container claims {total} bytes)")
    return data + fp.read(max(total - len(data), 0))


class InrImageFile(ImageFile.ImageFile):
    format = "INR"
    format_description = "inrcodec (overfitted neural network) picture"

    def _open(self) -> None:
        try:
            mode, parsed = modes.parse(_read_file(self.fp))
        except InrcodecError as exc:
            raise SyntaxError(str(exc)) from None
        if mode.kind != "image":
            raise SyntaxError(f"a {mode.name} .inr file is not one picture: decode it with "
                              "`inrcodec decode` (Python: inrcodec.decode)")
        g = mode.geometry(parsed)
        self._mode = "RGB" if g.channels == 3 else "L"
        self._size = (g.width, g.height)
        self._pending = (mode, parsed)
        self.tile = []

    def load(self):
        if getattr(self, "_pending", None) is not None:
            mode, parsed = self._pending
            self._pending = None
            try:
                pixels = mode.decode(parsed, DEFAULT_MAX_PIXELS)
            except InrcodecError as exc:
                raise OSError(str(exc)) from None
            picture = Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels)
            self.im = picture.im
            self.readonly = 0
        return Image.Image.load(self)


Image.register_open(InrImageFile.format, InrImageFile, _accept)
Image.register_extension(InrImageFile.format, ".inr")
Image.register_mime(InrImageFile.format, "image/x-inrcodec")
