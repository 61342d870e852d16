"""A request's images: found in the body, then checked and decoded like ingest's.

Three ways to send images to ``POST /v1/predict``:

- one image as the raw body (``Content-Type: image/png``, ``image/jpeg``, ``image/webp``
  or ``application/octet-stream``);
- one or more files in a ``multipart/form-data`` form (any field name);
- a batch as JSON: ``{"images": ["<base64>", ...]}`` (or the bare list).

Each image goes through :func:`taxonomist.data.images.decode_checked`, the function
ingest uses: the header must show an accepted format within the pixel limit before a
pixel is decoded, so a decompression bomb is refused, never decoded.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from PIL import Image
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from taxonomist.data.images import ImagePolicy, decode_checked
from taxonomist.data.rejects import Rejected
from taxonomist.serve.errors import RequestError

RAW_TYPES = ("image/png", "image/jpeg", "image/webp", "application/octet-stream")
JSON_TYPE, FORM_TYPE = "application/json", "multipart/form-data"
ACCEPTED_TYPES = (*RAW_TYPES, FORM_TYPE, JSON_TYPE)
# How each ingest rejection is answered: the status a client can act on.
_STATUS = {"format": 415, "too_large": 413, "unreadable": 422}


@dataclass(frozen=True)
class SentImage:
    """One image as sent: its bytes and how a message names it (``image 2``, a file)."""

    name: str
    data: bytes


async def read_images(request: Request, max_batch: int) -> list[SentImage]:
    """The images in ``request``, at most ``max_batch`` of them.

    Raises:
        RequestError: 415 for a content type not in :data:`ACCEPTED_TYPES`, 413 for
            more images than ``max_batch``, 422 for a body that holds no images.
    """
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media in RAW_TYPES:
        images = [SentImage("the image in the body", await request.body())]
    elif media == FORM_TYPE:
        images = await _form_images(request, max_batch)
    elif media == JSON_TYPE:
        images = _json_images(await request.body())
    else:
        raise RequestError(415, "unsupported_media_type",
                           f"Content-Type {media or '(none)'!r} is not accepted; send one of "
                           f"{', '.join(ACCEPTED_TYPES)}", {"accepted": list(ACCEPTED_TYPES)})
    if not images:
        raise RequestError(422, "no_images", "the request holds no image")
    if len(images) > max_batch:
        raise RequestError(413, "batch_too_large", f"{len(images)} images in one request, "
                           f"over serve.max_batch ({max_batch}); split the batch",
                           {"max_batch": max_batch})
    return images


def decode_images(images: list[SentImage], policy: ImagePolicy) -> list[Image.Image]:
    """The checked images, decoded (the stack's ``prepare`` makes them its input).

    Raises:
        RequestError: naming the image: 415 (a format ``policy`` refuses), 413 (more
            pixels than it allows) or 422 (not an image, truncated, corrupt).
    """
    decoded = []
    for image in images:
        try:
            decoded.append(decode_checked(image.data, policy))
        except Rejected as err:
            limit = {"formats": list(policy.formats), "max_pixels": policy.max_pixels}
            raise RequestError(_STATUS.get(err.kind, 422), f"image_{err.kind}",
                               f"{image.name}: {err.reason}", limit) from None
    return decoded


async def _form_images(request: Request, max_batch: int) -> list[SentImage]:
    try:
        form = await request.form(max_files=max_batch, max_fields=max_batch)
    except (MultiPartException, HTTPException) as err:  # Starlette wraps the first
        problem = getattr(err, "detail", None) or str(err)
        raise RequestError(413 if "many" in problem.lower() else 422, "bad_form",
                           f"cannot read the form: {problem} (at most {max_batch} files)",
                           {"max_batch": max_batch}) from None
    files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
    return [SentImage(f"file {f.filename or i + 1!r}", await f.read()) for i, f in enumerate(files)]


def _json_images(body: bytes) -> list[SentImage]:
    try:
        sent: Any = json.loads(body)
    except ValueError as err:
        raise RequestError(422, "bad_json", f"the body is not JSON: {err}") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise RequestError(422, "bad_json", "the body's JSON is nested too deeply; expected "
                           '{"images": ["<base64>", ...]}') from None
    if isinstance(sent, dict):
        sent = sent.get("images")
    if not isinstance(sent, list) or not all(isinstance(item, str) for item in sent):
        raise RequestError(422, "bad_json", 'expected {"images": ["<base64>", ...]}: a list '
                           "of base64-encoded image files")
    return [SentImage(f"image {i + 1}", _unbase64(text, i + 1)) for i, text in enumerate(sent)]


def _unbase64(text: str, number: int) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as err:
        raise RequestError(422, "bad_base64", f"image {number}: not base64 ({err})") from None
