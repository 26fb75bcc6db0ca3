#!/usr/bin/env python3
"""Checks a run report as a user sees it: renders report.html in headless Chromium to a PNG and verifies that
the charts were drawn with data.

    scripts/check_report.py RUN_DIR [--png OUT.png] [--grpo-chart OUT.png]

1. In the HTML: every <svg> chart holds data marks (bars, lines or points) and none says "no data".
2. In the rendered PNG (Chromium --headless --screenshot, the whole page): the chart colour covers at least a
   minimum number of pixels per chart, so the charts are drawn, not empty axes.
--grpo-chart OUT.png also renders the report's GRPO accuracy chart and reward curve (grpo --eval-every) alone,
as the README shows it. Standard library only (the PNG is decoded here). Exit status 0 when both checks pass.
"""
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

CHART_BLUE = (0x33, 0x66, 0xCC)


def html_checks(html):
    charts = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    problems = []
    for i, svg in enumerate(charts):
        marks = len(re.findall(r"<(rect|polyline|circle)\b", svg))
        if "no data" in svg or marks == 0:
            problems.append(f"chart {i + 1} has no data marks")
    return len(charts), problems


def decode_png(path):
    """RGB(A) 8-bit PNG → (width, height, channels, rows of bytes)."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, [], None
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unsupported PNG (depth {depth}, colour type {color})"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        pos += 12 + n
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if f == 1:
            for i in range(channels, stride):
                line[i] = (line[i] + line[i - channels]) & 255
        elif f == 2:
            for i in range(stride):
                line[i] = (line[i] + prev[i]) & 255
        elif f == 3:
            for i in range(stride):
                left = line[i - channels] if i >= channels else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(line)
        prev = line
    return width, height, channels, rows


def chart_pixels(path):
    width, height, channels, rows = decode_png(path)
    target = bytes(CHART_BLUE)
    count = 0
    for line in rows:
        b = bytes(line)
        for x in range(0, len(b), channels):
            if b[x:x + 3] == target:
                count += 1
    return width, height, count


def render(browser, html_path, png, size):
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    "--force-device-scale-factor=0.5" if size[1] > 2000 else "--force-device-scale-factor=1",
                    f"--window-size={size[0]},{size[1]}", f"--screenshot={png}", "file://" + html_path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def grpo_chart(browser, html, out):
    """The report's held-out accuracy chart beside the reward curve, in a page of its own, as a PNG."""
    style = re.search(r"<style>.*?</style>", html, flags=re.S)
    block = re.search(r"<h3>Held-out greedy accuracy over the GRPO steps</h3>.*?</svg></div></div>", html, flags=re.S)
    if not block:
        print("the report has no GRPO accuracy chart (grpo --eval-every): --grpo-chart not rendered")
        return False
    page = os.path.join(tempfile.mkdtemp(), "grpo-chart.html")
    with open(page, "w", encoding="utf-8") as f:
        f.write("<!DOCTYPE html><html><head><meta charset='utf-8'>" + (style.group(0) if style else "")
                + "</head><body>" + block.group(0) + "</body></html>")
    render(browser, page, os.path.abspath(out), (1120, 400))
    print(f"{out}: the GRPO accuracy chart and reward curve")
    return True


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    run = os.path.abspath(sys.argv[1])
    html_path = os.path.join(run, "report.html")
    png = sys.argv[sys.argv.index("--png") + 1] if "--png" in sys.argv else os.path.join(tempfile.mkdtemp(), "report.png")
    html = open(html_path, encoding="utf-8").read()
    n_charts, problems = html_checks(html)
    print(f"{html_path}: {n_charts} charts in the HTML" + (f"; problems: {problems}" if problems else ", each with data marks"))
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        print("chromium is not installed (apt-get install chromium): the rendering check was not run")
        return 1
    # Tall enough for the whole report; half scale keeps the PNG small.
    render(browser, html_path, png, (1100, 12000))
    if "--grpo-chart" in sys.argv and not grpo_chart(browser, html, sys.argv[sys.argv.index("--grpo-chart") + 1]):
        return 1
    width, height, blue = chart_pixels(png)
    per_chart = blue / max(n_charts, 1)
    print(f"{png}: {width}x{height} rendered by {os.path.basename(browser)}; {blue} chart-coloured pixels "
          f"({per_chart:.0f} per chart)")
    if problems or n_charts == 0 or per_chart < 20:
        print("report check FAILED")
        return 1
    print("report check ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
