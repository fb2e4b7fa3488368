// Package redistest gives tests a real Redis: the shared server on 127.0.0.1:6379 (or
// $SOPHIA_TEST_REDIS) with a key prefix of the test's own, or a private redis-server
// process on a free port for tests that stop, restart or break it.
//
// Tests never flush: cleanup deletes only keys carrying the test's prefix.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Addr is the shared test server's address.
func Addr() string {
	if a := os.Getenv("SOPHIA_TEST_REDIS"); a != "" {
		return a
	}
	return "127.0.0.1:6379"
}

// Prefix returns a key prefix no other test uses ("t" + 12 hex digits).
func Prefix() string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "t" + hex.EncodeToString(b[:])
}

// New returns a client to the shared server and a fresh key prefix. At cleanup every key
// containing the prefix is deleted, and the client closed. The test fails at once if
// the server does not answer: sophia's tests need a real Redis (see .ci/run).
func New(t testing.TB) (redis.UniversalClient, string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: Addr()})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("redistest: no Redis at %s (start one, or set SOPHIA_TEST_REDIS): %v", Addr(), err)
	}
	prefix := Prefix()
	t.Cleanup(func() {
		Clean(t, c, prefix)
		c.Close()
	})
	return c, prefix
}

// Clean deletes every key containing prefix.
func Clean(t testing.TB, c redis.UniversalClient, prefix string) {
	t.Helper()
	if err := DeleteKeys(context.Background(), c, prefix); err != nil {
		t.Errorf("redistest: %v", err)
	}
}

// DeleteKeys deletes every key containing prefix (sophia's keys carry it, hash-tagged
// in places: "{prefix}:…", "prefix:rt:{uid}:…"), and only those: a test's, or a load
// run's (cmd/sophia-load). One DEL per key, pipelined 500 at a time, so that a Cluster
// client sends each to its slot's node.
func DeleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	iter := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return fmt.Errorf("scan %s: %w", prefix, err)
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		pipe := c.Pipeline()
		for _, k := range keys[:n] {
			pipe.Del(ctx, k)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return fmt.Errorf("delete %s keys: %w", prefix, err)
		}
		keys = keys[n:]
	}
	return nil
}

// Server is a private redis-server process.
type Server struct {
	Addr string
	t    testing.TB
	dir  string
	port int
	args []string
	cmd  *exec.Cmd
}

// Start runs a private redis-server on a free loopback port, persisting nothing, with
// extra command-line arguments (a replica's --replicaof…), and stops it at cleanup.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redistest: redis-server not installed: %v", err)
	}
	s := &Server{t: t, dir: t.TempDir(), port: FreePort(t), args: args}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// Stop kills the server (as a crash would) and waits for it to exit. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	cmd := exec.Command("redis-server", append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log")}, s.args...)...)
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("redistest: start redis-server: %v", err)
	}
	s.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redistest: redis-server on %s did not answer: %v", s.Addr, err)
		}
		time.Sleep(10 * time.Millisecond) // polling a process start: no event to wait on
	}
}

// Client returns a client to the server, closed at cleanup.
func (s *Server) Client() redis.UniversalClient {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// FreePort returns a loopback TCP port free now.
func FreePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String names the server in test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr) }
