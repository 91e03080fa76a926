"""Download, safe extraction and verification of UCI HAR, offline.

A synthetic UCI HAR tree is zipped the way the UCI repository serves the real one (an outer
zip wrapping "UCI HAR Dataset.zip", macOS metadata included) and served from 127.0.0.1.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import stat
import threading
import zipfile
from pathlib import Path

import numpy as np
import platformdirs
import pytest

from bilm.data import DownloadError, data_dir, fetch_uci_har, load_dataset, load_uci_har
from bilm.data import __main__ as cli
from bilm.data import checksums, download
from bilm.data.checksums import UCI_HAR_SHA256
from bilm.synth import write_uci_tree

FOLDER = "UCI HAR Dataset"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """A tiny UCI HAR tree, the zip of it (as UCI nests it) and the sums of its 22 data files."""
    source = tmp_path_factory.mktemp("source") / FOLDER
    write_uci_tree(source, 8, 4, seed=3)
    sums = {name: hashlib.sha256((source / name).read_bytes()).hexdigest() for name in UCI_HAR_SHA256}
    inner = _zip({f"{FOLDER}/{p.relative_to(source).as_posix()}": p.read_bytes()
                  for p in sorted(source.rglob("*")) if p.is_file()}
                 | {f"__MACOSX/{FOLDER}/._README.txt": b"\0\5\26\7"})
    outer = _zip({f"{FOLDER}.zip": inner, "UCI HAR Dataset.names": b"readme", "__MACOSX/._UCI HAR Dataset.zip": b"x"})
    return {"root": source, "inner": inner, "outer": outer, "sums": sums}


def _zip(members: dict[str, bytes], links: dict[str, str] | None = None, stored: bool = False) -> bytes:
    """A zip of `members`, after symbolic `links` (name -> target) so later members can aim through them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as zf:
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, tuple[int, bytes, bool]] = {}

    def do_GET(self):
        status, body, truncate = self.routes.get(self.path, (404, b"not found", False))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # A truncated response promises the whole body, sends half, and hangs up.
        self.wfile.write(body[: len(body) // 2] if truncate else body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{httpd.server_address[1]}"

    def serve(name: str, body: bytes, *, status: int = 200, truncate: bool = False) -> str:
        _Handler.routes[f"/{name}"] = (status, body, truncate)
        return f"{base}/{name}"

    yield serve
    httpd.shutdown()
    httpd.server_close()


def _assert_nothing_left(dest: Path) -> None:
    # Neither a dataset folder nor the hidden work folder may survive a failure.
    assert not dest.exists() or not any(dest.iterdir())


@pytest.mark.parametrize("archive", ["outer", "inner"])
def test_download_extracts_verifies_and_loads(generated, server, tmp_path, archive):
    url = server(f"{archive}.zip", generated[archive])
    dest = tmp_path / "dest"
    target = fetch_uci_har(dest, url=url, progress=False, checksums=generated["sums"])
    assert target == dest / FOLDER
    assert [p.name for p in dest.iterdir()] == [FOLDER]  # the work folder is gone
    assert not list(target.rglob("._*"))  # macOS metadata skipped
    for name in generated["sums"]:
        assert (target / name).read_bytes() == (generated["root"] / name).read_bytes()
    data = load_dataset(dest)
    X, y, subject = load_uci_har(generated["root"], "train", cache=False)
    np.testing.assert_array_equal(data.X_train, X)
    np.testing.assert_array_equal(data.y_train, y)
    np.testing.assert_array_equal(data.subject_train, subject)


def test_existing_copy_is_kept_unless_forced(generated, server, tmp_path):
    dest = tmp_path / "dest"
    fetch_uci_har(dest, url=server("a.zip", generated["outer"]), progress=False, checksums=generated["sums"])
    marker = dest / FOLDER / "marker"
    marker.write_text("old copy")
    gone = server("gone.zip", b"", status=404)
    assert fetch_uci_har(dest, url=gone, progress=False) == dest / FOLDER
    assert marker.exists()
    fetch_uci_har(dest, url=server("a.zip", generated["outer"]), progress=False, force=True,
                  checksums=generated["sums"])
    assert not marker.exists()
    assert [p.name for p in dest.iterdir()] == [FOLDER]


def test_http_error_names_status_and_url(server, tmp_path):
    url = server("missing.zip", b"no such thing", status=404)
    with pytest.raises(DownloadError, match=r"HTTP 404.*") as info:
        fetch_uci_har(tmp_path / "dest", url=url, progress=False)
    assert url in str(info.value)
    _assert_nothing_left(tmp_path / "dest")


def test_unreachable_server(tmp_path):
    with pytest.raises(DownloadError, match="cannot reach http://127.0.0.1:1/"):
        fetch_uci_har(tmp_path / "dest", url="http://127.0.0.1:1/x.zip", progress=False)
    _assert_nothing_left(tmp_path / "dest")


def test_truncated_body(generated, server, tmp_path):
    url = server("cut.zip", generated["outer"], truncate=True)
    with pytest.raises(DownloadError, match=rf"truncated: .* sent {len(generated['outer']) // 2} of"):
        fetch_uci_har(tmp_path / "dest", url=url, progress=False, checksums=generated["sums"])
    _assert_nothing_left(tmp_path / "dest")


def test_not_a_zip(server, tmp_path):
    url = server("page.html", b"<html>moved</html>")
    with pytest.raises(DownloadError, match="did not send a valid zip"):
        fetch_uci_har(tmp_path / "dest", url=url, progress=False)
    _assert_nothing_left(tmp_path / "dest")


def test_zip_without_the_dataset(server, tmp_path):
    url = server("other.zip", _zip({"something/else.txt": b"1"}))
    with pytest.raises(DownloadError, match="holds no 'UCI HAR Dataset' folder"):
        fetch_uci_har(tmp_path / "dest", url=url, progress=False)


def test_damaged_member_is_reported(server, tmp_path):
    content = b"123456789\n" * 50
    archive = bytearray(_zip({f"{FOLDER}/train/y_train.txt": content}, stored=True))
    archive[archive.index(content) + 5] ^= 1  # still a zip, but the member fails its CRC
    with pytest.raises(DownloadError, match="train/y_train.txt in the archive from .* is damaged"):
        fetch_uci_har(tmp_path / "dest", url=server("crc.zip", bytes(archive)), progress=False)
    _assert_nothing_left(tmp_path / "dest")


def test_checksum_mismatch_names_the_file(generated, server, tmp_path):
    sums = dict(generated["sums"], **{"train/y_train.txt": "0" * 64})
    url = server("good.zip", generated["outer"])
    with pytest.raises(DownloadError, match="SHA-256 mismatch for train/y_train.txt: expected 0000"):
        fetch_uci_har(tmp_path / "dest", url=url, progress=False, checksums=sums)
    _assert_nothing_left(tmp_path / "dest")


def test_missing_file_names_it(generated, server, tmp_path):
    sums = dict(generated["sums"], **{"train/X_train.txt": "0" * 64})
    with pytest.raises(DownloadError, match="train/X_train.txt is missing"):
        fetch_uci_har(tmp_path / "dest", url=server("good.zip", generated["outer"]), progress=False, checksums=sums)
    _assert_nothing_left(tmp_path / "dest")


def test_the_real_sums_reject_generated_files(generated, server, tmp_path):
    # Without injected sums the embedded ones apply, and synthetic files cannot match them.
    with pytest.raises(DownloadError, match="SHA-256 mismatch"):
        fetch_uci_har(tmp_path / "dest", url=server("good.zip", generated["outer"]), progress=False)


@pytest.mark.parametrize("members,links", [
    ({"../evil.txt": b"x"}, {}),
    ({f"{FOLDER}/../../evil.txt": b"x"}, {}),
    ({"/tmp/evil.txt": b"x"}, {}),
    ({}, {f"{FOLDER}/link": "../../evil-target"}),
    ({}, {f"{FOLDER}/link": "/etc"}),
    ({f"{FOLDER}/through/evil.txt": b"x"}, {f"{FOLDER}/through": "../.."}),
])
def test_unsafe_members_are_refused(generated, server, tmp_path, members, links):
    url = server("evil.zip", _zip({f"{FOLDER}/README.txt": b"readme", **members}, links))
    with pytest.raises(DownloadError, match="refusing to extract"):
        fetch_uci_har(tmp_path / "dest", url=url, progress=False, checksums=generated["sums"])
    _assert_nothing_left(tmp_path / "dest")
    assert not list(tmp_path.rglob("evil*"))


def test_link_inside_the_destination_is_kept(generated, server, tmp_path):
    members = {f"{FOLDER}/{name}": (generated["root"] / name).read_bytes() for name in generated["sums"]}
    url = server("linked.zip", _zip(members, {f"{FOLDER}/alias.txt": "train/y_train.txt"}))
    target = fetch_uci_har(tmp_path / "dest", url=url, progress=False, checksums=generated["sums"])
    assert (target / "alias.txt").read_bytes() == (target / "train" / "y_train.txt").read_bytes()


def test_full_disk_is_reported(generated, server, tmp_path, monkeypatch):
    def open_on_full_disk(path, mode="r", *args, **kwargs):
        # /dev/full fails every write with ENOSPC, as a full disk does.
        return open("/dev/full", mode) if Path(path).name == "download.zip" else open(path, mode, *args, **kwargs)

    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full on this system")
    monkeypatch.setattr(download, "open", open_on_full_disk, raising=False)
    with pytest.raises(DownloadError, match=r"no space left on the device holding .*dest"):
        fetch_uci_har(tmp_path / "dest", url=server("good.zip", generated["outer"]), progress=False)
    _assert_nothing_left(tmp_path / "dest")


def test_load_dataset_downloads_on_first_use(generated, server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BILM_UCI_HAR_URL", server("first.zip", generated["outer"]))
    monkeypatch.setattr(checksums, "UCI_HAR_SHA256", generated["sums"])
    data = load_dataset()
    assert "downloading" in capsys.readouterr().err
    assert data.source == str(tmp_path / "data-dir" / FOLDER)
    assert data.X_train.shape == (8, 9, 128) and data.X_test.shape == (4, 9, 128)
    load_dataset()  # the second time it is there: no message
    assert "downloading" not in capsys.readouterr().err


def test_load_dataset_without_download_says_how_to_get_it():
    with pytest.raises(FileNotFoundError, match=r"python -m bilm.data download"):
        load_dataset(download=False)


def test_cli_download(generated, server, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(checksums, "UCI_HAR_SHA256", generated["sums"])
    url = server("cli.zip", generated["outer"])
    assert cli.main(["download", "--dest", str(tmp_path / "d"), "--url", url, "--quiet"]) == 0
    assert capsys.readouterr().out.strip() == str(tmp_path / "d" / FOLDER)
    assert cli.main(["download", "--dest", str(tmp_path / "e"), "--url", server("no.zip", b"", status=500)]) == 1
    assert "error: download failed" in capsys.readouterr().err


def test_data_dir_is_the_environment_or_the_user_cache(tmp_path, monkeypatch):
    assert data_dir() == tmp_path / "data-dir"
    monkeypatch.delenv("BILM_DATA_DIR")
    assert data_dir() == platformdirs.user_cache_path("bilm")


def test_a_folder_that_is_not_uci_har_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"not a UCI HAR folder .it holds neither train/ and test/"):
        load_dataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="nowhere: no such file or folder"):
        load_dataset(tmp_path / "nowhere")
