"""Fetch a dataset: download, unpack safely, verify every data file, then move it into place.

Everything happens in a hidden temporary folder beside the destination, which is removed
whatever happens; only a verified dataset is renamed to its final name. So a dataset folder
under the destination ("UCI HAR Dataset", "A_DeviceMotion_data", ...) is always complete and
checked.

A `Source` says where a dataset is published, how to find it in its archive (zip or tar.gz,
possibly one archive inside another) and which of its files are data. Every data file is
checked against SHA-256 sums, taken from the first of:

1. the sums passed in (`checksums=`, e.g. read from a `--sha256sums` file);
2. the sums pinned in bilm (`bilm.data.checksums`: UCI HAR and MotionSense);
3. for a dataset whose sums bilm does not pin, the SHA256SUMS file that its first download
   recorded in the copy being replaced (`--force`): a new copy must match the first one.

With none of them (the first download of an unpinned dataset), the sums of the data files are
recorded in SHA256SUMS inside the new dataset folder and the download says so, with the
archive's own SHA-256, so that the user can compare it with a trusted source: trust on first
use, stated, never silent. Every data file must be covered by the sums: a file they do not list
is refused as well as one that does not match.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import http.client
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from tqdm import tqdm

from bilm.data import checksums as _checksums
from bilm.data.locations import data_dir

# UCI HAR's, kept here because callers have always found them here.
DEFAULT_URL = "https://archive.ics.uci.edu/static/public/240/human+activity+recognition+using+smartphones.zip"
URL_ENV = "BILM_UCI_HAR_URL"
CHUNK = 1 << 20
TIMEOUT_S = 60
# The archive is about 60 MB and unpacks to about 270 MB (with the 561-feature files).
SPACE_NEEDED = "about 400 MB"
# Where the first download of a dataset whose sums bilm does not pin records them.
RECORDED_SUMS = "SHA256SUMS"
# Archives inside an archive are opened once: a zip bomb of nested zips stops there.
MAX_DEPTH = 1
# Python's own rules for safe tar extraction where it has them (3.10.12+, 3.11.4+).
_TAR_FILTER = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
_TAR_REFUSED = (tarfile.FilterError,) if hasattr(tarfile, "FilterError") else ()


class DownloadError(RuntimeError):
    """Downloading, unpacking or verifying a dataset failed; the message names what failed."""


@dataclass(frozen=True)
class Source:
    """Where a dataset is published and how its archive is checked.

    `markers` are paths (relative, "/"-separated) that the dataset folder holds: the shallowest
    folder of the unpacked archive holding them all is the dataset, whatever its name there; it
    is moved to `folder` under the destination. `inner` names an archive inside the archive to
    look in when the outer one holds no dataset folder. `data_files(folder)` lists the data
    files of an unpacked copy (relative paths), which the sums must cover. `pinned()` returns
    the sums bilm pins (looked up at call time), or None.
    """

    title: str
    url: str
    url_env: str
    folder: str
    markers: tuple[str, ...]
    data_files: Callable[[Path], list[str]]
    pinned: Callable[[], Mapping[str, str] | None] = lambda: None
    inner: str | None = None
    space: str = "some disk space"
    licence: str = ""
    citation: str = ""


def fetch(source: Source, dest: str | os.PathLike[str] | None = None, *, url: str | None = None,
          progress: bool = True, force: bool = False, checksums: Mapping[str, str] | None = None) -> Path:
    """Download `source` into `dest` (default: `data_dir()`) and return its dataset folder.

    An existing copy is returned as is unless `force`. `url` (else the source's environment
    variable, else the official address) may point at a mirror or a file:// path. `checksums`
    maps paths inside the dataset folder to SHA-256 sums; without it, see the module's doc.
    The licence and citation are printed (to stderr) after each download.
    """
    dest = Path(dest).expanduser() if dest is not None else data_dir()
    target = dest / source.folder
    if target.is_dir() and not force:
        return target
    url = url or os.environ.get(source.url_env) or source.url
    if checksums is None:
        checksums = source.pinned()
    if checksums is None:
        checksums = recorded_sums(target)
    _say(progress, f"downloading {source.title} from {url}")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        archive_sum, count = _fetch_into(source, target, url, checksums, progress)
    except OSError as e:
        if e.errno == errno.ENOSPC:
            raise DownloadError(f"no space left on the device holding {dest} ({source.title} needs "
                                f"{source.space})") from e
        raise DownloadError(f"could not write the dataset under {dest}: {e}") from e
    if checksums is None:
        # Said even with progress off: the user must know that nothing was checked.
        print(f"warning: bilm pins no SHA-256 sums for {source.title}, so this first download could not be "
              f"verified. The archive's SHA-256 is {archive_sum}: compare it with a trusted source. The sums "
              f"of its {count} data files are now in {target / RECORDED_SUMS}; a later download with --force "
              "must match them.", file=sys.stderr)
    else:
        _say(progress, f"verified {count} files; {source.title} is in {target}")
    print_terms(source)
    return target


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
    # Imported here: the dataset modules import this one for `Source` and `fetch`.
    from bilm.data.datasets.uci_har import SOURCE

    return fetch(SOURCE, dest, url=url, progress=progress, force=force, checksums=checksums)


def print_terms(source: Source) -> None:
    """The licence and the citation a dataset's authors ask for, to stderr."""
    if source.licence:
        print(f"{source.title} licence: {source.licence}", file=sys.stderr)
    if source.citation:
        print(f"If you publish results on {source.title}, cite: {source.citation}", file=sys.stderr)


