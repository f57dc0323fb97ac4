"""What a pipe declaration must satisfy."""

from __future__ import annotations

import re

PIPE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
