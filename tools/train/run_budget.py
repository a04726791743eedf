#!/usr/bin/python3
"""The training scripts' step-and-minutes budget and their learning-rate schedule.

On a shared CPU a run is budgeted in wall-clock minutes as well as steps: progress =
max(step / steps, elapsed / budget) drives the LR, any phase switch and the end, so a busy
machine gives fewer steps rather than a longer run.  The LR warms up linearly over the first
5% of the steps, then follows a cosine from 1 down to 0.1 of the peak over the progress."""
import math
import time


class RunBudget:
    def __init__(self, steps: int, minutes: float = 0.0, stop_after: int = -1):
        """steps: the schedule's length; minutes: wall-clock budget (0 = steps only);
        stop_after: end after this many steps without changing the schedule (-1 = never)."""
        self.steps, self.minutes, self.stop_after = steps, minutes, stop_after
        self.warmup = max(1, steps // 20)
        self.start = time.time()

    def elapsed(self) -> float:
        return time.time() - self.start

    def progress(self, step: int) -> float:
        if self.minutes <= 0:
            return step / self.steps
        return max(step / self.steps, self.elapsed() / (60 * self.minutes))

    def finished(self, step: int, progress: float) -> bool:
        return progress >= 1 or step == self.stop_after

    def lr_factor(self, step: int, progress: float) -> float:
        """Linear warm-up times a cosine from 1 to 0.1 of the peak LR."""
        cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
        return min(1.0, (step + 1) / self.warmup) * (0.1 + 0.9 * cosine)
