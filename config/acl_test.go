package config_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// aclRule is README.md's least-privilege Redis user for sophiad with the default prefix
// (README.md, "Redis URLs"): its keys, its channels, the commands it runs.
const aclRule = "on >sophia-acl-test ~{sophia}:* ~sophia:* &sophia:* +@read +@write +@scripting +@pubsub +@transaction +@connection -@dangerous"

// TestLeastPrivilegeACL: sophiad's store does its work as a Redis user limited to the
// README's ACL rule: writes, the call path (script loading included), leases, device
// states, presence, the call log, change notes.
func TestLeastPrivilegeACL(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	admin := srv.Client()
	if err := admin.Do(ctx, append([]any{"ACL", "SETUSER", "sophia"}, splitFields(aclRule)...)...).Err(); err != nil {
		t.Fatal(err)
	}
	rdb, err := config.ParseRedisURL(fmt.Sprintf("redis://sophia:sophia-acl-test@%s/0", srv.Addr))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	st, err := config.New(config.Options{Client: rdb})
	if err != nil {
		t.Fatal(err)
	}
	changes, err := st.Watch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	notes, err := st.WatchPresence(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s := config.DefaultSheet()
	s.ID, s.Name, s.MainNumber = "alice", "Alice", "+33478000001"
	s.Device = &config.Device{ID: "desk", Endpoint: "PJSIP/alice"}
	if _, err := st.PutUser(ctx, &s, "test"); err != nil {
		t.Fatalf("PutUser: %v", err)
	}
	steps := []struct {
		name string
		do   func() error
	}{
		{"CallViewByNumber", func() error { _, err := st.CallViewByNumber(ctx, "+33478000001"); return err }},
		{"CallViewByDevice", func() error { _, err := st.CallViewByDevice(ctx, "PJSIP/alice"); return err }},
		{"SetDeviceState", func() error { _, err := st.SetDeviceState(ctx, "PJSIP/alice", config.DeviceOnline); return err }},
		{"AcquireCall", func() error { _, err := st.AcquireCall(ctx, "alice", "c1", time.Minute); return err }},
		{"RenewCall", func() error { return st.RenewCall(ctx, "alice", "c1", time.Minute) }},
		{"ReleaseCall", func() error { return st.ReleaseCall(ctx, "alice", "c1") }},
		{"SharePresence", func() error {
			return st.SharePresence(ctx, "alice", "d1", config.CallPresence{InCall: 1}, time.Minute)
		}},
		{"SharedPresence", func() error { _, err := st.SharedPresence(ctx, "alice", ""); return err }},
		{"SetPIN", func() error { return st.SetPIN(ctx, "alice", "480913", "test") }},
		{"Audit", func() error { _, err := st.Audit(ctx, config.KindUser, "alice", 5); return err }},
		{"CallLog", func() error { _, err := st.CallLog(ctx, "alice", 5); return err }},
		{"RecordCall", func() error {
			rec := &config.CallRecord{ID: "c1", Direction: "inbound", To: "+33478000001", Start: time.Now(), End: time.Now(), Outcome: "answered"}
			return st.RecordCall(ctx, rec, []string{"alice"}, []string{"inbound"})
		}},
		{"CreateToken, Authenticate", func() error {
			_, secret, err := st.CreateToken(ctx, "ops", config.Scope{Kind: config.ScopeAll}, "test")
			if err == nil {
				_, err = st.Authenticate(ctx, secret)
			}
			return err
		}},
		{"ListUsers", func() error { _, _, err := st.ListUsers(ctx, config.UserFilter{}); return err }},
		{"Ping", func() error { return st.Ping(ctx) }},
	}
	for _, step := range steps {
		if err := step.do(); err != nil {
			t.Errorf("%s as the ACL user: %v", step.name, err)
		}
	}
	select {
	case <-changes:
	case <-time.After(5 * time.Second):
		t.Error("no change note received as the ACL user")
	}
	select {
	case <-notes:
	case <-time.After(5 * time.Second):
		t.Error("no presence note received as the ACL user")
	}
}

func splitFields(s string) []any {
	var out []any
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' {
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}
