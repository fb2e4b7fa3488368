package config_test

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/sophia-pbx/sophia/config"
)

// benchEnv is a store holding the full example sheet (testdata/sheet-good.json).
func benchEnv(b *testing.B) *env {
	e := newEnv(b)
	e.lyon(b)
	e.put(b, bobJSON)
	data, err := os.ReadFile("testdata/sheet-good.json")
	if err != nil {
		b.Fatal(err)
	}
	s := sheet(b, string(data))
	s.Version = 0
	if _, err := e.st.PutUser(ctx, s, "bench"); err != nil {
		b.Fatal(err)
	}
	if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil { // warm the cache
		b.Fatal(err)
	}
	return e
}

func BenchmarkCallViewByNumber(b *testing.B) {
	e := benchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallViewByNumberParallel(b *testing.B) {
	e := benchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.st.CallViewByNumber(ctx, "+33478000001"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkCallViewByDevice(b *testing.B) {
	e := benchEnv(b)
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil { // warm the device's owner
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCallViewByDeviceParallel(b *testing.B) {
	e := benchEnv(b)
	if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.st.CallViewByDevice(ctx, "PJSIP/alice"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkOutboundView: alice calls bob, both read in one round trip.
func BenchmarkOutboundView(b *testing.B) {
	e := benchEnv(b)
	dest := func(*config.Compiled) string { return "+33478000002" }
	for range 2 { // warm the caller, then the callee
		if _, err := e.st.OutboundView(ctx, "PJSIP/alice", dest); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		ov, err := e.st.OutboundView(ctx, "PJSIP/alice", dest)
		if err != nil || ov.Callee == nil {
			b.Fatal(ov, err)
		}
	}
}

func BenchmarkGetUser(b *testing.B) {
	e := benchEnv(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.st.GetUser(ctx, "alice"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetUserParallel(b *testing.B) {
	e := benchEnv(b)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := e.st.GetUser(ctx, "alice"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkPutUser(b *testing.B) {
	e := benchEnv(b)
	cur, err := e.st.GetUser(ctx, "alice")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		cur.Comment = strconv.Itoa(i)
		if cur, err = e.st.PutUser(ctx, cur, "bench"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPutUserParallel: each goroutine writes its own user (no contention).
func BenchmarkPutUserParallel(b *testing.B) {
	e := benchEnv(b)
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		id := next.Add(1)
		cur, err := e.st.PutUser(ctx, sheet(b, fmt.Sprintf(`{"id": "p%d", "site": "lyon", "name": "P", "main_number": "+334780003%02d"}`, id, id)), "bench")
		if err != nil {
			b.Error(err)
			return
		}
		i := 0
		for pb.Next() {
			i++
			cur.Comment = strconv.Itoa(i)
			if cur, err = e.st.PutUser(ctx, cur, "bench"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
