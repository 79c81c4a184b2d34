"""The local media store: per-process incoming folders swept after a crash (a real ``kill -9``), deletions that fail
on a store that cannot be written, and storage errors as problems (a real full device)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from reference_impl.media_store.local import LocalMediaStore
from voxcontract.errors import InsufficientStorage, ServiceUnavailable
from voxcontract.storage import storage_errors

_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from reference_impl.media_store.local import LocalMediaStore

    store = LocalMediaStore(Path(sys.argv[1]))
    partial = store.new_incoming()
    partial.write_bytes(b"half an upload")
    print(partial, flush=True)
    time.sleep(600)
    """
)


@contextlib.contextmanager
def unwritable(folder: Path) -> Iterator[None]:
    """Make ``folder`` refuse new and deleted entries, for root too (``chattr +i``; ``chmod`` for other users)."""
    if os.geteuid() == 0:
        subprocess.run(["chattr", "+i", str(folder)], check=True)
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)


def test_a_partial_upload_of_a_killed_process_is_swept_and_a_living_ones_is_not(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert writer.stdout is not None
        partial = Path(writer.stdout.readline().strip())
        assert partial.is_file()
        survivor = LocalMediaStore(tmp_path)
        assert survivor.sweep_incoming() == 0
        assert partial.is_file(), "an upload in progress in another process was swept"
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        assert survivor.sweep_incoming() == 1
        assert not partial.exists()
        assert not partial.parent.exists()
    finally:
        writer.kill()
        writer.wait(timeout=30)


def test_the_sweep_leaves_this_processs_own_uploads_alone(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    mine = store.new_incoming()
    mine.write_bytes(b"in progress")
    other = LocalMediaStore(tmp_path)  # another deployment of this process: a lock of its own
    assert other.sweep_incoming() == 0
    assert store.sweep_incoming() == 0
    assert mine.is_file()
    store.close()
    assert not mine.exists()


def test_removing_media_from_an_unwritable_store_raises_and_keeps_the_file(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    media = tmp_path / "kept.wav"
    media.write_bytes(b"media")
    with unwritable(tmp_path), pytest.raises(ServiceUnavailable) as caught:
        store.remove(str(media))
    assert (caught.value.status, caught.value.code) == (503, "service_unavailable")
    assert caught.value.headers["Retry-After"].isdigit()
    assert media.is_file()
    store.remove(str(media))
    assert not media.exists()


def test_an_unwritable_store_refuses_new_uploads_as_unavailable(tmp_path: Path) -> None:
    store = LocalMediaStore(tmp_path)
    with unwritable(store.incoming), pytest.raises(ServiceUnavailable):
        store.new_incoming()


def _fill_the_full_device() -> None:
    with storage_errors("nothing was kept"), open("/dev/full", "wb") as full:
        full.write(b"x" * 65536)
        full.flush()


def test_a_full_device_is_insufficient_storage() -> None:
    with pytest.raises(InsufficientStorage) as caught:
        _fill_the_full_device()
    assert (caught.value.status, caught.value.code) == (507, "insufficient_storage")
    assert "nothing was kept" in caught.value.detail
