package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"testing"
)

// The API's throughput over real HTTP on loopback, against the shared redis-server. The
// figures include the client's side (same process): they bound what one sophiad serves.

func benchRequest(b *testing.B, fx *fixture, method, path string, body []byte, header ...string) {
	req, err := http.NewRequest(method, fx.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+fx.admin)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := fx.srv.Client().Do(req)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode >= 300 {
		b.Fatalf("%s %s: %d", method, path, res.StatusCode)
	}
}

// benchSheet is user n's sheet at version (0: create), with a no-answer timeout.
func benchSheet(n, timeout, version int) []byte {
	return fmt.Appendf(nil, `{"site":"default","name":"Bench User","main_number":"+3347800%04[1]d",
 "associated_numbers":[{"number":"+336120%05[1]d","label":"mobile","callback":true,"presentation":true}],
 "device":{"id":"d","endpoint":"PJSIP/bench%[1]d"},
 "forwards":{"busy":{"enabled":true,"target":"voicemail"},"no_answer":{"enabled":true,"target":"voicemail","timeout_s":%[2]d}},
 "version":%[3]d}`, n, timeout, version)
}

func BenchmarkAPIGetUser(b *testing.B) {
	fx := newFixture(b, realRedis)
	fx.must(201, fx.admin, "PUT", "/v1/users/alice", benchSheet(1, 20, 0))
	b.ReportAllocs()
	for b.Loop() {
		benchRequest(b, fx, "GET", "/v1/users/alice", nil)
	}
}

func BenchmarkAPIGetUserParallel(b *testing.B) {
	fx := newFixture(b, realRedis)
	fx.must(201, fx.admin, "PUT", "/v1/users/alice", benchSheet(1, 20, 0))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			benchRequest(b, fx, "GET", "/v1/users/alice", nil)
		}
	})
}

// BenchmarkAPIPutUser replaces a whole sheet, version by version: validation, the
// atomic write with its indexes and audit entry, the answer.
func BenchmarkAPIPutUser(b *testing.B) {
	fx := newFixture(b, realRedis)
	fx.must(201, fx.admin, "PUT", "/v1/users/alice", benchSheet(1, 20, 0))
	v := 1
	b.ReportAllocs()
	for b.Loop() {
		benchRequest(b, fx, "PUT", "/v1/users/alice", benchSheet(1, 20+v%60, v))
		v++
	}
}

// BenchmarkAPIPutUserParallel writes distinct users at once.
func BenchmarkAPIPutUserParallel(b *testing.B) {
	fx := newFixture(b, realRedis)
	var next atomic.Int64
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := int(next.Add(1))
		id := fmt.Sprintf("/v1/users/u%d", n)
		fx.must(201, fx.admin, "PUT", id, benchSheet(n, 20, 0))
		v := 1
		for pb.Next() {
			benchRequest(b, fx, "PUT", id, benchSheet(n, 20+v%60, v))
			v++
		}
	})
}

// BenchmarkAPIPutUserEmbedded is BenchmarkAPIPutUser on the embedded store: each write
// is fsynced to its journal before the answer.
func BenchmarkAPIPutUserEmbedded(b *testing.B) {
	fx := newFixture(b, embeddedStore)
	fx.must(201, fx.admin, "PUT", "/v1/users/alice", benchSheet(1, 20, 0))
	v := 1
	b.ReportAllocs()
	for b.Loop() {
		benchRequest(b, fx, "PUT", "/v1/users/alice", benchSheet(1, 20+v%60, v))
		v++
	}
}