def recorded_sums(folder: Path) -> dict[str, str] | None:
    """The sums a first download recorded in `folder`, or None when there are none."""
    path = folder / RECORDED_SUMS
    if not path.is_file():
        return None
    try:
        return _checksums.read_sha256sums(path)
    except ValueError as e:
        raise DownloadError(f"{e}; delete it to download without checking against the first copy") from None


def _fetch_into(source: Source, target: Path, url: str, checksums: Mapping[str, str] | None,
                progress: bool) -> tuple[str, int]:
    # The work folder is beside the target, on the same file system: the final rename is atomic.
    work = Path(tempfile.mkdtemp(prefix=f".{source.folder}-download-", dir=target.parent))
    try:
        archive = _download(source, url, work / f"download{_suffix(url)}", progress)
        archive_sum = _sha256(archive)
        dataset = _unpack(source, archive, work, url)
        data_files = source.data_files(dataset)
        if checksums is None:
            count = _record(dataset, data_files)
        else:
            count = _verify(dataset, checksums, data_files)
        _move_into_place(dataset, target, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return archive_sum, count


def _suffix(url: str) -> str:
    name = PurePosixPath(urllib.parse.urlparse(url).path).name.lower()
    return ".tar.gz" if name.endswith((".tar.gz", ".tgz")) else ".zip"


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr)


