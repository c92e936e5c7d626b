"""A tiny PNG writer (RGB, 8 bits a channel), standard library only, for images embedded in a page.

A PNG is the 8-byte signature and chunks, each `length, type, data, CRC-32(type + data)`: IHDR (width,
height, bit depth 8, colour type 2 = RGB, then compression, filter and interlace methods, all 0),
IDAT (the zlib-compressed rows, each led by its filter type, 0 = none), and an empty IEND (PNG spec,
W3C 2003, sections 5 and 11)."""
import base64
import struct
import zlib

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bytes(pixels):
    """The PNG file of an RGB image given as an array of shape (height, width, 3) of bytes 0..255."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 3 or pixels.shape[2] != 3 or 0 in pixels.shape:
        raise ValueError(f"png_bytes: pixels must have shape (height, width, 3), got {pixels.shape}")
    height, width, _ = pixels.shape
    rows = np.concatenate([np.zeros((height, 1), np.uint8), pixels.astype(np.uint8).reshape(height, -1)], axis=1)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return SIGNATURE + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows.tobytes(), 9)) + chunk(b"IEND", b"")


def data_uri(pixels):
    """The image as a data: URI, to sit in the page itself (no file beside it)."""
    return "data:image/png;base64," + base64.b64encode(png_bytes(pixels)).decode("ascii")
