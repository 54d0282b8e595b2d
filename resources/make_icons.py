"""Draw the application icon with Pillow: ``resources/app.png`` (512 px), ``app-256.png`` and ``app.ico``.

A green rounded square with a white paw print. ``app.icns`` is made on macOS from ``app.png``
by ``installers/macos/build_dmg.sh`` (iconutil). Run: ``python resources/make_icons.py``.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
GREEN = (46, 125, 50, 255)
DARK = (27, 94, 32, 255)
WHITE = (255, 255, 255, 255)


def draw(size: int = 512) -> Image.Image:
    k = 4  # supersample, then downscale for smooth edges
    s = size * k
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    pad = s // 16
    d.rounded_rectangle((pad, pad, s - pad, s - pad), radius=s // 5, fill=GREEN, outline=DARK, width=s // 64)
    # paw: a main pad and four toes
    cx, cy = s / 2, s * 0.60
    d.ellipse((cx - s * 0.19, cy - s * 0.13, cx + s * 0.19, cy + s * 0.17), fill=WHITE)
    for dx, dy, r in ((-0.25, -0.17, 0.085), (-0.09, -0.29, 0.09), (0.09, -0.29, 0.09), (0.25, -0.17, 0.085)):
        x, y = cx + dx * s, cy + dy * s
        d.ellipse((x - r * s, y - r * 1.2 * s, x + r * s, y + r * 1.2 * s), fill=WHITE)
    return img.resize((size, size), Image.LANCZOS)


def main() -> None:
    big = draw(512)
    big.save(HERE / "app.png")
    big.resize((256, 256), Image.LANCZOS).save(HERE / "app-256.png")
    big.save(HERE / "app.ico", sizes=[(16, 16), (24, 24), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])


if __name__ == "__main__":
    main()
