"""How the caller steers a running job from a signal handler."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class Control:
    """Events that are set, never cleared: pause (finish what is in flight) and abort (don't)."""

    # Set by a signal, or by the engine itself when a failure ends the job.
    pause: threading.Event = field(default_factory=threading.Event)
    abort: threading.Event = field(default_factory=threading.Event)
    # What a pause will wait for, told when it is asked for; a scheduler may say otherwise.
    pausing: str = "finishing the chunks in flight"
