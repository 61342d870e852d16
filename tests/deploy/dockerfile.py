"""What the Dockerfile's final stage runs, read from the file itself (``dockerfile-parse``),
so a test runs the image's exact command rather than a copy of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from dockerfile_parse import DockerfileParser

HEALTHCHECK_CMD = " CMD "


@dataclass(frozen=True)
class Image:
    """The final stage of a Dockerfile.

    Attributes:
        stages: how many ``FROM`` lines (stages) the file has.
        command: ``ENTRYPOINT`` + ``CMD`` (exec form), what ``docker run IMAGE`` runs.
        env: the stage's ``ENV``, as the container sees it.
        user, workdir, exposed: its ``USER``, ``WORKDIR`` and ``EXPOSE``.
        healthcheck: the ``HEALTHCHECK`` command (exec form).
        copies: ``(source, destination)`` of its ``COPY`` lines from the build context.
        args: every ``ARG`` of the file, with its default.
        runs: every ``RUN`` line of the file.
    """

    stages: int
    command: list[str]
    env: dict[str, str]
    user: str
    workdir: str
    exposed: str
    healthcheck: list[str]
    copies: list[tuple[str, str]]
    args: dict[str, str]
    runs: list[str]


def read_image(path: Path) -> Image:
    parser = DockerfileParser(str(path))
    lines = parser.structure
    starts = [i for i, line in enumerate(lines) if line["instruction"] == "FROM"]
    final = lines[starts[-1]:]

    def last(instruction: str) -> str:
        return [line["value"] for line in final if line["instruction"] == instruction][-1]

    copies = [tuple(line["value"].split()) for line in final
              if line["instruction"] == "COPY" and not line["value"].startswith("--from")]
    args = dict(line["value"].split("=", 1) for line in lines if line["instruction"] == "ARG")
    return Image(
        stages=len(starts),
        command=json.loads(last("ENTRYPOINT")) + json.loads(last("CMD")),
        env=parser.envs,
        user=last("USER"),
        workdir=last("WORKDIR"),
        exposed=last("EXPOSE"),
        healthcheck=json.loads(last("HEALTHCHECK").split(HEALTHCHECK_CMD, 1)[1]),
        copies=copies,
        args=args,
        runs=[line["value"] for line in lines if line["instruction"] == "RUN"],
    )
