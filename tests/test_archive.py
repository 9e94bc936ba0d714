"""The archive reader (fastdos.archive): metadata, batched SQLite rows, object keys and streams."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from fastdos.archive import ArchiveError, ArchiveReader

SAMPLE = Path(__file__).resolve().parent / "data" / "archives" / "sample.aiida"


def test_reader_streams_the_sample() -> None:
    with ArchiveReader(SAMPLE) as reader:
        assert reader.metadata["export_version"] == "main_0001"
        assert reader.count("db_dbnode") == 375
        batches = list(reader.batches("nodes", 100))
        assert [len(b) for b in batches] == [100, 100, 100, 75]
        assert [r[0] for b in batches for r in b] == sorted(r[0] for b in batches for r in b)
        keys = list(reader.object_keys())
        assert len(keys) == len(set(keys)) == reader.object_key_count() == 100
        for key in keys[:10]:
            assert reader.has_object(key)
            with reader.open_object(key) as handle:
                assert hashlib.sha256(handle.read()).hexdigest() == key
        assert not reader.has_object("0" * 64)
        tmp = reader._tmp
        assert tmp is not None and Path(tmp.name).exists()
    assert not Path(tmp.name).exists()  # the temporary copy of db.sqlite3 is removed
    with pytest.raises(ArchiveError, match="closed"):
        reader.count("db_dbnode")
