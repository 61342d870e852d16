"""Read a labelling tool's results into answers: one row per worker per image.

Mechanical Turk's results CSV has a row per assignment with ``HITId``, ``WorkerId``,
``AssignmentStatus``, ``SubmitTime``, the batch's fields as ``Input.<field>`` and the
form's as ``Answer.<field>`` (here ``Answer.label``); rejected assignments are skipped.
Label Studio's JSON export is a list of tasks, each with its ``data`` (as exported, plus
Label Studio's ``id``) and ``annotations``, each with ``completed_by`` and
``result[].value.choices``; cancelled annotations are skipped.

Every answer keeps ``where`` it came from (``results.csv line 7``, ``export.json task 12``),
so each refusal names the file and the row.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pandas as pd

from taxonomist.errors import DataError
from taxonomist.labels.batch import ANSWER

ANSWER_COLUMNS = ("batch", "task_id", "worker", "label", "where")
MTURK_REQUIRED = ("HITId", "WorkerId", "Input.batch", "Input.task_id", f"Answer.{ANSWER}")
# MTurk writes SubmitTime as "Thu Mar 14 10:52:38 PDT 2024"
_MTURK_TIME = re.compile(r"^\w{3} (\w{3} \d{1,2} \d\d:\d\d:\d\d) (\w+) (\d{4})$")
_ZONES = {"UTC": 0, "GMT": 0, "PST": -8, "PDT": -7}


def read_answers(file: Path) -> pd.DataFrame:
    """The answers in a Mechanical Turk results CSV (``.csv``) or a Label Studio JSON
    export (``.json``).

    Raises:
        DataError: the file is missing, empty, truncated or not such an export, naming
            the file and, for a bad row, the row.
    """
    if not file.is_file():
        raise DataError(f"{file}: no such file")
    if file.suffix.lower() == ".csv":
        rows = list(_mturk_answers(file))
    elif file.suffix.lower() == ".json":
        rows = list(_label_studio_answers(file))
    else:
        raise DataError(f"{file}: expected a Mechanical Turk results .csv or a Label Studio "
                        "JSON export (.json)")
    if not rows:
        raise DataError(f"{file}: no answers in it (every row rejected or cancelled?)")
    return pd.DataFrame(rows, columns=ANSWER_COLUMNS)


def _mturk_answers(file: Path) -> Iterator[dict[str, str]]:
    reader = csv.reader(io.StringIO(_text(file, "utf-8-sig"), newline=""))
    try:
        yield from _mturk_rows(file, reader)
    except csv.Error as err:  # a NUL byte, an unclosed quote at the end
        raise DataError(f"{file} line {reader.line_num}: not CSV ({err}); the file is "
                        "damaged: download the results again") from None


def _mturk_rows(file: Path, reader: Any) -> Iterator[dict[str, str]]:
    """The answers of a ``csv.reader`` (its rows, and its ``line_num`` for messages)."""
    header = next(reader, None)
    if not header:
        raise DataError(f"{file}: empty; expected Mechanical Turk's results CSV, with a "
                        f"header row naming {', '.join(MTURK_REQUIRED)}")
    missing = [c for c in MTURK_REQUIRED if c not in header]
    if missing:
        raise DataError(f"{file}: missing column(s) {', '.join(missing)}; expected the "
                        "results CSV of a batch made from `taxonomist label export`'s "
                        "mturk_input.csv (its form's field named 'label')")
    for cells in reader:
        where = f"{file} line {reader.line_num}"
        if len(cells) != len(header):
            raise DataError(f"{where}: {len(cells)} of the {len(header)} columns; the "
                            "file is truncated or damaged: download the results again")
        row = dict(zip(header, cells, strict=True))
        if row.get("AssignmentStatus") == "Rejected":
            continue
        _check_in_time(row, where)
        yield {"batch": row["Input.batch"], "task_id": row["Input.task_id"],
               "worker": row["WorkerId"], "label": row[f"Answer.{ANSWER}"].strip(),
               "where": where}


def _text(file: Path, encoding: str) -> str:
    try:
        return file.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        raise DataError(f"{file}: not UTF-8 text (byte {err.start}: "
                        f"{err.object[err.start:err.start + 1]!r}); the file is damaged, "
                        "or saved in another encoding: export it again") from None


def _check_in_time(row: dict[str, str], where: str) -> None:
    """Refuse an answer given after its image's URL expired: the worker saw no image."""
    try:
        expires = url_expiry(row.get("Input.image_url", ""))
        submitted = mturk_time(row.get("SubmitTime", ""))
    except (ValueError, OverflowError) as err:
        raise DataError(f"{where}: cannot read the image URL's X-Amz-Date/X-Amz-Expires or "
                        f"the SubmitTime ({err}); the row is damaged: download the results "
                        "again") from None
    if expires and submitted and submitted > expires:
        raise DataError(
            f"{where}: answered at {submitted:%Y-%m-%d %H:%M} UTC, after the image URL "
            f"expired at {expires:%Y-%m-%d %H:%M} UTC, so worker {row['WorkerId']} saw no "
            f"image; run `taxonomist label export --refresh {row['Input.batch']}` for new "
            "URLs, repost those HITs, and import again without this row")


