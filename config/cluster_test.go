package config_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
)

// startCluster runs a Redis Cluster of two masters on free loopback ports (each with its
// bus port, +10000), the slots split between them, and returns a client of it. The
// servers are killed at cleanup.
func startCluster(t *testing.T) *redis.ClusterClient {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed: %v", err)
	}
	dir := t.TempDir()
	var addrs []string
	var nodes []*redis.Client
	for i := range 2 {
		port := clusterPort(t)
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", i)),
			"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", filepath.Join(dir, fmt.Sprintf("redis-%d.log", i)))
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
		t.Cleanup(func() { c.Close() })
		waitFor(t, addr+" answers", func(ctx context.Context) error { return c.Ping(ctx).Err() })
		addrs, nodes = append(addrs, addr), append(nodes, c)
	}
	ctx := context.Background()
	for i, r := range [][2]int{{0, 8191}, {8192, 16383}} {
		if err := nodes[i].ClusterAddSlotsRange(ctx, r[0], r[1]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	host, port, _ := net.SplitHostPort(addrs[1])
	if err := nodes[0].ClusterMeet(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	// A master reports cluster_state:ok no sooner than 2 s after it started (Redis's
	// CLUSTER_WRITABLE_DELAY): most of this test's time.
	for _, n := range nodes {
		waitFor(t, "the cluster is up", func(ctx context.Context) error {
			info, err := n.ClusterInfo(ctx).Result()
			if err == nil && !strings.Contains(info, "cluster_state:ok") {
				err = errors.New("cluster_state is not ok")
			}
			if err == nil {
				if known, _ := n.ClusterNodes(ctx).Result(); strings.Count(known, "master") != 2 {
					err = errors.New("the nodes do not know each other yet")
				}
			}
			return err
		})
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	t.Cleanup(func() { c.Close() })
	return c
}

// clusterPort returns a free port whose cluster bus port (+10000) is free too.
func clusterPort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			l.Close()
			continue
		}
		bus, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+10000)))
		l.Close()
		if err == nil {
			bus.Close()
			return port
		}
	}
	t.Fatal("no free port pair for a cluster node")
	return 0
}

// waitFor polls check (a process starting, a cluster converging: no event to wait on)
// until it succeeds, for at most 10 s.
func waitFor(t *testing.T, what string, check func(context.Context) error) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := check(ctx)
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting until %s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCallPathOnCluster runs the store's writes and every call-path read on a real
// two-node Redis Cluster: the scripts' keys share the {P} slot, and a pipeline mixing
// {P} with the users' own slots (on both nodes) is answered.
func TestCallPathOnCluster(t *testing.T) {
	rdb := startCluster(t)
	e := newEnvOn(t, rdb, "sophia")
	e.aliceAndBob(t)
	e.put(t, `{"id": "carol", "site": "lyon", "name": "Carol", "main_number": "+33478000003",
		"device": {"id": "desk-carol", "endpoint": "PJSIP/carol"}}`)
	// The users' runtime keys must live on both nodes, or the test proves less.
	ctx := context.Background()
	nodesOf := map[string]bool{}
	for _, uid := range []string{"alice", "bob", "carol"} {
		if _, err := e.st.AcquireCall(ctx, uid, "c-"+uid, time.Minute); err != nil {
			t.Fatal(err)
		}
		if _, err := e.st.SetDeviceState(ctx, "PJSIP/"+uid, config.DeviceOnline); err != nil {
			t.Fatal(err)
		}
		slot, err := rdb.ClusterKeySlot(ctx, e.keys.Calls(uid)).Result()
		if err != nil {
			t.Fatal(err)
		}
		nodesOf[uid] = slot < 8192
	}
	if nodesOf["alice"] == nodesOf["bob"] && nodesOf["bob"] == nodesOf["carol"] {
		t.Fatalf("every user's runtime keys are on one node (%v): pick other ids", nodesOf)
	}

	for range 3 { // cold, then warm
		v, err := e.st.CallViewByNumber(ctx, "+33478000001")
		if err != nil || v.User.Sheet.ID != "alice" || v.ActiveCalls != 1 || v.Device != config.DeviceOnline {
			t.Fatalf("CallViewByNumber = %+v, %v", v, err)
		}
		v, err = e.st.CallViewByDevice(ctx, "PJSIP/carol")
		if err != nil || v.User.Sheet.ID != "carol" || v.ActiveCalls != 1 || v.Device != config.DeviceOnline {
			t.Fatalf("CallViewByDevice = %+v, %v", v, err)
		}
		for _, callee := range []string{"bob", "carol"} {
			num := map[string]string{"bob": "+33478000002", "carol": "+33478000003"}[callee]
			ov, err := e.st.OutboundView(ctx, "PJSIP/alice", func(*config.Compiled) string { return num })
			if err != nil || ov.Caller.User.Sheet.ID != "alice" || ov.Caller.ActiveCalls != 1 {
				t.Fatalf("OutboundView to %s = %+v, %v", callee, ov, err)
			}
			if ov.Number != "" && (ov.Callee == nil || ov.Callee.User.Sheet.ID != callee || ov.Callee.ActiveCalls != 1) {
				t.Fatalf("OutboundView to %s: callee %+v, %v", callee, ov.Callee, ov.CalleeErr)
			}
		}
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/nobody"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("unknown device on the cluster: %v", err)
	}
}
