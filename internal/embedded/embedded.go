package embedded

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Options configures Open. The zero value with a Dir is a sane default.
type Options struct {
	// Dir is the data directory, created if missing (mode 0700).
	Dir string
	// CompactBytes is the journal size past which the next write triggers a snapshot
	// (default 16 MiB).
	CompactBytes int64
	// Logger receives start, replay and snapshot events (default: discard).
	Logger *slog.Logger
	// Registerer receives the store's metrics (metrics.go); nil: none exposed.
	Registerer prometheus.Registerer
}

func (o *Options) validate() error {
	if o.Dir == "" {
		return errors.New("embedded: no data directory")
	}
	if o.CompactBytes == 0 {
		o.CompactBytes = 16 << 20
	}
	if o.CompactBytes < 0 {
		return fmt.Errorf("embedded: compact bytes %d is negative", o.CompactBytes)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Store is an open embedded store. Its Client is safe for concurrent use; Close flushes.
type Store struct {
	opts    Options
	metrics *metrics
	m       *miniredis.Miniredis
	client  *redis.Client
	lock    *os.File // the data directory's lock file, flock'ed

	// mu serializes every data-changing command with its journal append, so that the
	// journal holds writes in the order they ran.
	mu      sync.Mutex
	journal *os.File
	gen     uint64
	written atomic.Int64      // bytes appended to the journal (read by syncTo without mu)
	scripts map[string]string // sha1 → body, for EVALSHA
	failed  error             // a journal write failed: every later write fails too
	closed  bool

	syncMu sync.Mutex
	synced int64 // journal bytes known to be on disk
}

// Open loads (or creates) the store in opts.Dir and returns it ready.
func Open(opts Options) (*Store, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("embedded: create data directory: %w", err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Store{opts: opts, lock: lock, scripts: map[string]string{}, m: miniredis.NewMiniRedis(),
		metrics: newMetrics(opts.Registerer)}
	// Key TTLs follow the wall clock, as they do in Redis.
	s.m.ClockTTL(true)
	// Start the in-memory server now (Dial starts it), before any concurrent use: its
	// command table is read without miniredis's lock.
	if conn, err := s.m.Dial(); err == nil {
		conn.Close()
	}
	if err := s.load(); err != nil {
		s.m.Close()
		lock.Close()
		return nil, err
	}
	s.client = redis.NewClient(&redis.Options{
		Addr:   "embedded",
		Dialer: func(context.Context, string, string) (net.Conn, error) { return s.m.Dial() },
		// The server is in the process: a failure is not transient, so do not retry.
		MaxRetries: -1,
		// No RESP3 push notifications, no CLIENT SETINFO: miniredis speaks RESP2 well.
		Protocol:        2,
		DisableIdentity: true,
	})
	s.client.AddHook(hook{s})
	return s, nil
}

// Client returns the go-redis client of the store. It is closed by Close.
func (s *Store) Client() redis.UniversalClient { return s.client }

// Dir returns the data directory.
func (s *Store) Dir() string { return s.opts.Dir }

// Snapshot writes the whole data set to the snapshot file and starts a new, empty
// journal. Writers wait while it runs.
func (s *Store) Snapshot() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("embedded: store closed")
	}
	return s.compactLocked()
}

// Close snapshots the data set (so the next Open replays nothing), then stops the
// server and releases the directory. Writes after Close fail.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	var err error
	if s.failed == nil {
		err = s.compactLocked()
	}
	s.closed = true
	if s.journal != nil {
		if cerr := s.journal.Close(); err == nil {
			err = cerr
		}
	}
	s.mu.Unlock()
	if cerr := s.client.Close(); err == nil && cerr != nil && !errors.Is(cerr, redis.ErrClosed) {
		err = cerr
	}
	s.m.Close()
	s.lock.Close() // releases the flock
	return err
}

func (s *Store) snapshotPath() string { return filepath.Join(s.opts.Dir, "snapshot") }
func (s *Store) journalPath(gen uint64) string {
	return filepath.Join(s.opts.Dir, fmt.Sprintf("journal.%d", gen))
}

