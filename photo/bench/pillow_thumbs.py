#!/usr/bin/env python3
"""The Pillow side of photo-bench: the same two thumbnails as landpatrol-photo's `analyze`.

    pillow_thumbs.py make-image SRC OUT                    # SRC scaled to 4032x3024, JPEG q90, EXIF kept
    pillow_thumbs.py bench VARIANT FILE ITERATIONS WARMUP  # one line per timed iteration (ms=...),
                                                           # then medians per step (step ...)

Two variants, each per iteration from the file's bytes in memory, both saving the 1024 and
the 256 thumbnail as baseline JPEG quality 82, 4:2:0, without metadata:

lanczos    like for like with landpatrol-photo: open, read the EXIF orientation, draft
           ("RGB", (1024, 1024)) so libjpeg decodes at a reduced DCT size, Lanczos to fit
           1024, Lanczos from that to fit 256, turn upright as ImageOps.exif_transpose would.
thumbnail  what a Python developer would write, as fast as stock Pillow gets: open,
           draft("RGB", (1024, 1024)), Image.thumbnail((1024, 1024)) with its defaults
           (BICUBIC, reducing_gap=2.0, so reduce() first wherever the factor allows), then
           ImageOps.exif_transpose (after the resize: it turns 1024x768 pixels instead of
           2016x1512), then a copy of that thumbnailed to (256, 256).
"""

import io
import statistics
import sys
import time

from PIL import Image, ImageOps

QUALITY = 82
SIZES = (1024, 256)
# ImageOps.exif_transpose's table.
TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def fit(w, h, size):
    """The size fitting a size x size box, never enlarging (same rounding as the Rust side)."""
    if w <= size and h <= size:
        return w, h
    long, short = max(w, h), min(w, h)
    scaled = max(1, (short * size + long // 2) // long)
    return (size, scaled) if w >= h else (scaled, size)


def lanczos_thumbnails(data, steps=None):
    """The two thumbnails, Lanczos; `steps`, when given, collects seconds per step."""
    clock = time.perf_counter
    t0 = clock()
    im = Image.open(io.BytesIO(data))
    orientation = im.getexif().get(0x0112, 1)
    full_w, full_h = im.size
    im.draft("RGB", (SIZES[0], SIZES[0]))
    im = im.convert("RGB")
    t1 = clock()
    method = TRANSPOSE.get(orientation)
    upright = (full_h, full_w) if orientation in (5, 6, 7, 8) else (full_w, full_h)
    resize = transpose = save = 0.0
    out = []
    previous = None
    for size in SIZES:
        w, h = fit(upright[0], upright[1], size)
        a = clock()
        if previous is None:
            sideways = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
            img = im.resize(sideways, Image.Resampling.LANCZOS)
            b = clock()
            if method is not None:
                img = img.transpose(method)
            transpose += clock() - b
            resize += b - a
        else:
            img = previous.resize((w, h), Image.Resampling.LANCZOS) if previous.size != (w, h) else previous
            resize += clock() - a
        a = clock()
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=QUALITY, subsampling=2)
        save += clock() - a
        out.append((img.size, buf.getvalue()))
        previous = img
    if steps is not None:
        for name, seconds in (("open+draft decode", t1 - t0), ("resize", resize), ("transpose", transpose), ("save", save)):
            steps.setdefault(name, []).append(seconds)
    return out


def save_jpeg(img):
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=QUALITY)  # Pillow's default subsampling at q82 is 4:2:0
    return buf.getvalue()


def default_thumbnails(data, steps=None):
    """The two thumbnails the idiomatic way (Image.thumbnail's defaults); `steps`, when
    given, collects seconds per step (the explicit load() only moves the decode out of
    thumbnail() so that it can be timed apart; the work done is the same)."""
    clock = time.perf_counter
    t0 = clock()
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (SIZES[0], SIZES[0]))
    if steps is not None:
        im.load()
    t1 = clock()
    im.thumbnail((SIZES[0], SIZES[0]))
    t2 = clock()
    big = ImageOps.exif_transpose(im)
    t3 = clock()
    small = big.copy()
    small.thumbnail((SIZES[1], SIZES[1]))
    t4 = clock()
    out = [(big.size, save_jpeg(big)), (small.size, save_jpeg(small))]
    t5 = clock()
    if steps is not None:
        for name, seconds in (
            ("open+draft decode", t1 - t0),
            ("thumbnail 1024 (BICUBIC)", t2 - t1),
            ("exif_transpose", t3 - t2),
            ("copy+thumbnail 256 (reduce+BICUBIC)", t4 - t3),
            ("save", t5 - t4),
        ):
            steps.setdefault(name, []).append(seconds)
    return out


VARIANTS = {"lanczos": lanczos_thumbnails, "thumbnail": default_thumbnails}


def make_image(src, dst):
    im = Image.open(src)
    exif = im.info.get("exif")
    big = im.convert("RGB").resize((4032, 3024), Image.Resampling.LANCZOS)
    big.save(dst, "JPEG", quality=90, subsampling=2, exif=exif)


def bench(variant, path, iterations, warmup):
    thumbnails = VARIANTS[variant]
    with open(path, "rb") as f:
        data = f.read()
    for _ in range(warmup):
        thumbnails(data)
    sizes = [size for size, _ in thumbnails(data)]
    print("pillow=%s variant=%s sizes=%s" % (Image.__version__, variant, " ".join("%dx%d" % s for s in sizes)), flush=True)
    steps = {}
    for _ in range(iterations):
        start = time.perf_counter()
        thumbnails(data)
        print("ms=%.3f" % ((time.perf_counter() - start) * 1000.0), flush=True)
    # Where the time goes, in separate runs (the timed ones above are not instrumented).
    for _ in range(iterations):
        thumbnails(data, steps)
    print("step " + "; ".join("%s %.2f ms" % (k, statistics.median(v) * 1000.0) for k, v in steps.items()), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "make-image":
        make_image(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 6 and sys.argv[1] == "bench" and sys.argv[2] in VARIANTS:
        bench(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)
