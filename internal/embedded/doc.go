// Package embedded runs sophia's default store: a Redis-protocol server inside the
// process (github.com/alicebob/miniredis/v2), reached through an ordinary go-redis client
// over in-memory pipes, so the store code has one path for embedded and real Redis, Lua
// and MULTI/WATCH included.
//
// It makes that server durable in a data directory:
//
//   - journal.<gen>: every command that changes data, appended and fsynced before the
//     client call that issued it returns (a go-redis hook; concurrent writers share one
//     fsync, "group commit"). Writes are serialized in the process so that the journal
//     order is the order they ran in. A MULTI/EXEC is one record, replayed whole or not
//     at all; EVALSHA is journaled as EVAL with the script's body.
//   - snapshot: the whole data set, written to a temporary file, fsynced, renamed over
//     the previous one (and the directory fsynced), when the journal grows past a bound
//     and on Close. The snapshot names the journal generation that follows it.
//
// On Open, the snapshot is loaded and its journal replayed; a torn last record (a crash
// while appending, so never acknowledged) is cut off. A write acknowledged to a caller
// therefore survives kill -9. A journal per write costs one small fsync (≈0.35 ms on the
// reference VM) where a full snapshot per write costs ≈40 ms per 10 MiB of data.
//
// Limits: one database (SELECT, MOVE and SWAPDB are refused). A relative TTL replayed from
// the journal restarts from the replay time (only runtime state uses TTLs). What a
// command does must not depend on the clock or randomness beyond what it is given.
// A lock file keeps two processes from opening one directory.
package embedded
