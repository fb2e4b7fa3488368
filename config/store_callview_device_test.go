package config_test

import (
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// aliceAndBob stores the lyon site, bob and the full example sheet (alice, device
// PJSIP/alice).
func (e *env) aliceAndBob(t testing.TB) {
	t.Helper()
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
}

func TestCallViewByDeviceOneRoundTrip(t *testing.T) {
	e, count := countedEnv(t)
	e.aliceAndBob(t)
	// The script loaded on the server (a fresh Redis answers the first EVALSHA with
	// NOSCRIPT: SCRIPT LOAD and a retry, once per server): not what is measured here.
	if _, err := e.st.CallView(ctx, "nobody"); !errors.Is(err, config.ErrNotFound) {
		t.Fatal(err)
	}

	count.take()
	first, err := e.st.CallViewByDevice(ctx, "PJSIP/alice")
	if err != nil {
		t.Fatal(err)
	}
	if first.User.Sheet.ID != "alice" || first.User.Site.ID != "lyon" {
		t.Fatalf("view of %s in %s, want alice in lyon", first.User.Sheet.ID, first.User.Site.ID)
	}
	// The device's owner, then the user; a process that has cached no one yet also
	// learns the user's site.
	if n, _ := count.take(); n > 3 {
		t.Errorf("cold read took %d round trips, want at most 3", n)
	}

	// Steady state: one round trip, the same three commands as a call by number, the
	// same compiled sheet.
	wantCmds := []string{"evalsha_ro", "hmget", "zcount"}
	again, err := e.st.CallViewByDevice(ctx, "PJSIP/alice")
	if err != nil {
		t.Fatal(err)
	}
	if n, cmds := count.take(); n != 1 || !reflect.DeepEqual(cmds, wantCmds) {
		t.Errorf("warm read: %d round trips %v, want 1 %v", n, cmds, wantCmds)
	}
	if again.User != first.User {
		t.Error("warm read compiled the sheet again")
	}
	// The view by device and the view by number share one cache entry.
	if v, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil || v.User != first.User {
		t.Errorf("CallViewByNumber after CallViewByDevice: %v, %v; want the cached sheet", v, err)
	}

	// Runtime state, and a change of the sheet, are seen in the same single round trip.
	if _, err := e.st.SetDeviceState(ctx, "PJSIP/alice", config.DeviceOffline); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.AcquireCall(ctx, "alice", "c1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	count.take()
	v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("read after a change: %d round trips, want 1", n)
	}
	if !v.User.Sheet.DND || v.Device != config.DeviceOffline || v.ActiveCalls != 1 {
		t.Errorf("view: dnd %v, device %v, %d calls; want true, offline, 1", v.User.Sheet.DND, v.Device, v.ActiveCalls)
	}
}

// TestCallViewByDeviceMoved: a device that moves to another user is found with its new
// owner at the next call (one more round trip), then in one round trip again; the former
// owner's view no longer claims it.
func TestCallViewByDeviceMoved(t *testing.T) {
	e, count := countedEnv(t)
	e.aliceAndBob(t)
	if v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil || v.User.Sheet.ID != "alice" {
		t.Fatalf("before the move: %v, %v", v, err)
	}
	// Alice gets a new desk phone; her old one goes to bob.
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.Device.Endpoint = "PJSIP/alice2"; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(ctx, "bob", 0, func(s *config.Sheet) error { s.Device.Endpoint = "PJSIP/alice"; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	count.take()
	v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice")
	if err != nil || v.User.Sheet.ID != "bob" {
		t.Fatalf("after the move: %v, %v; want bob's view", v, err)
	}
	if n, _ := count.take(); n != 2 {
		t.Errorf("first read after the move: %d round trips, want 2", n)
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("after the move, warm: %d round trips, want 1", n)
	}
	if v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice2"); err != nil || v.User.Sheet.ID != "alice" {
		t.Errorf("alice's new device: %v, %v", v, err)
	}

	// A device no sheet holds any more.
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.Device = nil; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice2"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("a removed device: %v, want ErrNotFound", err)
	}
}

func TestCallViewByDeviceNotFound(t *testing.T) {
	e := newEnv(t)
	e.aliceAndBob(t)
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil { // warm
		t.Fatal(err)
	}
	// An index entry a hand edit left pointing at a sheet that names another device.
	if err := e.rdb.HSet(ctx, e.keys.Devices(), "PJSIP/ghost", "alice").Err(); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"PJSIP/nobody", "", "+33478000001", "PJSIP/ghost"} {
		v, err := e.st.CallViewByDevice(ctx, ep)
		if !errors.Is(err, config.ErrNotFound) || v != nil {
			t.Errorf("CallViewByDevice(%q) = %v, %v; want ErrNotFound", ep, v, err)
		}
	}
	// A deleted user's device is gone for the call path at once.
	if err := e.st.DeleteUser(ctx, "alice", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("the device of a deleted user: %v, want ErrNotFound", err)
	}
}

