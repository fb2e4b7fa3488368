package embedded

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"
)

func open(t *testing.T, dir string, opts ...func(*Options)) *Store {
	t.Helper()
	o := Options{Dir: dir}
	for _, f := range opts {
		f(&o)
	}
	s, err := Open(o)
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return s
}

// crash drops s as kill -9 would: no snapshot, files closed as they are.
func crash(s *Store) {
	s.mu.Lock()
	s.closed = true
	s.journal.Close()
	s.mu.Unlock()
	s.client.Close()
	s.m.Close()
	s.lock.Close()
}

// state reads every key of s as the snapshot would write it, for comparing.
func state(t *testing.T, s *Store) map[string]snapKey {
	t.Helper()
	out := map[string]snapKey{}
	now := time.Now()
	for _, k := range s.m.Keys() {
		e, err := dumpKey(s.m, k, now)
		if err != nil {
			t.Fatal(err)
		}
		e.Expiry = 0 // compared separately
		sort.Slice(e.Hash, func(i, j int) bool { return string(e.Hash[i].Field) < string(e.Hash[j].Field) })
		sort.Slice(e.Set, func(i, j int) bool { return string(e.Set[i]) < string(e.Set[j]) })
		sort.Slice(e.ZSet, func(i, j int) bool { return string(e.ZSet[i].Member) < string(e.ZSet[j].Member) })
		out[k] = e
	}
	return out
}

var moveScript = redis.NewScript(`
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return redis.error_reply('no such number') end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[1], ARGV[2], v)
redis.call('INCR', KEYS[2])
return cjson.encode({moved = ARGV[1]})
`)

// writeEverything exercises each kind of write the config store uses.
func writeEverything(t *testing.T, c redis.UniversalClient) {
	t.Helper()
	ctx := context.Background()
	wav := []byte("RIFF\x00\x01\xff\xfe binary \r\n\x00")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(c.Set(ctx, "{p}:media:beep", wav, 0).Err())
	must(c.HSet(ctx, "{p}:numbers", "+33478000001", "alice", "+33478000002", "bob").Err())
	must(c.ZAdd(ctx, "{p}:users", redis.Z{Member: "alice"}, redis.Z{Member: "bob"}, redis.Z{Score: 1.5, Member: "carol"}).Err())
	must(c.SAdd(ctx, "{p}:media-users:beep", "alice", "bob").Err())
	must(c.LPush(ctx, "{p}:audit:user:alice", "e1", "e2", "e3").Err())
	must(c.LTrim(ctx, "{p}:audit:user:alice", 0, 1).Err())
	must(c.Set(ctx, "p:rt:{alice}:device", "online", time.Hour).Err())
	must(c.Incr(ctx, "{p}:rev").Err())
	// A script twice: EVAL first (NOSCRIPT fallback), then EVALSHA.
	if _, err := moveScript.Run(ctx, c, []string{"{p}:numbers", "{p}:rev"}, "+33478000002", "+33478000003").Result(); err != nil {
		t.Fatalf("script: %v", err)
	}
	if _, err := moveScript.Run(ctx, c, []string{"{p}:numbers", "{p}:rev"}, "+33478000003", "+33478000004").Result(); err != nil {
		t.Fatalf("script again: %v", err)
	}
	// A script that fails changes nothing, and replays the same.
	if err := moveScript.Run(ctx, c, []string{"{p}:numbers", "{p}:rev"}, "+00", "+01").Err(); err == nil {
		t.Fatal("script on a missing number: no error")
	}
	// WATCH + MULTI/EXEC, committed.
	must(c.Watch(ctx, func(tx *redis.Tx) error {
		v, err := tx.Get(ctx, "{p}:rev").Int()
		if err != nil {
			return err
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "{p}:user:alice", fmt.Sprintf(`{"id":"alice","version":%d}`, v), 0)
			p.ZAdd(ctx, "{p}:site-users:default", redis.Z{Member: "alice"})
			return nil
		})
		return err
	}, "{p}:rev"))
	// A plain pipeline.
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HSet(ctx, "{p}:tokens", "t1", `{"name":"admin"}`)
		p.Get(ctx, "{p}:rev")
		p.Del(ctx, "{p}:gone")
		return nil
	})
	must(err)
}

