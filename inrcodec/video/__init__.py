"""Video: a clip is cut into groups of frames; each group is coded like an image whose ARM also
sees the previous frame (layout.py), with one upsampling + synthesis shared by its frames.

    from inrcodec.video import encode_video, decode_video
    data = encode_video(frames_uint8_nhwc, fps=25, group=8)   # -> bytes
    frames = decode_video(data)                               # -> uint8 [N, H, W, C]

The encoder (and the training code) is imported on first use only, so decoding never loads it.
"""
from .decode import decode as decode_video

__all__ = ["encode_video", "encode_video_with_report", "decode_video"]


def encode_video(frames, fps=25, **kwargs) -> bytes:
    from .encoder import encode_video as _encode
    return _encode(frames, fps, **kwargs)


def encode_video_with_report(frames, fps=25, **kwargs):
    from .encoder import encode_video_with_report as _encode
    return _encode(frames, fps, **kwargs)