// destRecorder is an OutboundView dest: it records the sheets it is given and answers
// num.
type destRecorder struct {
	num  string
	seen []*config.Compiled
}

func (d *destRecorder) dest(c *config.Compiled) string {
	d.seen = append(d.seen, c)
	return d.num
}

// TestOutboundViewOneRoundTrip: the caller (by device) and the user the dialed number
// reaches (by number) in one round trip, when the caller's sheet is cached.
func TestOutboundViewOneRoundTrip(t *testing.T) {
	e, count := countedEnv(t)
	e.aliceAndBob(t)
	d := &destRecorder{num: "+33478000002"}

	// Cold: the caller was never read, there is nothing to guess from.
	count.take()
	ov, err := e.st.OutboundView(ctx, "PJSIP/alice", d.dest)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Caller.User.Sheet.ID != "alice" || ov.Number != "" || ov.Callee != nil || ov.CalleeErr != nil || len(d.seen) != 0 {
		t.Errorf("cold: %+v, dest called %d times; want alice's view alone, dest not called", ov, len(d.seen))
	}
	if n, _ := count.take(); n > 3 {
		t.Errorf("cold: %d round trips, want at most 3", n)
	}

	// Warm caller, callee never read: the callee's owner is learnt on the way.
	ov, err = e.st.OutboundView(ctx, "PJSIP/alice", d.dest)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.seen) != 1 || d.seen[0] != ov.Caller.User {
		t.Errorf("dest was given %v, want alice's cached sheet once", d.seen)
	}
	if ov.Number != "+33478000002" || ov.Callee == nil || ov.Callee.User.Sheet.ID != "bob" || ov.CalleeErr != nil {
		t.Fatalf("callee: %+v", ov)
	}
	if n, _ := count.take(); n != 2 {
		t.Errorf("cold callee: %d round trips, want 2", n)
	}

	// Steady state: one round trip, both users' three commands.
	if _, err := e.st.AcquireCall(ctx, "bob", "c1", time.Minute); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.SetDeviceState(ctx, "PJSIP/bob", config.DeviceOnline); err != nil {
		t.Fatal(err)
	}
	count.take()
	ov, err = e.st.OutboundView(ctx, "PJSIP/alice", d.dest)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"evalsha_ro", "hmget", "zcount", "evalsha_ro", "hmget", "zcount"}
	if n, cmds := count.take(); n != 1 || !reflect.DeepEqual(cmds, want) {
		t.Errorf("warm: %d round trips %v, want 1 %v", n, cmds, want)
	}
	if ov.Caller.User.Sheet.ID != "alice" || ov.Callee.User.Sheet.ID != "bob" || ov.Callee.ActiveCalls != 1 || ov.Callee.Device != config.DeviceOnline {
		t.Errorf("warm: caller %s, callee %s with %d calls, device %v", ov.Caller.User.Sheet.ID, ov.Callee.User.Sheet.ID, ov.Callee.ActiveCalls, ov.Callee.Device)
	}

	// Numbers no user receives calls at: outside, or not marked callback. The miss
	// rides along in the same round trip.
	if _, err := e.st.CallViewByNumber(ctx, "+33478000011"); !errors.Is(err, config.ErrNotFound) {
		t.Fatalf("CallViewByNumber of a number not marked callback: %v", err) // its owner is now cached
	}
	for _, num := range []string{"+33499999999", "+33478000011"} {
		d.num = num
		count.take()
		ov, err = e.st.OutboundView(ctx, "PJSIP/alice", d.dest)
		if err != nil {
			t.Fatal(err)
		}
		if ov.Number != num || ov.Callee != nil || !errors.Is(ov.CalleeErr, config.ErrNotFound) {
			t.Errorf("callee %s: %+v, want ErrNotFound", num, ov)
		}
		if n, _ := count.take(); n != 1 {
			t.Errorf("callee %s: %d round trips, want 1", num, n)
		}
	}

	// No guess: the caller alone.
	d.num = ""
	count.take()
	if ov, err = e.st.OutboundView(ctx, "PJSIP/alice", d.dest); err != nil || ov.Number != "" || ov.Callee != nil {
		t.Errorf("no guess: %+v, %v", ov, err)
	}
	if n, cmds := count.take(); n != 1 || len(cmds) != 3 {
		t.Errorf("no guess: %d round trips %v, want 1 with 3 commands", n, cmds)
	}

	// The caller's own failure is the error, whatever the callee.
	d.num = "+33478000002"
	if _, err := e.st.OutboundView(ctx, "PJSIP/nobody", d.dest); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("unknown device: %v, want ErrNotFound", err)
	}
	if _, err := e.st.OutboundView(ctx, "PJSIP/alice", nil); err != nil {
		t.Errorf("nil dest: %v", err)
	}
}

