"""Static sites written whole: a reader never sees half a site, and a failed build keeps the last good one."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def staged_directory(target: Path) -> Iterator[Path]:
    """Build into a fresh folder beside `target` and swap it in whole once the build succeeds.

    A reader never sees half a site, a rerun leaves no page of the previous build behind, and a failed build
    keeps the last good site.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    staging.chmod(0o755)
    retired = target.with_name(f".{target.name}.{os.getpid()}.retired")
    if target.exists():
        os.replace(target, retired)
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)
