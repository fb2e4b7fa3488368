package config_test

import (
	"context"
	"errors"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// counter is a go-redis hook counting round trips (a command, or a pipeline) and the
// commands they carried.
type counter struct {
	mu    sync.Mutex
	trips int
	cmds  []string
}

func (c *counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.add(cmd)
		return next(ctx, cmd)
	}
}

func (c *counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.add(cmds...)
		return next(ctx, cmds)
	}
}

func (c *counter) add(cmds ...redis.Cmder) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.trips++
	for _, cmd := range cmds {
		c.cmds = append(c.cmds, cmd.Name())
	}
}

// take returns the round trips and commands since the last take.
func (c *counter) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, cmds := c.trips, c.cmds
	c.trips, c.cmds = 0, nil
	return n, cmds
}

// countedEnv is an env whose store's client counts its round trips.
func countedEnv(t testing.TB) (*env, *counter) {
	t.Helper()
	_, prefix := redistest.New(t) // the prefix, cleaned at the end
	rdb := redis.NewClient(&redis.Options{Addr: redistest.Addr()})
	t.Cleanup(func() { rdb.Close() })
	c := &counter{}
	rdb.AddHook(c)
	return newEnvOn(t, rdb, prefix), c
}

func TestCallViewOneRoundTrip(t *testing.T) {
	e, count := countedEnv(t)
	e.lyon(t)
	e.put(t, bobJSON)
	data, err := os.ReadFile("testdata/sheet-good.json")
	if err != nil {
		t.Fatal(err)
	}
	alice := sheet(t, string(data))
	alice.Version = 0
	if _, err := e.st.PutUser(ctx, alice, "admin"); err != nil {
		t.Fatal(err)
	}

	count.take()
	first, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil {
		t.Fatal(err)
	}
	if first.User.Sheet.ID != "alice" || first.User.Site.ID != "lyon" || first.User.Loc.String() != "Europe/Paris" {
		t.Fatalf("view %+v", first.User)
	}
	if first.Device != config.DeviceUnknown || first.ActiveCalls != 0 {
		t.Errorf("device %v, calls %d: want unknown, 0", first.Device, first.ActiveCalls)
	}
	if n, _ := count.take(); n > 3 {
		t.Errorf("cold read took %d round trips, want at most 3", n)
	}

	// Steady state: one round trip, three commands, the same compiled sheet.
	wantCmds := []string{"evalsha_ro", "hmget", "zcount"}
	again, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil {
		t.Fatal(err)
	}
	if n, cmds := count.take(); n != 1 || !reflect.DeepEqual(cmds, wantCmds) {
		t.Errorf("warm read: %d round trips %v, want 1 %v", n, cmds, wantCmds)
	}
	if again.User != first.User {
		t.Error("warm read compiled the sheet again")
	}
	if _, err := e.st.CallView(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if n, cmds := count.take(); n != 1 || !reflect.DeepEqual(cmds, wantCmds) {
		t.Errorf("warm read by id: %d round trips %v", n, cmds)
	}

	// A change is seen at the next call, in the same single round trip.
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	count.take()
	changed, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("read after a change: %d round trips, want 1", n)
	}
	if !changed.User.Sheet.DND || changed.User == first.User {
		t.Error("the change was not seen")
	}
	// So is a change of the site (its policy and zone are compiled in).
	lyon, _ := e.st.GetSite(ctx, "lyon")
	lyon.Timezone = "Europe/Brussels"
	if _, err := e.st.PutSite(ctx, lyon, "admin"); err != nil {
		t.Fatal(err)
	}
	count.take()
	v, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 || v.User.Site.Timezone != "Europe/Brussels" {
		t.Errorf("after a site change: %d round trips, site zone %s", n, v.User.Site.Timezone)
	}

	// Runtime state: device and call leases.
	if uid, err := e.st.SetDeviceState(ctx, "PJSIP/alice", config.DeviceOnline); err != nil || uid != "alice" {
		t.Fatalf("SetDeviceState = %q, %v", uid, err)
	}
	if _, err := e.st.SetDeviceState(ctx, "PJSIP/nobody", config.DeviceOnline); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("SetDeviceState of an unknown endpoint: %v", err)
	}
	for _, id := range []string{"c1", "c2"} {
		if _, err := e.st.AcquireCall(ctx, "alice", id, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	v, err = e.st.CallViewByNumber(ctx, "+33612345678") // the callback mobile
	if err != nil {
		t.Fatal(err)
	}
	if v.Device != config.DeviceOnline || !v.DeviceAt.Equal(e.clock.Now().Truncate(time.Millisecond)) || v.ActiveCalls != 2 {
		t.Errorf("device %v at %v, %d calls: want online at %v, 2", v.Device, v.DeviceAt, v.ActiveCalls, e.clock.Now())
	}
	// A state reported for a former endpoint does not apply to the new device.
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.Device.Endpoint = "PJSIP/alice2"; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	if v, _ := e.st.CallView(ctx, "alice"); v.Device != config.DeviceUnknown {
		t.Errorf("state of the old endpoint applied to the new one: %v", v.Device)
	}

	// Numbers that do not route, or belong to nobody.
	for _, num := range []string{"+33478000011", "+33478999999", ""} {
		if _, err := e.st.CallViewByNumber(ctx, num); !errors.Is(err, config.ErrNotFound) {
			t.Errorf("CallViewByNumber(%q) = %v, want ErrNotFound", num, err)
		}
	}

	// A number moves: the next call finds its new owner, then one round trip again.
	if err := e.st.MoveNumber(ctx, "+33612345678", "bob", "admin"); err != nil {
		t.Fatal(err)
	}
	v, err = e.st.CallViewByNumber(ctx, "+33612345678")
	if err != nil || v.User.Sheet.ID != "bob" {
		t.Fatalf("after the move: %v, %v", v, err)
	}
	count.take()
	if _, err := e.st.CallViewByNumber(ctx, "+33612345678"); err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("after the move, warm: %d round trips", n)
	}

	// A deleted user is gone for the call path at once (alice goes first: her sheet
	// forwards to bob, who cannot be deleted while referenced).
	for _, id := range []string{"alice", "bob"} {
		if err := e.st.DeleteUser(ctx, id, 0, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	for _, num := range []string{"+33478000002", "+33612345678"} {
		if _, err := e.st.CallViewByNumber(ctx, num); !errors.Is(err, config.ErrNotFound) {
			t.Errorf("CallViewByNumber(%s) of a deleted user = %v", num, err)
		}
	}
	if _, err := e.st.CallView(ctx, "bob"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("CallView(bob) after delete = %v", err)
	}
}

// TestCallViewConcurrent reads while writing, from many goroutines (run with -race).
func TestCallViewConcurrent(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id": "alice", "name": "A", "main_number": "+33478000001"}`)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 50 {
				v, err := e.st.CallViewByNumber(ctx, "+33478000001")
				if err != nil {
					t.Error(err)
					return
				}
				if v.User.Sheet.ID != "alice" {
					t.Errorf("view of %s", v.User.Sheet.ID)
				}
			}
		}()
	}
	for range 10 {
		if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = !s.DND; return nil }, "t"); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	v, err := e.st.CallView(ctx, "alice")
	if err != nil || v.User.Sheet.Version != 11 {
		t.Errorf("final view version %v, %v; want 11", v, err)
	}
}

