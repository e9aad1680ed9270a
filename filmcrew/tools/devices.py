"""The one accelerator lock: one denoising or sampling loop on the device at a time.

Every backend that runs a model on the GPU (WISA, SynCoS, RFLAV, REGEN, MusicGen) takes this lock
around its loop, so shots rendered in parallel threads queue for the device instead of splitting
its memory. It lives below every backend so each can import it without importing the others.
"""

from __future__ import annotations

import threading

DEVICE_LOCK = threading.Lock()
