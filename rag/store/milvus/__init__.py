"""The Milvus store: a collection's index in Milvus Lite (a ``.db`` path, inside this process) or in a
Milvus server or cluster (``http(s)://host:port``), behind the same ``Store`` interface as local files.
Facts it relies on were measured on Lite 3.2.2 and the 2.3.5 server (eval/milvus/notes.md, cited §n).

**Collections** of the rag collection ``<slug>`` (escaped injectively: ``_`` → ``__``, ``-`` → ``_h``)::

    rag_meta_<slug>            the state row (the commit point) and the fence row; never replaced
    rag_chunks_<n>_<slug>      id, document key, offsets, token count, sentence ids, term counts, the
                               dense vector and, where sparse vectors exist, a BM25 sparse vector
    rag_sentences_<n>_<slug>   id, document key, offsets, chunk ids, the dense vector
    rag_aux_<n>_<slug>         documents (manifest entry, checksums, names), their full texts in parts
                               of ≤ 60,000 bytes, and one row per term with its document frequency

Every collection needs a vector field (2.5 refuses one without, 2.3 cannot load it, §3), so the
aux and meta collections carry a dummy 2-d vector. The state row names the tables in use: a
rebuild (new model, settings or code) writes new ones (a higher ``<n>``), and so does a table in use
that grows past ``exact_max`` (its rows are copied into one with an approximate index); the state row
switches to them at the commit point and the old ones are dropped after it.

**Commit protocol** (one writer at a time: under the file lock in ``index/<slug>/`` and, on a
server, the writer lease kept in the meta collection, ``lease``, so writers on other hosts wait too):

1. clean up: rows of a dead write (document keys at or above the state's ``next_dkey``; term rows
   of a later generation are reverted), rows of the documents the last commit removed, and tables
   the state does not name. A delete by expression waits until it sees every row (measured on
   2.3: 1,000 rows inserted by another connection just before were all deleted, 5 of 5 trials).
   Then the fence row is set to the new generation: a write is under way (``has_leftovers``);
2. insert the added documents' pieces under new document keys. Searches and scans filter with
   ``dkey < next_dkey and dkey not in removed``, reads by key check the document key against the
   snapshot's documents, so rows of an unfinished write are never seen;
3. update the df of each touched term. A term row keeps its previous df and that value's
   generation too, so a reader of the previous generation still finds its own df;
4. flush where needed (``FLUSH_CHUNKS``), switch or move the indexes of tables past ``exact_max``,
   upsert the fence row again and keep its timestamp;
5. **the commit point**: on a server, the lease still held and the state row still the generation
   the change started from (else ``ConcurrentWriteError``, nothing published); then one upsert of
   the state row: generation + 1, tables, next ids, counts, total length, the keys it removed, the
   fence's timestamp.

A crash before 5 leaves the old state (step 1 of the next writer removes what was written); after
5, the change is whole. Removed documents' rows stay until the next commit deletes them, hidden by
the state's ``removed`` keys meanwhile, so a reader still on the previous generation keeps them.

**Consistency.** ``refresh()`` reads the state row at Session level: one query (≈ 3 ms), which sees
this process's commits at once and another process's within ~0.1–0.4 s (§5). Every read of a
snapshot then passes the snapshot's fence timestamp as its guarantee (Customized level): the server
answers once it has applied every write of that commit — at most one time tick (≈ 200 ms) right
after a commit, immediately afterwards. Strong would wait for the next tick on every read (≈ 200 ms
a search on 2.3, §5); Bounded could miss the commit's rows and, on 2.3, Session misses own deletes.
Lite sees every write at once and returns no timestamps; its reads are Strong, which costs nothing
there.

**Capabilities** are read once (``get_server_version``, §7). On Lite and servers ≥ 2.4 chunks carry
a SPARSE_FLOAT_VECTOR: the document side holds BM25 term weights ``tf / (tf + k1·(1 − b + b·dl/avgdl))``
(avgdl as it was when written), the query side IDF × occurrences; it finds the lexical candidates.
2.3 has no sparse vectors and one vector field per collection: there a collection of at most
``Settings.lexical_scan_max`` chunks keeps every chunk's term counts in memory (read once; rows never
change) for exact BM25, and a larger one re-ranks the dense candidates, whose term counts come with
the chunk search (``MilvusView.lexical_recall`` says which); a server upgraded past 2.3 keeps doing
so until a rebuild gives its chunks sparse vectors. Either way the scores returned are exact:
candidates are re-scored by ``rag.bm25`` from their stored term counts with the current chunk count,
average length and df, so they equal the local store's.

**Indexes.** Dense vectors are searched exactly (FLAT) up to ``Settings.vectors.exact_max`` rows a
table, and beyond through an inverted file with the local store's lists and probes (4·√N lists;
nprobe 128 by default, passed with each search), which kept recall@10 at 0.973 at 100k and 0.965 at 1M with FAISS where HNSW32 with
ef 128 had 0.92 and 0.70 (eval/reports/bench.md). IVF_FLAT rather than the local store's SQ8: the
cosines it returns are exact, so fusion sees the same scores as with FLAT; a server holds the raw
vectors in memory anyway. On a server, sentence tables beyond ``exact_max`` are HNSW graphs instead
(``ef`` per search): their IVF search was a question's slowest call (121 ms over 550k sentences).
Measured in Milvus: eval/milvus/notes.md §11–12.

**A question's round trips** (``rag.retrieve.rank``): the term statistics, the chunk search (the
question's vector and its base vector in one request) and the sentence search at once; then BM25;
then the shortlist's sentences and texts at once.

**Modules**: ``client`` (the location, names and a bounded client), ``schema`` (fields and vector
indexes), ``state`` (the state row and the consistency of reads), ``rows`` (aux rows and caches),
``view`` (``MilvusView``), ``expression`` (a question's filter as expressions on the document keys),
``writer`` (batched inserts, term statistics), ``tables`` (creating, copying, cleaning collections),
``lease`` (one writer across hosts) and ``store`` (``MilvusStore``: the commit protocol).
"""

from rag.store.milvus.client import Location, parse_location
from rag.store.milvus.store import MilvusStore

__all__ = ["Location", "MilvusStore", "parse_location"]