// TestCallViewHandEdit: a sheet edited with redis-cli (reformatted JSON, version bumped
// by hand) is read correctly: the script then returns the JSON every time.
func TestCallViewHandEdit(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id": "alice", "name": "A", "main_number": "+33478000001"}`)
	if _, err := e.st.CallView(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	raw := e.rdb.Get(ctx, e.keys.User("alice")).Val()
	edited := strings.Replace(raw, `"dnd":false`, `"dnd":true`, 1)
	edited = strings.Replace(edited, `"version":1`, `"version": 2`, 1) // pattern no longer matches
	edited = "  " + edited
	e.rdb.Set(ctx, e.keys.User("alice"), edited, 0)
	for range 2 {
		v, err := e.st.CallView(ctx, "alice")
		if err != nil || !v.User.Sheet.DND {
			t.Fatalf("after a hand edit: %+v, %v", v, err)
		}
	}
}

func TestCallLeases(t *testing.T) {
	e := newEnv(t)
	acquire := func(id string, lease time.Duration, want int) {
		t.Helper()
		n, err := e.st.AcquireCall(ctx, "alice", id, lease)
		if err != nil || n != want {
			t.Errorf("AcquireCall(%s) = %d, %v; want %d", id, n, err, want)
		}
	}
	acquire("c1", 30*time.Second, 1)
	acquire("c2", 60*time.Second, 2)
	e.clock.Advance(45 * time.Second) // c1's lease ran out: its daemon died
	if n, _ := e.st.ActiveCalls(ctx, "alice"); n != 1 {
		t.Errorf("active calls once c1 expired = %d, want 1", n)
	}
	acquire("c3", 60*time.Second, 2)
	if n := e.rdb.ZCard(ctx, e.keys.Calls("alice")).Val(); n != 2 {
		t.Errorf("%d leases stored, want 2 (the expired one pruned)", n)
	}
	if err := e.st.RenewCall(ctx, "alice", "c2", 60*time.Second); err != nil {
		t.Errorf("RenewCall(c2): %v", err)
	}
	e.clock.Advance(30 * time.Second) // c2 lives on thanks to the renewal
	if n, _ := e.st.ActiveCalls(ctx, "alice"); n != 2 {
		t.Errorf("active calls = %d, want 2", n)
	}
	if err := e.st.ReleaseCall(ctx, "alice", "c2"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.RenewCall(ctx, "alice", "c2", time.Minute); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("RenewCall of a released call: %v", err)
	}
	if n, _ := e.st.ActiveCalls(ctx, "alice"); n != 1 {
		t.Errorf("active calls = %d, want 1", n)
	}
	if _, err := e.st.AcquireCall(ctx, "alice", "c4", 0); err == nil {
		t.Error("a zero lease was accepted")
	}
}

// TestRedisDown: with the server stopped every method fails with a clear error (never
// ErrNotFound, never a hang); restarted, the store works again, reloading its scripts.
func TestRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DialerRetries: 1, DialTimeout: time.Second})
	t.Cleanup(func() { rdb.Close() })
	e := newEnvOn(t, rdb, "sophia")
	e.put(t, `{"id": "alice", "name": "A", "main_number": "+33478000001"}`)
	if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	checks := map[string]func() error{
		"GetUser": func() error { _, err := e.st.GetUser(ctx, "alice"); return err },
		"PutUser": func() error {
			_, err := e.st.PutUser(ctx, sheet(t, `{"id": "bob", "name": "B", "main_number": "+33478000002"}`), "t")
			return err
		},
		"CallViewByNumber": func() error { _, err := e.st.CallViewByNumber(ctx, "+33478000001"); return err },
		"Authenticate":     func() error { _, err := e.st.Authenticate(ctx, "sph_x"); return err },
		"AcquireCall":      func() error { _, err := e.st.AcquireCall(ctx, "alice", "c", time.Minute); return err },
		"Ping":             func() error { return e.st.Ping(ctx) },
	}
	for name, f := range checks {
		err := f()
		var opErr *net.OpError
		if err == nil || errors.Is(err, config.ErrNotFound) || !errors.As(err, &opErr) {
			t.Errorf("%s with Redis down: %v, want a connection error", name, err)
		}
	}

	srv.Restart() // empty: this server persists nothing
	if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("after restart, the lost user: %v, want ErrNotFound", err)
	}
	e.put(t, `{"id": "alice", "name": "Alice again", "main_number": "+33478000001", "dnd": true}`)
	v, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil || v.User.Sheet.Name != "Alice again" || !v.User.Sheet.DND {
		t.Fatalf("after restart: %+v, %v", v, err)
	}
}

