package config_test

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/embedded"
)

// TestEmbeddedStore runs the store over sophiad's embedded default (miniredis behind the
// same go-redis client): its scripts, pipelines and transactions must work there too,
// and survive a reopen.
func TestEmbeddedStore(t *testing.T) {
	dir := t.TempDir()
	db, err := embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOn(t, db.Client(), "")
	e.lyon(t)
	e.put(t, bobJSON)
	e.put(t, `{"id": "alice", "site": "lyon", "name": "Alice", "main_number": "+33478000001",
		"associated_numbers": [{"number": "+33612345678", "callback": true}],
		"device": {"id": "d", "endpoint": "PJSIP/alice"}, "audio": {"busy": "busy-fr"},
		"forwards": {"busy": {"enabled": true, "target": "user:bob"}}}`)
	if _, err := e.st.UpdateUser(ctx, "alice", 0, func(s *config.Sheet) error { s.DND = true; return nil }, "t"); err != nil {
		t.Fatal(err)
	}
	_, err = e.st.PutUser(ctx, sheet(t, `{"id": "carol", "name": "C", "main_number": "+33478000002"}`), "t")
	if got := problemsOf(t, err); !reflect.DeepEqual(got, []string{"main_number: +33478000002 already belongs to user bob"}) {
		t.Errorf("problems %q", got)
	}
	if err := e.st.MoveNumber(ctx, "+33612345678", "bob", "t"); err != nil {
		t.Fatal(err)
	}
	for num, want := range map[string]string{"+33478000001": "alice", "+33612345678": "bob"} {
		for range 2 {
			v, err := e.st.CallViewByNumber(ctx, num)
			if err != nil || v.User.Sheet.ID != want {
				t.Fatalf("CallViewByNumber(%s) = %v, %v; want %s", num, v, err, want)
			}
		}
	}
	// An outbound call's reads: the caller by device, the callee by number, together.
	for range 2 {
		v, err := e.st.CallViewByDevice(ctx, "PJSIP/alice")
		if err != nil || v.User.Sheet.ID != "alice" {
			t.Fatalf("CallViewByDevice(PJSIP/alice) = %v, %v", v, err)
		}
	}
	for _, num := range []string{"+33478000002", "+33499999999"} {
		ov, err := e.st.OutboundView(ctx, "PJSIP/alice", func(*config.Compiled) string { return num })
		if err != nil || ov.Caller.User.Sheet.ID != "alice" || ov.Number != num {
			t.Fatalf("OutboundView(PJSIP/alice, %s) = %+v, %v", num, ov, err)
		}
		if found := ov.Callee != nil && ov.Callee.User.Sheet.ID == "bob"; found != (num == "+33478000002") {
			t.Errorf("OutboundView(PJSIP/alice, %s): callee %+v, %v", num, ov.Callee, ov.CalleeErr)
		}
	}
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/nobody"); !errors.Is(err, config.ErrNotFound) {
		t.Errorf("CallViewByDevice of an unknown device: %v", err)
	}
	if _, err := e.st.SetDeviceState(ctx, "PJSIP/alice", config.DeviceOffline); err != nil {
		t.Fatal(err)
	}
	if n, err := e.st.AcquireCall(ctx, "alice", "c1", time.Minute); n != 1 || err != nil {
		t.Fatalf("AcquireCall = %d, %v", n, err)
	}
	if v, _ := e.st.CallView(ctx, "alice"); v.Device != config.DeviceOffline || v.ActiveCalls != 1 || !v.User.Sheet.DND {
		t.Errorf("view %+v", v)
	}
	_, secret, err := e.st.CreateToken(ctx, "admin", config.Scope{Kind: config.ScopeAll}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.SetPIN(ctx, "alice", "1234", "t"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteMedia(ctx, "busy-fr", "t"); !errors.Is(err, config.ErrInUse) {
		t.Errorf("DeleteMedia in use: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: everything is there.
	db, err = embedded.Open(embedded.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e = newEnvOn(t, db.Client(), "")
	if tok, err := e.st.Authenticate(ctx, secret); err != nil || tok.Name != "admin" {
		t.Errorf("Authenticate after reopen = %v, %v", tok, err)
	}
	if ok, err := e.st.CheckPIN(ctx, "alice", "1234"); !ok || err != nil {
		t.Errorf("CheckPIN after reopen = %v, %v", ok, err)
	}
	alice, err := e.st.GetUser(ctx, "alice")
	if err != nil || alice.Version != 3 || !alice.DND || !alice.Voicemail.PINSet {
		t.Errorf("alice after reopen: %+v, %v", alice, err)
	}
	if v, err := e.st.CallViewByNumber(ctx, "+33612345678"); err != nil || v.User.Sheet.ID != "bob" {
		t.Errorf("CallViewByNumber after reopen = %v, %v", v, err)
	}
}
