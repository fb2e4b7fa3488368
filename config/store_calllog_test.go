package config_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
)

func TestCallLog(t *testing.T) {
	e := newEnv(t, func(o *config.Options) { o.CallLogLimit = 3 })
	at := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for i := range 5 {
		rec := &config.CallRecord{ID: fmt.Sprintf("c%d", i), Direction: "inbound", From: "+33145000000",
			To: "+33478000001", Start: at, End: at.Add(time.Minute), Outcome: "missed", By: "alice", Reason: "no_answer"}
		if err := e.st.RecordCall(ctx, rec, []string{"alice", "bob"}, []string{"", "outbound"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := e.st.CallLog(ctx, "alice", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].ID != "c4" || got[2].ID != "c2" || got[0].Direction != "inbound" || !got[0].End.Equal(at.Add(time.Minute)) {
		t.Errorf("alice's log = %+v, want c4, c3, c2 (bounded to 3, newest first)", got)
	}
	bob, err := e.st.CallLog(ctx, "bob", 1)
	if err != nil || len(bob) != 1 || bob[0].ID != "c4" || bob[0].Direction != "outbound" {
		t.Errorf("bob's log (limit 1) = %v %+v, want c4 outbound", err, bob)
	}
	if none, err := e.st.CallLog(ctx, "carol", 10); err != nil || len(none) != 0 {
		t.Errorf("carol's log = %v %+v, want empty", err, none)
	}
	if err := e.st.RecordCall(ctx, &config.CallRecord{ID: "x"}, []string{"alice"}, nil); err == nil {
		t.Error("a record without outcome was accepted")
	}
	if n, _ := e.rdb.LLen(ctx, e.keys.CallLog("alice")).Result(); n != 3 {
		t.Errorf("%d records stored, want 3", n)
	}
}

// The user placing a call is found by the device it comes from.
func TestUserByDevice(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id":"alice","name":"Alice","main_number":"+33478000001","device":{"id":"d","endpoint":"PJSIP/alice"}}`)
	if v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil || v.User.Sheet.ID != "alice" {
		t.Errorf("CallViewByDevice = %v, %v", v, err)
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/nobody"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("unknown device: %v, want ErrNotFound", err)
	}
}