// TestOutboundViewMoves: the caller's device and the callee's number both move between
// two calls; the reads follow each move (one more round trip) and land on the new owners.
func TestOutboundViewMoves(t *testing.T) {
	e, count := countedEnv(t)
	e.aliceAndBob(t)
	e.put(t, `{"id": "carol", "site": "lyon", "name": "Carol", "main_number": "+33478000003"}`)
	d := &destRecorder{num: "+33612345678"} // alice's callback mobile
	for range 2 {
		if _, err := e.st.OutboundView(ctx, "PJSIP/bob", d.dest); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.st.UpdateUser(ctx, "bob", 0, func(s *config.Sheet) error { s.Device = nil; return nil }, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.UpdateUser(ctx, "carol", 0, func(s *config.Sheet) error {
		s.Device = &config.Device{ID: "desk-carol", Endpoint: "PJSIP/bob"}
		return nil
	}, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.MoveNumber(ctx, "+33612345678", "carol", "admin"); err != nil {
		t.Fatal(err)
	}
	count.take()
	ov, err := e.st.OutboundView(ctx, "PJSIP/bob", d.dest)
	if err != nil {
		t.Fatal(err)
	}
	if ov.Caller.User.Sheet.ID != "carol" || ov.Callee == nil || ov.Callee.User.Sheet.ID != "carol" {
		t.Errorf("after the moves: caller %v, callee %+v; want carol twice", ov.Caller.User.Sheet.ID, ov)
	}
	if n, _ := count.take(); n != 2 {
		t.Errorf("after the moves: %d round trips, want 2 (both moves followed together)", n)
	}
	count.take()
	if _, err := e.st.OutboundView(ctx, "PJSIP/bob", d.dest); err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("after the moves, warm: %d round trips, want 1", n)
	}
}

// TestOutboundViewNoScript: a server that lost its scripts (restart, failover, SCRIPT
// FLUSH) costs both reads of a pipeline one SCRIPT LOAD and one retry, together.
func TestOutboundViewNoScript(t *testing.T) {
	srv := redistest.Start(t) // SCRIPT FLUSH would disturb other tests on the shared server
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	count := &counter{}
	rdb.AddHook(count)
	e := newEnvOn(t, rdb, "sophia")
	e.aliceAndBob(t)
	d := &destRecorder{num: "+33478000002"}
	for range 2 {
		if _, err := e.st.OutboundView(ctx, "PJSIP/alice", d.dest); err != nil {
			t.Fatal(err)
		}
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	count.take()
	ov, err := e.st.OutboundView(ctx, "PJSIP/alice", d.dest)
	if err != nil || ov.Caller.User.Sheet.ID != "alice" || ov.Callee == nil || ov.Callee.User.Sheet.ID != "bob" {
		t.Fatalf("after SCRIPT FLUSH: %+v, %v", ov, err)
	}
	n, cmds := count.take()
	if n != 3 || slices.Index(cmds, "script") < 0 {
		t.Errorf("after SCRIPT FLUSH: %d round trips %v, want 3 (pipeline, SCRIPT LOAD, pipeline)", n, cmds)
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil {
		t.Fatal(err)
	}
	if n, _ := count.take(); n != 1 {
		t.Errorf("once reloaded: %d round trips, want 1", n)
	}
}