// load restores the snapshot, replays its journal and opens the journal for appending.
func (s *Store) load() error {
	start := time.Now()
	gen, keys, err := readSnapshot(s.snapshotPath(), s.m, time.Now())
	if err != nil {
		return err
	}
	s.gen = gen
	replay := redis.NewClient(&redis.Options{
		Addr:            "embedded-replay",
		Dialer:          func(context.Context, string, string) (net.Conn, error) { return s.m.Dial() },
		MaxRetries:      -1,
		Protocol:        2,
		DisableIdentity: true,
	})
	defer replay.Close()
	path := s.journalPath(gen)
	records, good, err := replayJournal(path, func(r record) error { return r.apply(replay) })
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: open journal: %w", err)
	}
	// Cut a torn tail: it was being written when the process died, so no caller was
	// told it succeeded.
	if st, err := f.Stat(); err == nil && st.Size() > good {
		s.opts.Logger.Warn("embedded store: cutting a torn journal tail", "journal", path,
			"kept_bytes", good, "cut_bytes", st.Size()-good)
		if err := f.Truncate(good); err != nil {
			f.Close()
			return fmt.Errorf("embedded: truncate journal: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return fmt.Errorf("embedded: seek journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("embedded: sync journal: %w", err)
	}
	s.journal, s.synced = f, good
	s.written.Store(good)
	s.metrics.journalBytes.Set(float64(good))
	removeStaleJournals(s.opts.Dir, gen)
	s.opts.Logger.Info("embedded store loaded", "dir", s.opts.Dir, "snapshot_keys", keys,
		"journal_records", records, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// compactLocked writes a snapshot naming generation gen+1, then switches to a new
// journal. A crash between the two steps leaves a snapshot whose journal does not exist
// yet, which loads as an empty journal. s.mu is held.
func (s *Store) compactLocked() error {
	start := time.Now()
	next := s.gen + 1
	n, err := writeSnapshot(s.snapshotPath(), s.m, next, time.Now())
	if err != nil {
		s.metrics.snapshots.WithLabelValues("error").Inc()
		return err
	}
	s.metrics.snapshots.WithLabelValues("ok").Inc()
	s.metrics.lastSnapshot.SetToCurrentTime()
	s.metrics.journalBytes.Set(0)
	f, err := os.OpenFile(s.journalPath(next), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("embedded: create journal: %w", err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		f.Close()
		return err
	}
	old := s.journal
	oldPath := s.journalPath(s.gen)
	s.syncMu.Lock() // no group sync may run on the old file while it is swapped
	s.journal, s.gen, s.synced = f, next, 0
	s.written.Store(0)
	s.syncMu.Unlock()
	if old != nil {
		old.Close()
	}
	os.Remove(oldPath)
	s.opts.Logger.Info("embedded store snapshot written", "keys", n,
		"took", time.Since(start).Round(time.Millisecond))
	return nil
}

// appendLocked writes one record to the journal and returns the journal offset that must
// be on disk before the write it records is acknowledged. s.mu is held.
func (s *Store) appendLocked(r record) (int64, error) {
	if s.failed != nil {
		return 0, s.failed
	}
	if s.closed {
		return 0, errors.New("embedded: store closed")
	}
	b := r.encode()
	if _, err := s.journal.Write(b); err != nil {
		// The file may now hold part of the record: refuse every later write rather
		// than append after garbage. A restart cuts the torn tail.
		s.failed = fmt.Errorf("embedded: journal write failed, restart sophiad: %w", err)
		s.opts.Logger.Error("embedded store journal write failed", "err", err)
		return 0, s.failed
	}
	s.metrics.records.Inc()
	end := s.written.Add(int64(len(b)))
	s.metrics.journalBytes.Set(float64(end))
	return end, nil
}

// syncTo returns once the journal is on disk up to off. Writers arriving while an fsync
// runs share the next one.
func (s *Store) syncTo(off int64, f *os.File) error {
	s.syncMu.Lock()
	defer s.syncMu.Unlock()
	if s.journal != f || s.synced >= off {
		// Done by another writer's fsync, or the journal was compacted into a
		// snapshot (fsynced) since.
		return nil
	}
	end := s.written.Load()
	start := time.Now()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("embedded: sync journal: %w", err)
	}
	s.metrics.syncSeconds.Observe(time.Since(start).Seconds())
	s.synced = end
	return nil
}

// maybeCompactLocked snapshots when the journal has grown past the bound. s.mu is held.
func (s *Store) maybeCompactLocked() {
	if s.written.Load() < s.opts.CompactBytes || s.failed != nil || s.closed {
		return
	}
	if err := s.compactLocked(); err != nil {
		// The journal still holds everything: log, and try again at the next write.
		s.opts.Logger.Error("embedded store snapshot failed", "err", err)
	}
}

func lockDir(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("embedded: open lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("embedded: data directory %s is in use by another process: %w", dir, err)
	}
	return f, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("embedded: open data directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("embedded: sync data directory: %w", err)
	}
	return nil
}

func removeStaleJournals(dir string, keep uint64) {
	matches, _ := filepath.Glob(filepath.Join(dir, "journal.*"))
	for _, m := range matches {
		var g uint64
		if _, err := fmt.Sscanf(filepath.Base(m), "journal.%d", &g); err == nil && g != keep {
			os.Remove(m)
		}
	}
}
