package config_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// startProcess runs redis-server with args until the test ends (a sentinel: its
// configuration file first, which redistest.Start does not take).
func startProcess(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("redis-server", args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

// TestSentinelFailover: through a redis+sentinel:// URL the store finds the master, and
// when the master dies the Sentinel promotes its replica: the store writes and routes
// calls again on the new master, with every sheet written before the failover.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three servers and waits for a failover")
	}
	master := redistest.Start(t)
	dir := t.TempDir()
	_, masterPort, _ := net.SplitHostPort(master.Addr)
	replicaSrv := redistest.Start(t, "--replicaof", "127.0.0.1", masterPort)
	_, replicaPort, _ := net.SplitHostPort(replicaSrv.Addr)
	sentinelPort := redistest.FreePort(t)
	conf := filepath.Join(dir, "sentinel.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, `port %d
bind 127.0.0.1
dir %s
logfile %s
sentinel monitor sophia 127.0.0.1 %s 1
sentinel down-after-milliseconds sophia 300
sentinel failover-timeout sophia 2000
`, sentinelPort, dir, filepath.Join(dir, "sentinel.log"), masterPort), 0o600); err != nil {
		t.Fatal(err)
	}
	startProcess(t, conf, "--sentinel")
	replica := redis.NewClient(&redis.Options{Addr: replicaSrv.Addr, MaxRetries: -1})
	t.Cleanup(func() { replica.Close() })
	waitFor(t, "the replica in sync", func(ctx context.Context) error {
		info, err := replica.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "master_link_status:up") {
			return fmt.Errorf("not in sync yet")
		}
		return nil
	})
	sentinel := redis.NewSentinelClient(&redis.Options{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(sentinelPort)), MaxRetries: -1})
	t.Cleanup(func() { sentinel.Close() })
	waitFor(t, "the sentinel sees the replica", func(ctx context.Context) error {
		rs, err := sentinel.Replicas(ctx, "sophia").Result()
		if err != nil {
			return err
		}
		if len(rs) == 0 {
			return fmt.Errorf("no replica yet")
		}
		return nil
	})

	rdb, err := config.ParseRedisURL(fmt.Sprintf("redis+sentinel://127.0.0.1:%d/sophia", sentinelPort))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st, err := config.New(config.Options{Client: rdb, Prefix: "sentinel"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	put := func(id, number string) {
		t.Helper()
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = id, id, number
		if _, err := st.PutUser(ctx, &s, "test"); err != nil {
			t.Fatal(err)
		}
	}
	put("alice", "+33478000001")
	if v, err := st.CallViewByNumber(ctx, "+33478000001"); err != nil || v.User.Sheet.ID != "alice" {
		t.Fatalf("through the sentinel: %v, %v", v, err)
	}
	// Alice's sheet is on the replica before the master dies (replication is
	// asynchronous: what the master had not sent yet is lost with it).
	waitFor(t, "alice's sheet on the replica", func(ctx context.Context) error {
		n, err := replica.Exists(ctx, config.NewKeys("sentinel").User("alice"), config.NewKeys("sentinel").Epoch()).Result()
		if err == nil && n != 2 {
			err = fmt.Errorf("%d of 2 keys replicated", n)
		}
		return err
	})

	master.Stop()
	waitFor(t, "the sentinel to promote the replica", func(ctx context.Context) error {
		addr, err := sentinel.GetMasterAddrByName(ctx, "sophia").Result()
		if err != nil {
			return err
		}
		if addr[1] != replicaPort {
			return fmt.Errorf("master still %v", addr)
		}
		return nil
	})
	waitFor(t, "a write on the new master", func(ctx context.Context) error {
		s := config.DefaultSheet()
		s.ID, s.Name, s.MainNumber = "bob", "bob", "+33478000002"
		_, err := st.PutUser(ctx, &s, "test")
		return err
	})
	for num, want := range map[string]string{"+33478000001": "alice", "+33478000002": "bob"} {
		if v, err := st.CallViewByNumber(ctx, num); err != nil || v.User.Sheet.ID != want {
			t.Errorf("after the failover, %s: %v, %v; want %s", num, v, err, want)
		}
	}
}
