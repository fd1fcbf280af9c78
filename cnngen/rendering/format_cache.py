"""A content-addressed cache of Black's output, so regenerating a file skips Black.

Black is most of the time ``cnngen model`` spends: importing it and formatting
one model file cost more than planning and rendering together.  Its output
depends only on the source text, Black's version and the mode, so the result
is stored under the SHA-256 of those three and read back the next time the
same text is formatted: ``--check``, the regenerate line, a ``project`` made
again, the golden files.  The first render of a new text still goes through
Black, so every file cnngen writes is Black's output.

The cache is a folder of small files, ``$CNNGEN_CACHE_DIR`` or
``$XDG_CACHE_HOME/cnngen/black`` (``~/.cache/cnngen/black``).  Set
``CNNGEN_NO_CACHE=1`` to turn it off.  Deleting the folder is always safe.
Any failure to read or write it (a read-only home, a full disk) only means
Black runs: the cache never changes what is written, and never fails a command.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

# Bump when the cache's layout or key changes.
_KEY_VERSION = b"cnngen-black-cache-1"
# Larger texts (deep plans) are formatted but not kept: the cache stays small.
MAX_CACHED_CHARS = 1_000_000


@cache
def _black_identity() -> bytes | None:
    """The installed Black, without importing it: its file's path, size and mtime."""
    try:
        spec = importlib.util.find_spec("black")
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None:
        return None
    try:
        status = os.stat(spec.origin)
    except OSError:
        return None
    return f"{spec.origin}\0{status.st_size}\0{status.st_mtime_ns}".encode()


def cache_folder() -> Path | None:
    """Where formatted texts are kept, or None when the cache is off."""
    if os.environ.get("CNNGEN_NO_CACHE", "") not in ("", "0"):
        return None
    folder = os.environ.get("CNNGEN_CACHE_DIR")
    if folder:
        return Path(folder)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnngen" / "black"


def _entry(source: str, mode: str) -> Path | None:
    folder = cache_folder()
    identity = _black_identity()
    if folder is None or identity is None or len(source) > MAX_CACHED_CHARS:
        return None
    digest = hashlib.sha256(
        b"\0".join((_KEY_VERSION, identity, mode.encode(), source.encode("utf-8", "surrogatepass")))
    ).hexdigest()
    return folder / digest[:2] / digest[2:]


def lookup(source: str, mode: str) -> str | None:
    """Black's output for ``source`` in ``mode`` (a description of the mode), when kept."""
    entry = _entry(source, mode)
    if entry is None:
        return None
    try:
        return entry.read_bytes().decode("utf-8", "surrogatepass")
    except (OSError, UnicodeDecodeError):
        return None


def store(source: str, mode: str, formatted: str) -> None:
    """Keep Black's output for next time; written whole (a temporary file, then a rename)."""
    entry = _entry(source, mode)
    if entry is None:
        return
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(formatted.encode("utf-8", "surrogatepass"))
            os.replace(temporary, entry)
        except BaseException:
            os.unlink(temporary)
            raise
    except OSError:
        pass


def template_cache(options: str) -> jinja2.BytecodeCache | None:
    """A Jinja bytecode cache beside Black's, or None when the cache is off.

    Compiling the templates from their text costs every process more than
    rendering them.  Jinja keys each compiled template by its name and file and
    checks the source's checksum on load, so an edited template (a shipped one
    or one in a user's ``--template-dir``) is compiled again, never served
    stale; ``options`` (the environment's settings and cnngen's version) joins
    the key, so a change to how templates are compiled leaves old entries unused.
    Any failure to read or write it only means the template is compiled.
    """
    folder = cache_folder()
    if folder is None:
        return None
    import jinja2

    class _Cache(jinja2.FileSystemBytecodeCache):
        def get_cache_key(self, name: str, filename: str | None = None) -> str:
            return hashlib.sha256(
                "\0".join((options, name, filename or "")).encode("utf-8", "surrogatepass")
            ).hexdigest()

        def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().load_bytecode(bucket)
            except Exception:
                bucket.reset()

        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                os.makedirs(self.directory, exist_ok=True)
                super().dump_bytecode(bucket)
            except Exception:
                pass

    return _Cache(str(folder / "jinja"), "%s.cache")