def _download(source: Source, url: str, path: Path, progress: bool) -> Path:
    try:
        response = urllib.request.urlopen(url, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        raise DownloadError(f"download failed: {url} answered HTTP {e.code} {e.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
        name = PurePosixPath(urllib.parse.urlparse(source.url).path).name
        raise DownloadError(f"download failed: cannot reach {url}: {getattr(e, 'reason', e)}; use a mirror "
                            f"with --url or ${source.url_env} (a file:///path/to/{urllib.parse.unquote(name)} "
                            "works offline)") from None
    with response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        with open(path, "wb") as out, tqdm(
            total=total, unit="B", unit_scale=True, desc=source.title, disable=not progress
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


def _unpack(source: Source, archive: Path, work: Path, url: str, depth: int = 0) -> Path:
    """Extract `archive` and return the dataset folder in it, or in the `source.inner` archive it holds.

    The UCI repository's static zips wrap the original zip (plus a readme); a mirror may serve
    the original directly, so both are accepted.
    """
    unpacked = work / f"unpacked-{depth}"
    _extract(archive, unpacked, url)
    found = _find_dataset(unpacked, source.markers)
    if found is not None:
        return found
    inner = _find_inner(unpacked, source.inner) if depth < MAX_DEPTH else None
    if inner is None:
        raise DownloadError(f"the archive from {url} holds no {source.folder!r} folder "
                            f"(one holding {', '.join(source.markers)})")
    return _unpack(source, inner, work, url, depth + 1)


def _find_dataset(unpacked: Path, markers: tuple[str, ...]) -> Path | None:
    """The shallowest folder holding every marker; macOS metadata (__MACOSX) is never one."""
    queue = deque([unpacked])
    while queue:
        folder = queue.popleft()
        if all((folder / marker).exists() for marker in markers):
            return folder
        queue.extend(sorted(p for p in folder.iterdir()
                            if p.is_dir() and not p.is_symlink() and p.name != "__MACOSX"))
    return None


def _find_inner(unpacked: Path, name: str | None) -> Path | None:
    if name is None:
        return None
    found = sorted((p for p in unpacked.rglob(name) if "__MACOSX" not in p.parts and p.is_file()),
                   key=lambda p: len(p.parts))
    return found[0] if found else None


def _extract(archive: Path, dest: Path, url: str) -> None:
    # Told apart by their bytes, not the URL: a mirror may serve either.
    if zipfile.is_zipfile(archive):
        with _open_zip(archive, url) as zf:
            _safe_extract(zf, dest, url)
    elif _is_tar(archive):
        _safe_extract_tar(archive, dest, url)
    else:
        kind = "tar.gz" if archive.name.endswith(".tar.gz") else "zip"
        raise DownloadError(f"{url} did not send a valid {kind} archive; is the body truncated, "
                            "or does the URL point at something else?")


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except (OSError, EOFError, zlib.error):
        return False


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


def _safe_extract_tar(archive: Path, dest: Path, url: str) -> None:
    """Extract a tar (.tar.gz) member by member under the same rules as a zip: regular files,
    folders, and links that stay inside `dest`; no devices, pipes or absolute paths."""
    dest.mkdir()
    root = dest.resolve()
    try:
        with tarfile.open(archive) as tf:
            for member in tf:
                _check_tar_member(member, _member_path(member.name, root), root)
                try:
                    tf.extract(member, root, **_TAR_FILTER)
                except _TAR_REFUSED as e:
                    raise DownloadError(f"refusing to extract {member.name!r}: {e}") from None
            # gzip checks its CRC only at the end of the stream, which tar's last member may not reach.
            while tf.fileobj.read(CHUNK):
                pass
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise DownloadError(f"the tar archive from {url} is damaged: {e}") from None


def _check_tar_member(member: tarfile.TarInfo, target: Path, root: Path) -> None:
    if member.issym() or member.islnk():
        # A symbolic link is relative to its folder, a hard link to the archive's root.
        base = target.parent if member.issym() else root
        if not _inside(os.path.realpath(base / member.linkname), root):
            raise DownloadError(f"refusing to extract {member.name!r}: a link to {member.linkname!r}, "
                                "outside the destination")
    elif not (member.isfile() or member.isdir()):
        raise DownloadError(f"refusing to extract {member.name!r}: a device or pipe, not a file or folder")


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


def _verify(dataset: Path, checksums: Mapping[str, str], data_files: list[str]) -> int:
    """Check every summed file; refuse data files the sums do not cover. Returns the count checked."""
    for relative, expected in sorted(checksums.items()):
        path = dataset / relative
        if not path.is_file():
            raise DownloadError(f"{relative} is missing from the downloaded dataset")
        actual = _sha256(path)
        if actual != expected:
            raise DownloadError(f"SHA-256 mismatch for {relative}: expected {expected}, got {actual}; "
                                "the download is damaged or the mirror serves a different dataset")
    uncovered = sorted(set(data_files) - set(checksums))
    if uncovered:
        raise DownloadError(f"{uncovered[0]} is a data file the SHA-256 sums do not cover ({len(uncovered)} "
                            "such files); the download holds a different version of the dataset")
    return len(checksums)


def _record(dataset: Path, data_files: list[str]) -> int:
    if not data_files:
        raise DownloadError(f"the downloaded dataset in {dataset.name} holds no data files")
    sums = {relative: _sha256(dataset / relative) for relative in sorted(data_files)}
    _checksums.write_sha256sums(dataset / RECORDED_SUMS, sums)
    return len(sums)


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
