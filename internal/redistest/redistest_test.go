package redistest

import (
	"context"
	"testing"
)

func TestNewCleansOnlyItsPrefix(t *testing.T) {
	ctx := context.Background()
	c, prefix := New(t)
	other := Prefix()
	c.Set(ctx, other+":keep", "1", 0)
	defer c.Del(ctx, other+":keep")
	c.Set(ctx, "{"+prefix+"}:user:a", "1", 0)
	c.Set(ctx, prefix+":rt:{a}", "1", 0)
	Clean(t, c, prefix)
	if n := c.Exists(ctx, "{"+prefix+"}:user:a", prefix+":rt:{a}").Val(); n != 0 {
		t.Errorf("after Clean, %d of the prefix's keys remain, want 0", n)
	}
	if n := c.Exists(ctx, other+":keep").Val(); n != 1 {
		t.Errorf("Clean deleted another prefix's key")
	}
}

func TestStartStopRestart(t *testing.T) {
	ctx := context.Background()
	s := Start(t)
	c := s.Client()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := c.Get(ctx, "k").Err(); err == nil {
		t.Fatal("GET on a stopped server succeeded")
	}
	s.Restart()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
}