def url_expiry(url: str) -> datetime | None:
    """When a presigned S3 URL (signature V4) stops working; None for another URL."""
    query = parse_qs(urlsplit(url).query)
    if "X-Amz-Date" not in query or "X-Amz-Expires" not in query:
        return None
    signed = datetime.strptime(query["X-Amz-Date"][0], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed + timedelta(seconds=int(query["X-Amz-Expires"][0]))


def mturk_time(text: str) -> datetime | None:
    """Mechanical Turk's ``SubmitTime`` in UTC; None when blank or in a zone not known."""
    match = _MTURK_TIME.match(text.strip())
    if not match or match.group(2) not in _ZONES:
        return None
    local = datetime.strptime(f"{match.group(1)} {match.group(3)}", "%b %d %H:%M:%S %Y")
    return (local - timedelta(hours=_ZONES[match.group(2)])).replace(tzinfo=UTC)


def _label_studio_answers(file: Path) -> Iterator[dict[str, str]]:
    try:
        tasks = json.loads(_text(file, "utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(f"{file}: not valid JSON at line {err.lineno}, column {err.colno} "
                        f"({err.msg}); the export is truncated or damaged: export it from "
                        "Label Studio again (format JSON)") from None
    except RecursionError:  # json's parser recurses once per level of nesting
        raise DataError(f"{file}: JSON nested too deeply to be a Label Studio export") from None
    if not isinstance(tasks, list) or not tasks:
        raise DataError(f"{file}: expected Label Studio's JSON export, a list of tasks; got "
                        f"{'an empty list' if tasks == [] else type(tasks).__name__}")
    for number, task in enumerate(tasks, start=1):
        task = _shaped(task, dict, f"{file} task #{number}", "a task")
        where = f"{file} task {task.get('id', f'#{number}')}"
        data = _shaped(task.get("data", {}), dict, where, "its 'data'")
        if "batch" not in data or "task_id" not in data:
            raise DataError(f"{where}: its data has no 'batch' and 'task_id'; this is the "
                            "export of another Label Studio project: export the project "
                            "you imported a batch's label_studio_tasks.json into")
        for annotation in _shaped(task.get("annotations", []), list, where, "'annotations'"):
            annotation = _shaped(annotation, dict, where, "an annotation")
            if annotation.get("was_cancelled"):
                continue
            yield {"batch": str(data["batch"]), "task_id": str(data["task_id"]),
                   "worker": _annotator(annotation), "label": _choice(annotation, where),
                   "where": where}


def _shaped(value: Any, kind: type, where: str, what: str) -> Any:
    """``value``, if it is a ``kind`` as Label Studio writes it; else an error naming it."""
    if not isinstance(value, kind):
        expected = {dict: "an object", list: "a list"}[kind]
        raise DataError(f"{where}: {what} is {type(value).__name__}, expected {expected}; "
                        "the export is damaged or not Label Studio's JSON: export it again")
    return value


def _annotator(annotation: dict) -> str:
    """``completed_by`` is a user id, or (older exports) a user with ``id`` and ``email``."""
    who = annotation.get("completed_by", "")
    if isinstance(who, dict):
        return str(who.get("email") or who.get("id", ""))
    return str(who)


def _choice(annotation: dict, where: str) -> str:
    shown = f"annotation {annotation.get('id', '?')}"
    choices = []
    for result in _shaped(annotation.get("result", []), list, where, f"{shown}'s 'result'"):
        result = _shaped(result, dict, where, f"a result of {shown}")
        if result.get("from_name") in (ANSWER, None):
            value = _shaped(result.get("value", {}), dict, where, f"a value of {shown}")
            choices += _shaped(value.get("choices", []), list, where, f"{shown}'s 'choices'")
    if len(choices) != 1:
        raise DataError(f"{where}: {shown} has {len(choices)} choices for '{ANSWER}'; "
                        "expected one")
    return str(choices[0]).strip()
