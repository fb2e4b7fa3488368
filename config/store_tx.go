package config

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// casScript is the one script every configuration write runs: compare, then set. It gets
// a list of checks (each the value a key or hash field held when the write read it) and
// a list of operations. If any check fails it writes nothing and answers {0, n} (the
// write reads again and starts over); otherwise it applies every operation in order and
// answers {1, rev}. Every key it touches is a KEYS argument under the {P} hash tag, so
// the script runs on one Cluster slot. It reads no clock and no randomness: replaying it
// (the embedded store's journal, replicas) gives the same result.
//
// ARGV: nchecks, then per check: kind, key index, field, expected value ("" = absent);
// then nops, then per op: name, key index, a, b.
var casScript = redis.NewScript(`
local i = 2
for c = 1, tonumber(ARGV[1]) do
  local kind, key, f, want = ARGV[i], KEYS[tonumber(ARGV[i+1])], ARGV[i+2], ARGV[i+3]
  i = i + 4
  local got
  if kind == 'get' then got = redis.call('GET', key)
  elseif kind == 'hget' then got = redis.call('HGET', key, f)
  elseif kind == 'exists' then got = tostring(redis.call('EXISTS', key))
  elseif kind == 'hexists' then got = tostring(redis.call('HEXISTS', key, f))
  elseif kind == 'zcard' then got = tostring(redis.call('ZCARD', key))
  elseif kind == 'scard' then got = tostring(redis.call('SCARD', key))
  else return redis.error_reply('sophia cas: unknown check ' .. kind) end
  if not got then got = '' end
  if got ~= want then return {0, c} end
end
local rev = 0
local nops = tonumber(ARGV[i])
i = i + 1
for o = 1, nops do
  local op, key, a, b = ARGV[i], KEYS[tonumber(ARGV[i+1])], ARGV[i+2], ARGV[i+3]
  i = i + 4
  if op == 'set' then redis.call('SET', key, a)
  elseif op == 'setnx' then redis.call('SET', key, a, 'NX')
  elseif op == 'del' then redis.call('DEL', key)
  elseif op == 'hset' then redis.call('HSET', key, a, b)
  elseif op == 'hdel' then redis.call('HDEL', key, a)
  elseif op == 'zadd' then redis.call('ZADD', key, 0, a)
  elseif op == 'zrem' then redis.call('ZREM', key, a)
  elseif op == 'sadd' then redis.call('SADD', key, a)
  elseif op == 'srem' then redis.call('SREM', key, a)
  elseif op == 'incr' then rev = redis.call('INCR', key)
  elseif op == 'audit' then
    redis.call('LPUSH', key, a)
    redis.call('LTRIM', key, 0, tonumber(b) - 1)
  elseif op == 'publish' then redis.call('PUBLISH', a, b .. ',"rev":' .. rev .. '}')
  else return redis.error_reply('sophia cas: unknown op ' .. op) end
end
return {1, rev}
`)

// errStale is a write whose checks failed: what it read changed before it ran.
var errStale = errors.New("stale read")

// tx builds one casScript call.
type tx struct {
	keys    []string
	kidx    map[string]int
	checks  []any
	ops     []any
	nchecks int
	nops    int
	changes []Change // published, in order, after rev is bumped
}

func newTx() *tx { return &tx{kidx: map[string]int{}} }

func (t *tx) key(k string) string {
	i, ok := t.kidx[k]
	if !ok {
		t.keys = append(t.keys, k)
		i = len(t.keys)
		t.kidx[k] = i
	}
	return strconv.Itoa(i)
}

// check adds a precondition: kind is get, hget, exists, hexists, zcard or scard.
func (t *tx) check(kind, key, field, want string) {
	t.checks = append(t.checks, kind, t.key(key), field, want)
	t.nchecks++
}

func (t *tx) op(name, key, a, b string) {
	k := "0"
	if key != "" {
		k = t.key(key)
	}
	t.ops = append(t.ops, name, k, a, b)
	t.nops++
}

// record appends the write's audit entry for (kind, id) and queues its Change.
func (s *Store) record(t *tx, kind, id, actor, op string, version int64, changes []FieldChange) {
	entry := AuditEntry{At: s.now().UTC(), Actor: actor, Op: op, Version: version, Changes: changes}
	if entry.Changes == nil {
		entry.Changes = []FieldChange{}
	}
	data, err := json.Marshal(entry)
	if err != nil {
		panic(fmt.Sprintf("marshal audit entry: %v", err)) // only plain data: cannot fail
	}
	t.op("audit", s.keys.Audit(kind, id), string(data), strconv.Itoa(s.auditLimit))
	t.changes = append(t.changes, Change{Kind: kind, ID: id, Version: version, Op: op})
}

// run executes t: bumps {P}:rev, publishes every queued Change, and returns the new
// revision, or errStale when a check failed.
func (s *Store) run(ctx context.Context, t *tx) (int64, error) {
	t.op("incr", s.keys.Rev(), "", "")
	// A data set written into for the first time (a new or wiped Redis) gets a new name.
	t.op("setnx", s.keys.Epoch(), fmt.Sprintf("%016x%016x", rand.Uint64(), rand.Uint64()), "")
	for _, c := range t.changes {
		msg, err := json.Marshal(c)
		if err != nil {
			return 0, fmt.Errorf("marshal change: %w", err)
		}
		// The script closes the object after adding "rev" (known only once bumped).
		t.op("publish", "", s.keys.Changes(), string(msg[:len(msg)-1]))
	}
	args := make([]any, 0, 2+len(t.checks)+len(t.ops))
	args = append(args, t.nchecks)
	args = append(args, t.checks...)
	args = append(args, t.nops)
	args = append(args, t.ops...)
	res, err := casScript.Run(ctx, s.rdb, t.keys, args...).Int64Slice()
	if err != nil {
		return 0, fmt.Errorf("redis write: %w", err)
	}
	if len(res) != 2 {
		return 0, fmt.Errorf("redis write: unexpected answer %v", res)
	}
	if res[0] == 0 {
		return 0, errStale
	}
	return res[1], nil
}

// verify runs t's checks only, writing nothing: errStale if one fails.
func (s *Store) verify(ctx context.Context, t *tx) error {
	args := make([]any, 0, 2+len(t.checks))
	args = append(args, t.nchecks)
	args = append(args, t.checks...)
	args = append(args, 0)
	res, err := casScript.Run(ctx, s.rdb, t.keys, args...).Int64Slice()
	if err != nil {
		return fmt.Errorf("redis check: %w", err)
	}
	if len(res) != 2 || res[0] == 0 {
		return errStale
	}
	return nil
}

// Change is published on P:changes (JSON) after every configuration write.
type Change struct {
	Kind    string `json:"kind"` // user, site, media, token
	ID      string `json:"id"`
	Version int64  `json:"version,omitempty"` // the object's version after the write (0: deleted)
	Op      string `json:"op"`                // create, update, delete, pin
	Rev     int64  `json:"rev"`               // {P}:rev after the write
}

// Change kinds and operations.
const (
	KindUser  = "user"
	KindSite  = "site"
	KindMedia = "media"
	KindToken = "token"

	OpCreate = "create"
	OpUpdate = "update"
	OpDelete = "delete"
	OpPIN    = "pin changed"
)
