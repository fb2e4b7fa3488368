package config_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// A user other sheets forward to, ring or supervise cannot be deleted: their user:<id>
// targets would dangle and calls would find nobody there.
func TestDeleteReferencedUserRefused(t *testing.T) {
	e := newEnv(t)
	e.put(t, `{"id":"bob","name":"Bob","main_number":"+33478000002"}`)
	alice := e.put(t, `{"id":"alice","name":"Alice","main_number":"+33478000001",
		"function_keys":[{"position":1,"type":"supervision","target":"user:bob"}],
		"forwards":{"busy":{"enabled":true,"target":"user:bob"}}}`)
	e.put(t, `{"id":"carol","name":"Carol","main_number":"+33478000003","forwards":{"no_answer":{"enabled":false,"target":"user:bob","timeout_s":20}}}`)

	if got := e.set(t, e.keys.UserRefs("bob")); !reflect.DeepEqual(got, []string{"alice", "carol"}) {
		t.Fatalf("user-refs of bob = %v, want [alice carol]", got)
	}
	err := e.st.DeleteUser(ctx, "bob", 0, "admin")
	var inUse *config.InUseError
	if !errors.As(err, &inUse) || !errors.Is(err, config.ErrInUse) || !reflect.DeepEqual(inUse.Users, []string{"alice", "carol"}) {
		t.Fatalf("DeleteUser(bob) referenced by alice and carol: %v", err)
	}
	if _, err := e.st.GetUser(ctx, "bob"); err != nil {
		t.Fatalf("bob after a refused delete: %v", err)
	}

	// alice drops one reference: she still supervises bob.
	if _, err := e.st.UpdateUser(ctx, "alice", alice.Version, func(s *config.Sheet) error {
		s.Forwards.Busy = config.Forward{}
		return nil
	}, "admin"); err != nil {
		t.Fatal(err)
	}
	if got := e.set(t, e.keys.UserRefs("bob")); !reflect.DeepEqual(got, []string{"alice", "carol"}) {
		t.Errorf("user-refs of bob after alice kept her key = %v", got)
	}
	for _, id := range []string{"alice", "carol"} {
		if _, err := e.st.UpdateUser(ctx, id, 0, func(s *config.Sheet) error {
			s.FunctionKeys = []config.FunctionKey{}
			s.Forwards.NoAnswer.Target = ""
			return nil
		}, "admin"); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.set(t, e.keys.UserRefs("bob")); len(got) != 0 {
		t.Errorf("user-refs of bob with no referrer = %v", got)
	}
	if err := e.st.DeleteUser(ctx, "bob", 0, "admin"); err != nil {
		t.Fatalf("DeleteUser(bob) unreferenced: %v", err)
	}

	// A deleted referrer releases its references.
	e.put(t, `{"id":"bob","name":"Bob","main_number":"+33478000002"}`)
	e.put(t, `{"id":"dan","name":"Dan","main_number":"+33478000004","forwards":{"unconditional":{"enabled":true,"target":"user:bob"}}}`)
	if err := e.st.DeleteUser(ctx, "dan", 0, "admin"); err != nil {
		t.Fatal(err)
	}
	if err := e.st.DeleteUser(ctx, "bob", 0, "admin"); err != nil {
		t.Errorf("DeleteUser(bob) after its only referrer was deleted: %v", err)
	}
}
