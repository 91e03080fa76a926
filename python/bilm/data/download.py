"""Fetch UCI HAR: download, unpack safely, verify every data file, then move it into place.

Everything happens in a hidden temporary folder beside the destination, which is removed
whatever happens; only a verified dataset is renamed to its final name. So a folder named
"UCI HAR Dataset" under the destination is always complete and checked.
"""

from __future__ import annotations

import errno
import hashlib
import http.client
import os
import shutil
import stat
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from bilm.data import checksums as _checksums
from bilm.data.locations import UCI_HAR_FOLDER, data_dir

DEFAULT_URL = "https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip"
URL_ENV = "BILM_UCI_HAR_URL"
CHUNK = 1 << 20
TIMEOUT_S = 60
# The archive is about 60 MB and unpacks to about 270 MB (with the 561-feature files).
SPACE_NEEDED = "about 400 MB"


class DownloadError(RuntimeError):
    """Downloading, unpacking or verifying UCI HAR failed; the message names what failed."""


def fetch_uci_har(
    dest: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    progress: bool = True,
    force: bool = False,
    checksums: Mapping[str, str] | None = None,
) -> Path:
    """Download UCI HAR into `dest` (default: `data_dir()`) and return its "UCI HAR Dataset" folder.

    An existing copy is returned as is unless `force`. `url` (else $BILM_UCI_HAR_URL, else
    the UCI repository) may point at a mirror; `checksums` maps paths inside the dataset
    folder to SHA-256 sums (default: the 22 data files of the original dataset).
    """
    dest = Path(dest).expanduser() if dest is not None else data_dir()
    target = dest / UCI_HAR_FOLDER
    if target.is_dir() and not force:
        return target
    url = url or os.environ.get(URL_ENV) or DEFAULT_URL
    # Looked up at call time so that tests can serve a generated dataset with its own sums.
    checksums = _checksums.UCI_HAR_SHA256 if checksums is None else checksums
    _say(progress, f"downloading UCI HAR from {url}")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        _fetch_into(target, url, checksums, progress)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise DownloadError(f"no space left on the device holding {dest} (UCI HAR needs {SPACE_NEEDED})") from e
        raise DownloadError(f"could not write the dataset under {dest}: {e}") from e
    _say(progress, f"verified {len(checksums)} files; UCI HAR is in {target}")
    return target


def _fetch_into(target: Path, url: str, checksums: Mapping[str, str], progress: bool) -> None:
    # The work folder is beside the target, on the same file system: the final rename is atomic.
    work = Path(tempfile.mkdtemp(prefix=".uci-har-download-", dir=target.parent))
    try:
        archive = _download(url, work / "download.zip", progress)
        dataset = _unpack(archive, work, url)
        _verify(dataset, checksums)
        _move_into_place(dataset, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)


def _download(url: str, path: Path, progress: bool) -> Path:
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download failed: {url} answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        raise DownloadError(f"download failed: cannot reach {url}: {getattr(e, 'reason', e)}; use a mirror "
                            "with --url or $BILM_UCI_HAR_URL (a file:///path/to/UCI HAR Dataset.zip works "
                            "offline)") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with open(path, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc="UCI HAR", disable=not progress
        ) as bar:
            received = _copy_body(response, out, bar, url)
    # http.client returns a short body without complaint when the server closes early.
    if total is not None and received != total:
        raise DownloadError(f"download truncated: {url} sent {received} of {total} bytes")
    return path


def _copy_body(response, out, bar: tqdm, url: str) -> int:
    received = 0
    while True:
        try:
            chunk = response.read(CHUNK)
        except (http.client.HTTPException, OSError) as e:
            raise DownloadError(f"download of {url} broke off after {received} bytes: {e!r}") from None
        if not chunk:
            return received
        out.write(chunk)
        received += len(chunk)
        bar.update(len(chunk))


def _unpack(archive: Path, work: Path, url: str, nested: bool = False) -> Path:
    """Extract the dataset folder from `archive`, or from the "UCI HAR Dataset.zip" inside it.

    The UCI repository's static zip wraps the original zip (plus a readme); a mirror may
    serve the original directly, so both are accepted.
    """
    with _open_zip(archive, url) as zf:
        names = zf.namelist()
        if any(name.startswith(UCI_HAR_FOLDER + "/") for name in names):
            _safe_extract(zf, work / "unpacked", url)
            return work / "unpacked" / UCI_HAR_FOLDER
        inner = [name for name in names if PurePosixPath(name).name == UCI_HAR_FOLDER + ".zip"]
        if not inner or nested:
            raise DownloadError(f"the archive from {url} holds no {UCI_HAR_FOLDER!r} folder")
        with zf.open(inner[0]) as src, open(work / "inner.zip", "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
    return _unpack(work / "inner.zip", work, url, nested=True)


def _open_zip(path: Path, url: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DownloadError(f"{url} did not send a valid zip archive ({e}); is the body truncated, "
                            "or does the URL point at something else?") from None


def _safe_extract(zf: zipfile.ZipFile, dest: Path, url: str) -> None:
    """Extract every member, refusing any whose path or link target would leave `dest`."""
    dest.mkdir()
    root = dest.resolve()
    # Everything is extracted, even macOS metadata (__MACOSX/): only the dataset folder is kept.
    for info in zf.infolist():
        target = _member_path(info.filename, root)
        try:
            _extract_member(zf, info, target, root)
        except zipfile.BadZipFile as e:
            raise DownloadError(f"{info.filename} in the archive from {url} is damaged: {e}") from None


def _member_path(name: str, root: Path) -> Path:
    path = root.joinpath(*PurePosixPath(name.replace("\\", "/")).parts)
    # realpath resolves "..", absolute names and links extracted earlier, which could
    # otherwise redirect this member outside the destination.
    if not _inside(os.path.realpath(path), root):
        raise DownloadError(f"refusing to extract {name!r}: its path leaves the destination folder")
    return path


def _extract_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, root: Path) -> None:
    if info.is_dir():
        target.mkdir(parents=True, exist_ok=True)
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if stat.S_ISLNK(info.external_attr >> 16):
        link = zf.read(info).decode()
        if not _inside(os.path.realpath(target.parent / link), root):
            raise DownloadError(f"refusing to extract {info.filename!r}: a link to {link!r}, outside the destination")
        os.symlink(link, target)
        return
    with zf.open(info) as src, open(target, "wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)


def _inside(path: str | os.PathLike[str], root: Path) -> bool:
    return Path(path) == root or root in Path(path).parents


def _verify(dataset: Path, checksums: Mapping[str, str]) -> None:
    for relative, expected in sorted(checksums.items()):
        path = dataset / relative
        if not path.is_file():
            raise DownloadError(f"{relative} is missing from the downloaded dataset")
        actual = _sha256(path)
        if actual != expected:
            raise DownloadError(f"SHA-256 mismatch for {relative}: expected {expected}, got {actual}; "
                                "the download is damaged or the mirror serves a different dataset")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _move_into_place(dataset: Path, target: Path, work: Path) -> None:
    # A forced re-download swaps the old copy out first: at no moment is a partial one in place.
    if target.exists():
        os.replace(target, work / "previous")  # deleted with the work folder
    os.replace(dataset, target)
