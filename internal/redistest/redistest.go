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
	ctx := context.Background()
	iter := c.Scan(ctx, 0, "*"+prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Errorf("redistest: scan %s: %v", prefix, err)
		return
	}
	for len(keys) > 0 {
		n := min(len(keys), 500)
		if err := c.Del(ctx, keys[:n]...).Err(); err != nil {
			t.Errorf("redistest: delete %s keys: %v", prefix, err)
			return
		}
		keys = keys[n:]
	}
}

// Server is a private redis-server process.
type Server struct {
	Addr string
	t    testing.TB
	dir  string
	port int
	cmd  *exec.Cmd
}

// Start runs a private redis-server on a free loopback port, persisting nothing, and
// stops it at cleanup. The test is skipped only if no redis-server binary exists.
func Start(t testing.TB) *Server {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redistest: redis-server not installed: %v", err)
	}
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t)}
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
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", filepath.Join(s.dir, "redis.log"))
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

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("redistest: free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String names the server in test logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server %s", s.Addr) }