// TestWipedRedisNewEpoch: a Redis wiped, and a sheet written again at the version and
// JSON length the daemon cached, with other content: the call sees the new sheet (the
// data set's epoch changed), though the daemon's client never saw an error.
func TestWipedRedisNewEpoch(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	e := newEnvOn(t, rdb, "sophia")
	e.put(t, `{"id": "alice", "name": "Anna", "main_number": "+33478000001"}`)
	if v, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil || v.User.Sheet.Name != "Anna" {
		t.Fatalf("before: %+v, %v", v, err)
	}
	if err := rdb.FlushAll(ctx).Err(); err != nil { // this test's own server
		t.Fatal(err)
	}
	e.put(t, `{"id": "alice", "name": "Anne", "main_number": "+33478000001"}`)
	v, err := e.st.CallViewByNumber(ctx, "+33478000001")
	if err != nil || v.User.Sheet.Name != "Anne" || v.User.Sheet.Version != 1 {
		t.Fatalf("after the wipe: %+v, %v; want Anne at version 1", v, err)
	}
	// And the next read is served from the cache again.
	if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil {
		t.Fatal(err)
	}
}

// TestWipedRedisBothViews: the caller and the callee of an outbound call, both cached
// before a wipe and written again alike (same versions, same JSON lengths), are both
// read afresh in the one pipelined read: neither is taken from the old data set.
func TestWipedRedisBothViews(t *testing.T) {
	srv := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	e := newEnvOn(t, rdb, "sophia")
	world := func(a, b string) {
		t.Helper()
		e.put(t, `{"id": "alice", "name": "`+a+`", "main_number": "+33478000001", "device": {"id": "d", "endpoint": "PJSIP/alice"}}`)
		e.put(t, `{"id": "bob", "name": "`+b+`", "main_number": "+33478000002"}`)
	}
	read := func() *config.OutboundView {
		t.Helper()
		ov, err := e.st.OutboundView(ctx, "PJSIP/alice", func(*config.Compiled) string { return "+33478000002" })
		if err != nil || ov.CalleeErr != nil {
			t.Fatalf("outbound view: %v, %v", err, ov.CalleeErr)
		}
		return ov
	}
	world("Anna", "Bert")
	read()
	read()                                          // both cached
	if err := rdb.FlushAll(ctx).Err(); err != nil { // this test's own server
		t.Fatal(err)
	}
	world("Anne", "Bart")
	ov := read()
	if ov.Caller.User.Sheet.Name != "Anne" || ov.Callee.User.Sheet.Name != "Bart" {
		t.Errorf("after the wipe: caller %s, callee %s; want Anne and Bart", ov.Caller.User.Sheet.Name, ov.Callee.User.Sheet.Name)
	}
}
