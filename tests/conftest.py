"""Suite-wide settings: offline, strict checkpoint deserialization, no user .env leaking in."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")
for _k in [k for k in os.environ if k.startswith("FILMCREW_")]:
    del os.environ[_k]
