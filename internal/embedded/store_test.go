package embedded

import (
	"context"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

// TestConfigStoreOnEmbedded runs the config store's own Lua and transactions on the
// embedded server: a write is journaled, the call path's read-only script is not.
func TestConfigStoreOnEmbedded(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	store, err := config.New(config.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	sheet, err := config.DecodeSheet([]byte(`{"id":"alice","name":"Alice","main_number":"+33478000001","device":{"id":"d","endpoint":"PJSIP/alice"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutUser(ctx, sheet, "test"); err != nil {
		t.Fatal(err)
	}
	written := s.written.Load()
	for range 3 {
		v, err := store.CallViewByNumber(ctx, "+33478000001")
		if err != nil {
			t.Fatalf("CallViewByNumber: %v", err)
		}
		if v.User.Sheet.ID != "alice" {
			t.Errorf("call view of %s", v.User.Sheet.ID)
		}
	}
	for range 3 {
		ov, err := store.OutboundView(ctx, "PJSIP/alice", func(*config.Compiled) string { return "+33478000001" })
		if err != nil {
			t.Fatalf("OutboundView: %v", err)
		}
		if ov.Caller.User.Sheet.ID != "alice" {
			t.Errorf("outbound view of %s", ov.Caller.User.Sheet.ID)
		}
	}
	if got := s.written.Load(); got != written {
		t.Errorf("the call path's reads wrote %d journal bytes", got-written)
	}
	crash(s)
	s = open(t, dir)
	defer s.Close()
	store, _ = config.New(config.Options{Client: s.Client()})
	if u, err := store.GetUser(ctx, "alice"); err != nil || u.Version != 1 {
		t.Errorf("after a crash: %+v %v", u, err)
	}
	if v, err := store.CallViewByNumber(ctx, "+33478000001"); err != nil || v.User.Sheet.ID != "alice" {
		t.Errorf("call view after a crash: %v", err)
	}
}

// TestWatchOnEmbedded: the store's change notifications (PUBLISH from its Lua script)
// reach a subscriber on the embedded server. (A replay at Open publishes to no one: no
// client is connected yet.)
func TestWatchOnEmbedded(t *testing.T) {
	s := open(t, t.TempDir())
	defer s.Close()
	store, err := config.New(config.Options{Client: s.Client()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	changes, err := store.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sheet, _ := config.DecodeSheet([]byte(`{"id":"bob","name":"Bob","main_number":"+33478000002"}`))
	if _, err := store.PutUser(ctx, sheet, "test"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case c := <-changes:
			if c.Kind == config.KindUser && c.ID == "bob" && c.Op == config.OpCreate {
				return
			}
		case <-deadline:
			t.Fatal("no change notification for bob")
		}
	}
}
