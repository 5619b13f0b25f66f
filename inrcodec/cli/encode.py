"""`inrcodec encode`: an image (grid or rec mode) or a clip in, an .inr file out."""
from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from ..errors import InrcodecError
from .arguments import VIDEO_ONLY_FLAGS


def _options(args):
    """The EncodeOptions the flags give (the mode's own flags are checked by cmd_encode)."""
    from ..options import EncodeOptions
    return EncodeOptions.build(lmbda=args.lmbda, iterations=args.iterations,
                               time_budget=args.time_budget, seed=args.seed, device=args.device,
                               preset=args.preset)


def _video_flag_given(args) -> str | None:
    """The first video-only flag given for an image input, if any."""
    for name in VIDEO_ONLY_FLAGS:
        if getattr(args, name, None) is not None:
            return "--" + name
    return None


def _check_mode_flags(args) -> None:
    """Flags that do not fit the chosen mode: one clean error before any work."""
    rec = args.mode == "rec"
    if args.bpp is not None and not rec:
        raise InrcodecError("--bpp applies to --mode rec only (the grid mode takes --lmbda)")
    if not rec:
        return
    if args.bpp is not None and args.lmbda is not None:
        raise InrcodecError("give either --bpp or --lmbda, not both")
    if args.time_budget is not None:
        raise InrcodecError("--time-budget is not supported with --mode rec (use --iterations)")
    if args.device == "cuda":
        raise InrcodecError("--mode rec fits on the CPU only (--device cpu or auto)")
    if args.preset is not None:
        raise InrcodecError("--preset applies to the grid codec; --mode rec has one architecture")
    if args.latent_coding is not None:
        raise InrcodecError("--latent-coding applies to the grid codec's latents, not --mode rec")


# Names that say "picture" or "video": an .inr file under one of them would be a trap.
_MEDIA_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".avif", ".heic", ".jxl", ".gif", ".bmp",
                   ".tif", ".tiff", ".ppm", ".pgm", ".pnm", ".ico", ".mp4", ".mkv", ".mov",
                   ".avi", ".webm", ".y4m"}


def _output(args, default: Path) -> str:
    """The output path, checked before any work: never the input, writable, not in the way;
    stdout (-) when asked for, or by default when the input is a pipe (it has no name)."""
    from ..files import STDIO, check_stdout, check_writable, is_pipe_input, same_file
    output = args.output or (STDIO if is_pipe_input(args.input) else str(default))
    check_stdout(output)
    if same_file(args.input, output):
        raise InrcodecError("output would overwrite the input")
    check_writable(output, args.force)
    if Path(output).suffix.lower() in _MEDIA_SUFFIXES:
        raise InrcodecError(f"{output}: an .inr file under a {Path(output).suffix} name would "
                            "not open as one; name it .inr")
    return output


def _finish(args, output: str, data: bytes, report: dict, line: str) -> int:
    """Write the file; the report goes to stdout, or to stderr when stdout carries the file."""
    from ..files import STDIO, write_atomic
    write_atomic(output, data, args.force)
    report["output"] = output
    say = sys.stderr if output == STDIO else sys.stdout
    if args.json:
        print(json.dumps(report), file=say)
    elif not args.quiet:
        print(line.format(**report), file=say)
    return 0


def _require_torch() -> None:
    """Encoding fits a network with PyTorch; a decode-only install has none. (An image fit's SOAP
    needs pytorch-optimizer too: fit.train._optimizer says so where it is used, since video and
    rec fits do without it.)"""
    import importlib.util
    if importlib.util.find_spec("torch") is None:
        raise InrcodecError("encoding needs PyTorch, which this install lacks (decoding does not): "
                            "pip install torch, or pip install 'inrcodec[encode]'")


def cmd_encode(args) -> int:
    from ..video.clip_reader import is_video_input
    _check_mode_flags(args)
    _require_torch()
    if is_video_input(args.input):
        if args.mode == "rec":
            raise InrcodecError("--mode rec codes still images only")
        if args.latent_coding not in (None, "round"):
            raise InrcodecError("--latent-coding uq is for still images; video latents are rounded")
        return _encode_video(args)
    if _video_flag_given(args):
        raise InrcodecError(f"{_video_flag_given(args)} applies to video input only "
                            "(a video file, .y4m, or a directory of frames)")
    if args.mode == "rec":
        return _encode_rec(args)
    return _encode_image(args)


