"""The writer lease: one writer at a time across hosts, kept in the meta collection of a Milvus server.

Milvus has no transaction and no conditional write, but every write gets a timestamp from one
oracle for the whole server or cluster (its root coordinator's TSO: physical milliseconds << 18
plus a counter), and a read with a guarantee timestamp T sees every write stamped at or before T.
A writer therefore queues like a customer of Lamport's bakery, with the server's timestamp as its
ticket:

1. it inserts a claim row (a random id ≥ 2 in ``rag_meta_<slug>``) and learns the timestamp of that
   insert (pymilvus keeps the last write's), its **ticket**, which it then writes into the claim;
2. it reads every claim at a guarantee after its ticket: every claim inserted before its own is
   there. It holds the lease when no live claim has a smaller ticket; a claim whose ticket is not
   written yet may be older, so it waits for that one too (for at most the lease's length);
3. while it waits or holds, a thread renews its claim every third of ``lease_s``, writing the
   timestamp of its previous renewal: a claim not renewed for ``lease_s`` by the server's clock
   belongs to a dead writer and is deleted by the next one, so no host's clock is trusted;
4. it deletes its claim when it is done.

A claim also names the file lock its writer holds on its host (``home``): a writer that finds a
claim of its own host and lock file holds that lock itself, so the claim's writer is dead (killed
mid-write): it is deleted at once, without waiting for it to expire.

A holder that cannot renew (a frozen process, a lost connection) for two thirds of ``lease_s``
stops writing (``ConcurrentWriteError``) before the others may take over, and a commit checks at
its commit point that its claim is still there and that the state row is still the generation it
started from (``verify``). What no protocol on Milvus can exclude is a holder frozen for
``lease_s`` between that check and the upsert that follows it (milliseconds): storage that offers
no conditional write cannot fence a writer. Lite is one process per file: its file lock suffices.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

from rag.errors import ConcurrentWriteError, IndexBusyError, StoreUnavailableError
from rag.store.milvus.client import WRITE_TIMEOUT_S, Milvus
from rag.store.milvus.schema import DUMMY, STATE_ID

FIRST_CLAIM = 2  # ids 0 and 1 are the state and fence rows
POLL_S = 0.1
log = logging.getLogger(__name__)


def _machine() -> str:
    """This machine: its host name and, where there is one, its machine id (host names may repeat)."""
    machine_id = Path("/etc/machine-id")
    return socket.gethostname() + (f" {machine_id.read_text().strip()}" if machine_id.is_file() else "")


def _milliseconds(ts: int) -> int:
    """The physical part of a Milvus hybrid timestamp."""
    return ts >> 18


class Lease:
    """One claim of one writer (see the module's docstring): ``acquire``, ``verify``, ``release``."""

    def __init__(self, milvus: Milvus, meta: str, lease_s: float, what: str, lock: Path) -> None:
        """``lock``: the file lock this writer holds on its host while it claims the lease."""
        self.milvus, self.meta, self.lease_s, self.what = milvus, meta, lease_s, what
        self.id = random.randrange(FIRST_CLAIM, 2**62)
        self.holder = f"{socket.gethostname()} pid {os.getpid()}"
        self.home = f"{_machine()} {lock.resolve()}"
        self.ticket = 0
        self._renewed_at = 0.0  # time.monotonic() of the last renewal that succeeded
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _write(self, ticket: int, renewed: int) -> int:
        claim = {"ticket": str(ticket), "renewed": str(renewed), "holder": self.holder, "home": self.home}
        row = {"id": self.id, "state": {"claim": claim}, "dummy": DUMMY}
        self.milvus.call("claim the writer lease", self.milvus.client.upsert, self.meta, [row], timeout=WRITE_TIMEOUT_S)
        self._renewed_at = time.monotonic()
        return self.milvus.last_write_ts(self.meta)

    def acquire(self, wait_s: float) -> None:
        """Queue for the lease; ``IndexBusyError`` when another writer keeps it past ``wait_s``."""
        started = time.monotonic()
        self.ticket = self._write(0, 0)
        self._write(self.ticket, self.ticket)
        self._thread = threading.Thread(target=self._renew, name=f"lease {self.meta}", daemon=True)
        self._thread.start()
        unticketed: dict[int, float] = {}  # claim id → when first seen without a ticket
        try:
            while True:
                ahead = self._ahead(unticketed)
                if not ahead:
                    return
                if time.monotonic() - started > wait_s:
                    raise IndexBusyError(f"another writer ({ahead[0]}) is changing {self.what} (waited {wait_s:.0f} s for it); "
                                         "try again when it is done")  # fmt: skip
                time.sleep(POLL_S)
        except BaseException:
            self.release()
            raise

    def _claims(self) -> list[dict[str, Any]]:
        reads = {"consistency_level": "Customized", "guarantee_timestamp": self.milvus.last_write_ts(self.meta)}
        return self.milvus.call("read the writer lease", self.milvus.client.query, self.meta, filter=f"id >= {FIRST_CLAIM}",
                                output_fields=["id", "state"], **reads)  # fmt: skip

    def _ahead(self, unticketed: dict[int, float]) -> list[str]:
        """The holders of the live claims before ours; dead claims are deleted on the way."""
        now = _milliseconds(self.milvus.last_write_ts(self.meta))
        ahead, dead = [], []
        for row in self._claims():
            claim = row["state"].get("claim", {})
            ticket, renewed = int(claim.get("ticket", 0)), int(claim.get("renewed", 0))
            if row["id"] == self.id:
                continue
            if claim.get("home") == self.home:  # we hold its writer's file lock: it died holding the lease
                dead.append(row)
            elif not ticket:  # its ticket is being written: it may be older than ours
                first = unticketed.setdefault(row["id"], time.monotonic())
                (dead if time.monotonic() - first > self.lease_s else ahead).append(row)
            elif now - _milliseconds(renewed) > 1000 * self.lease_s * 4 / 3:  # a renewal is due every third: a dead writer's
                dead.append(row)
            elif (ticket, row["id"]) < (self.ticket, self.id):
                ahead.append(row)
        if dead:
            log.warning("%s: removing the writer lease claims of %s (dead writers)", self.what,
                        ", ".join(str(r["state"].get("claim", {}).get("holder")) for r in dead))  # fmt: skip
            self.milvus.call("remove dead claims", self.milvus.client.delete, self.meta, ids=[r["id"] for r in dead], timeout=WRITE_TIMEOUT_S)
        return [str(row["state"]["claim"].get("holder", "unknown")) for row in ahead]

    def _renew(self) -> None:
        previous = self.ticket
        while not self._stop.wait(self.lease_s / 3):
            try:
                previous = self._write(self.ticket, previous)
            except StoreUnavailableError as error:  # the next renewal tries again; check() stops the writer meanwhile
                log.warning("%s: could not renew the writer lease (%s)", self.what, error)

    def check(self) -> None:
        """Refuse to write on when the lease may have passed to another writer."""
        silent = time.monotonic() - self._renewed_at
        if silent > self.lease_s * 2 / 3:
            raise ConcurrentWriteError(f"the writer lease on {self.what} was not renewed for {silent:.0f} s: another writer may have "
                                       "taken over; nothing was published, try again")  # fmt: skip

    def verify(self, generation: int, instance: str | None) -> None:
        """At the commit point: the claim still ours and the state row still ``generation`` (the
        compare of a compare-and-set the upsert that follows completes)."""
        self.check()
        reads = {"consistency_level": "Customized", "guarantee_timestamp": self.milvus.last_write_ts(self.meta)}
        rows = self.milvus.call("read the index state", self.milvus.client.get, self.meta, ids=[STATE_ID, self.id],
                                output_fields=["state"], **reads)  # fmt: skip
        found = {int(row["id"]): row["state"] for row in rows}
        state = found.get(STATE_ID, {})
        now = (int(state.get("generation", 0)), state.get("instance")) if state else (0, None)
        if self.id not in found or now != (generation, instance):
            raise ConcurrentWriteError(f"{self.what} was changed by another writer (generation {now[0]}, this change was made "
                                       f"on {generation}); nothing was published, try again")  # fmt: skip

    def release(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        try:
            self.milvus.call("release the writer lease", self.milvus.client.delete, self.meta, ids=[self.id], timeout=WRITE_TIMEOUT_S)
        except StoreUnavailableError as error:  # it expires by itself
            log.warning("%s: could not release the writer lease (%s); it expires in %.0f s", self.what, error, self.lease_s)
