"""A job's loss curve: at most CURVE_POINTS points shown, however long the run.

Shown by job_status and in a finished job's result; the same thinning wherever a job runs (in a
server's job thread, jobs.py, or on a worker, worker_pg.py) and for the result (train.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from genai_mcp.tools.lora.schemas import LossPoint

__all__ = ["CURVE_POINTS", "LossCurve", "thinned"]

CURVE_POINTS = 200


def thinned(points: list[LossPoint]) -> list[LossPoint]:
    """At most CURVE_POINTS of `points`, evenly strided; the first and the last always kept."""
    if len(points) <= CURVE_POINTS:
        return list(points)
    stride = -(-(len(points) - 1) // (CURVE_POINTS - 1))
    return [*points[:-1:stride], points[-1]]


class LossCurve:
    """The curve of a job while it runs, in bounded memory: past 2 * CURVE_POINTS points every other
    one is dropped (the last kept), so a long run keeps a coarser but whole curve."""

    def __init__(self, points: Iterable[LossPoint] = ()) -> None:
        self.points = list(points)

    def add(self, step: int, loss: float) -> None:
        self.points.append(LossPoint(step=step, loss=loss))
        if len(self.points) > 2 * CURVE_POINTS:
            self.points = [*self.points[:-1:2], self.points[-1]]

    def shown(self) -> list[LossPoint]:
        return thinned(self.points)
