"""Builds over a damaged raw archive and after a killed build (issue 15 items 21, 23): the errors say what is
wrong and how to repair it, and stale temporary files do not stay for ever."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from icemonitor.catalog.fetch import FetchError, fetch
from icemonitor.errors import ChecksumError
from icemonitor.warehouse.build import build
from icemonitor.warehouse.sources import catalog_sources

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
RID, NAME = "mn-ddp-st-cloud-detainers", "st_cloud_denied.csv"  # one small event file (22 detainers)

pytestmark = pytest.mark.skipif(not (SHARED_DATA / "ice/mn-ddp-extracts" / NAME).is_file(),
                                reason="../shared/data is not beside the repo")


def no_network() -> httpx.Client:
    def refuse(request):
        raise httpx.ConnectError("network disabled in tests", request=request)

    return httpx.Client(transport=httpx.MockTransport(refuse))


def archived(home: Path) -> Path:
    [a] = fetch(RID, home=home, mirror=SHARED_DATA)
    os.chmod(a.path, 0o644)
    return a.path


def test_build_over_a_corrupt_copy_says_so_and_how_to_repair(tmp_path):
    home = tmp_path / "home"
    path = archived(home)
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01  # one flipped bit, same size: the cheap archive check cannot see it
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError) as err:
        build(catalog_sources([RID], home=home), home / "warehouse.duckdb")
    msg = str(err.value)
    assert f"the archived copy {path} is corrupt" in msg and f"icemonitor fetch {RID} --verify" in msg
    assert "download failed" not in msg
    assert fetch(RID, home=home, client=no_network())[0].path == path  # without --verify it is not seen
    with pytest.raises(FetchError) as err:  # --verify sees it; with nowhere to fetch from, it says so
        fetch(RID, home=home, client=no_network(), verify=True, retries=0, backoff=0.0)
    msg = str(err.value)
    assert "is corrupt (its bytes no longer hash to sha256" in msg and "--verify" in msg and "Fetching it again failed" in msg
    [fresh] = fetch(RID, home=home, mirror=SHARED_DATA, verify=True)  # repaired from the mirror
    assert fresh.new and fresh.path != path
    report = build(catalog_sources([RID], home=home), home / "warehouse.duckdb")
    assert report.rows["detainers"] == 22


def test_truncated_copy_that_cannot_be_fetched_again_is_named_corrupt(tmp_path):
    home = tmp_path / "home"
    path = archived(home)
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(FetchError) as err:
        fetch(RID, home=home, client=no_network(), retries=0, backoff=0.0)
    msg = str(err.value)
    assert f"the archived copy {path} is corrupt ({size - 100:,} bytes, the catalog says {size:,})" in msg
    assert f"icemonitor fetch {RID} --verify" in msg and "network disabled" in msg


KILLED_BUILD = """
import os, signal, sys
from pathlib import Path
from icemonitor.warehouse.build import build
from icemonitor.warehouse.sources import catalog_sources

home = Path(sys.argv[1])

def die(name, done, total):  # the first file is read; the temporary warehouse is open: killed here
    os.kill(os.getpid(), signal.SIGKILL)

build(catalog_sources([sys.argv[2]], home=home), home / "warehouse.duckdb", progress=die, cache_dir=home / "cache")
"""


def test_a_killed_builds_files_are_removed_at_the_next_start(tmp_path):
    home = tmp_path / "home"
    archived(home)
    (home / "cache" / f"abc.tmp-{2**22 + 7}-1").mkdir(parents=True)  # a parse-cache folder of a dead process
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", KILLED_BUILD, str(home), RID], env=env, capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()[-500:]
    left = sorted(p.name for p in home.glob(".warehouse.duckdb.building-*"))
    assert left, "the killed build should have left its temporary warehouse"
    (home / f".warehouse.duckdb.building-{os.getppid()}").write_bytes(b"a live process's build")  # not touched
    report = build(catalog_sources([RID], home=home), home / "warehouse.duckdb", cache_dir=home / "cache")
    assert report.rows["detainers"] == 22
    assert sorted(p.name for p in home.glob(".warehouse.duckdb.building-*")) == [
        f".warehouse.duckdb.building-{os.getppid()}"]
    assert not any(p.name.startswith("abc.tmp-") for p in (home / "cache").iterdir())