func TestRestartKeepsEveryWrite(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(*Store) error
	}{
		{"close", func(s *Store) error { return s.Close() }},
		{"crash", func(s *Store) error { crash(s); return nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir)
			writeEverything(t, s.Client())
			if s.gen != 0 {
				t.Error("a write fell back to a snapshot: the journal should hold every one")
			}
			want := state(t, s)
			if err := tc.stop(s); err != nil {
				t.Fatalf("stop: %v", err)
			}
			s = open(t, dir)
			defer s.Close()
			if got := state(t, s); !reflect.DeepEqual(got, want) {
				t.Errorf("after restart:\n got %+v\nwant %+v", got, want)
			}
			if ttl := s.m.TTL("p:rt:{alice}:device"); ttl <= 59*time.Minute || ttl > time.Hour {
				t.Errorf("TTL after restart = %v, want about 1h", ttl)
			}
			v, err := s.Client().Get(context.Background(), "{p}:rev").Int()
			if err != nil || v != 3 {
				t.Errorf("rev = %d, %v; want 3 (one INCR, two scripts)", v, err)
			}
		})
	}
}

// TestUnknownScriptFallsBackToSnapshot: an EVALSHA of a script the hook never saw (loaded
// around it) cannot be journaled as an EVAL; its write is made durable by a snapshot.
func TestUnknownScriptFallsBackToSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	raw := redis.NewClient(&redis.Options{Dialer: func(context.Context, string, string) (net.Conn, error) { return s.m.Dial() }})
	defer raw.Close()
	sc := redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1]) return 1`)
	if err := sc.Load(ctx, raw).Err(); err != nil {
		t.Fatal(err)
	}
	if err := sc.EvalSha(ctx, s.Client(), []string{"k"}, "v").Err(); err != nil {
		t.Fatal(err)
	}
	if s.gen == 0 {
		t.Error("no snapshot for an unjournaled write")
	}
	crash(s)
	s = open(t, dir)
	defer s.Close()
	if v, _ := s.m.Get("k"); v != "v" {
		t.Errorf("k = %q after a crash, want v", v)
	}
}

func TestFailedWatchIsNotJournaled(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	c := s.Client()
	c.Set(ctx, "k", "1", 0)
	err := c.Watch(ctx, func(tx *redis.Tx) error {
		c.Set(ctx, "k", "2", 0) // another writer, between WATCH and EXEC
		_, err := tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Set(ctx, "k", "lost", 0)
			p.Set(ctx, "other", "lost", 0)
			return nil
		})
		return err
	}, "k")
	if !errors.Is(err, redis.TxFailedErr) {
		t.Fatalf("Watch: %v, want TxFailedErr", err)
	}
	crash(s)
	s = open(t, dir)
	defer s.Close()
	if v, _ := s.Client().Get(ctx, "k").Result(); v != "2" {
		t.Errorf("k = %q, want 2", v)
	}
	if s.m.Exists("other") {
		t.Error("a transaction that did not run was replayed")
	}
}

func TestTornTailIsCut(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	for i := range 10 {
		s.Client().Set(ctx, fmt.Sprint("k", i), i, 0)
	}
	jpath := s.journalPath(s.gen)
	crash(s)
	// A record being appended when the process died: header and half a payload.
	whole := record{cmds: [][][]byte{{[]byte("set"), []byte("torn"), []byte("x")}}}.encode()
	f, err := os.OpenFile(jpath, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(whole[:len(whole)-3])
	f.Close()

	s = open(t, dir)
	if s.m.Exists("torn") {
		t.Error("torn record applied")
	}
	for i := range 10 {
		if v, _ := s.m.Get(fmt.Sprint("k", i)); v != fmt.Sprint(i) {
			t.Errorf("k%d = %q, want %d", i, v, i)
		}
	}
	// Writes after the cut land after the good records and survive another crash.
	s.Client().Set(ctx, "after", "yes", 0)
	crash(s)
	s = open(t, dir)
	defer s.Close()
	if v, _ := s.m.Get("after"); v != "yes" {
		t.Errorf("after = %q, want yes", v)
	}
}

func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, func(o *Options) { o.CompactBytes = 4 << 10 })
	ctx := context.Background()
	for i := range 500 {
		if err := s.Client().HSet(ctx, "h", fmt.Sprint("f", i), strings.Repeat("v", 20)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if s.gen == 0 {
		t.Fatal("no snapshot after 500 writes past the compaction bound")
	}
	journals, _ := filepath.Glob(filepath.Join(dir, "journal.*"))
	if len(journals) != 1 {
		t.Errorf("journals = %v, want one", journals)
	}
	crash(s)
	s = open(t, dir)
	defer s.Close()
	if n, _ := s.Client().HLen(ctx, "h").Result(); n != 500 {
		t.Errorf("HLEN = %d, want 500", n)
	}
}

func TestConcurrentWritersReplayInOrder(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := context.Background()
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 50 {
				s.Client().Incr(ctx, "n")
				// Same key, last write wins: the journal must hold them in run order.
				s.Client().Set(ctx, "last", fmt.Sprint(w, "-", i), 0)
			}
		})
	}
	wg.Wait()
	want := state(t, s)
	crash(s)
	s = open(t, dir)
	defer s.Close()
	if got := state(t, s); !reflect.DeepEqual(got, want) {
		t.Errorf("after restart:\n got %+v\nwant %+v", got, want)
	}
	if v, _ := s.m.Get("n"); v != "400" {
		t.Errorf("n = %s, want 400", v)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := open(t, t.TempDir(), func(o *Options) { o.Registerer = reg })
	defer s.Close()
	ctx := context.Background()
	for i := range 5 {
		s.Client().Set(ctx, fmt.Sprint("k", i), "v", 0)
	}
	s.Client().Get(ctx, "k1") // a read: not journaled
	if got := testutil.ToFloat64(s.metrics.records); got != 5 {
		t.Errorf("journal records = %v, want 5", got)
	}
	if got := testutil.ToFloat64(s.metrics.journalBytes); got != float64(s.written.Load()) || got == 0 {
		t.Errorf("journal bytes = %v, want %d", got, s.written.Load())
	}
	if n := testutil.CollectAndCount(s.metrics.syncSeconds); n != 1 {
		t.Errorf("sync histogram: %d series", n)
	}
	if err := s.Snapshot(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(s.metrics.snapshots.WithLabelValues("ok")); got != 1 {
		t.Errorf("snapshots ok = %v", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
}

func TestDirectoryIsLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	if _, err := Open(Options{Dir: dir}); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Errorf("second Open: %v, want an in-use error", err)
	}
}

func TestRefusesOtherDatabases(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	if err := s.Client().Do(context.Background(), "SELECT", 1).Err(); err == nil {
		t.Error("SELECT 1 accepted")
	}
}

func TestDamagedSnapshotIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	s.Client().Set(context.Background(), "a", "b", 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "snapshot")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)-5], 0o600)
	if _, err := Open(Options{Dir: dir}); err == nil {
		t.Error("Open accepted a truncated snapshot")
	}
}

func TestWriteAfterCloseFails(t *testing.T) {
	s := open(t, t.TempDir())
	s.Close()
	if err := s.Client().Set(context.Background(), "a", "b", 0).Err(); err == nil {
		t.Error("write after Close succeeded")
	}
}

func BenchmarkDurableWrite(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		s.Client().HSet(ctx, "h", "f", "v")
	}
}

func BenchmarkDurableWriteParallel(b *testing.B) {
	s, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			s.Client().HSet(ctx, "h", "f", "v")
		}
	})
}