def image_encode_check(preset: str, lmbda: float):
    """check_size for image_files.read_image: the grid codec's memory estimate for the preset
    `auto` resolves to at that size and lambda, run from the file's header before its pixels are
    decoded."""
    def check(height: int, width: int, channels: int) -> None:
        from ..arch import preset as get_preset, resolve_preset
        from ..limits import check_image_encode
        check_image_encode(get_preset(resolve_preset(preset, height * width, lmbda)), height,
                           width, channels)
    return check


def _encode_image(args) -> int:
    from ..image.encoder import encode_with_report
    from ..image_files import read_image
    options = _options(args)
    output = _output(args, Path(args.input).with_suffix(".inr"))
    image = read_image(args.input,
                       check_size=image_encode_check(options.preset, options.lmbda_or_default))
    data, report = encode_with_report(image, options, progress=not args.quiet,
                                      latent_coding=args.latent_coding or "round")
    return _finish(args, output, data, report,
                   "{output}: {bytes} bytes, {bpp:.4f} bpp, PSNR {psnr:.2f} dB, "
                   "{macs_per_pixel:.0f} MACs/pixel, {encode_seconds:.1f} s")


def _encode_rec(args) -> int:
    from ..image_files import read_image
    from ..variational.encoder import encode_with_report
    from ..variational.estimates import check_rec_encode
    options = _options(args)
    output = _output(args, Path(args.input).with_suffix(".inr"))
    image = read_image(args.input, check_size=lambda h, w, c: check_rec_encode(h, w, c))
    data, report = encode_with_report(image, options, bpp=args.bpp, progress=not args.quiet)
    return _finish(args, output, data, report,
                   "{output}: {bytes} bytes, {bpp:.4f} bpp, PSNR {psnr:.2f} dB, rec mode, "
                   "{blocks} blocks of <= {kl_bits_per_block} bits KL, "
                   "{macs_per_pixel:.0f} MACs/pixel, {encode_seconds:.1f} s")


def _encode_video(args) -> int:
    from ..video.clip_reader import open_clip
    from ..video.encoder import DEFAULT_FPS, DEFAULT_GROUP, as_fraction, encode_video_with_report
    options = _options(args)
    inp = Path(args.input)
    named = inp if inp.name not in ("", ".", "..") else inp.resolve()
    output = _output(args, named.with_suffix(".inr"))
    clip = open_clip(args.input, start=args.start or 0, frames=args.frames)
    fps = as_fraction(args.fps if args.fps is not None else (clip.fps or DEFAULT_FPS))
    group = args.group or DEFAULT_GROUP
    frames = _checked_frames(clip, group, options.preset)
    data, report = encode_video_with_report(frames, fps, options, group=group,
                                            progress=not args.quiet, total_frames=clip.count)
    report["input"] = str(args.input)
    report["start"] = args.start or 0
    return _finish(args, output, data, report,
                   "{output}: {frames} frames {width}x{height} at {fps:.3f} fps in {groups} "
                   "group(s), {bytes} bytes, {bpp:.4f} bpp, PSNR {psnr:.2f} dB, "
                   "{macs_per_pixel:.0f} MACs/pixel, {encode_seconds:.1f} s")


def _checked_frames(clip, group: int, preset: str):
    """The clip's frames, after refusing (from the first frame, before any fit) a group of frames
    whose fit would need more memory than is available (limits.fit_bytes)."""
    from ..arch import AUTO_PRESET, preset as get_preset
    from ..limits import check_encode, fit_bytes
    from ..video.encoder import VIDEO_AUTO_PRESET
    from ..video.layout import DEFAULT_TEMPORAL_CONTEXT
    frames = iter(clip.frames)
    first = next(frames, None)
    if first is None:
        return iter(())
    shape = getattr(first, "shape", ())
    if len(shape) in (2, 3):
        h, w = shape[:2]
        c = shape[2] if len(shape) == 3 else 1
        t = min(group, clip.count) if clip.count else group
        try:
            arch = get_preset(VIDEO_AUTO_PRESET if preset == AUTO_PRESET else preset).for_video()
        except InrcodecError:
            arch = None           # the encoder reports a bad preset itself
        if arch is not None:
            need = fit_bytes(arch, h, w, c, frames=t, extra_arm_inputs=DEFAULT_TEMPORAL_CONTEXT)
            what = f"groups of {t} frames of {w}x{h}" if t > 1 else f"frames of {w}x{h}"
            check_encode(what + " (a smaller --group needs less)" if t > 1 else what, need)
    return itertools.chain([first], frames)
