package config_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/crypto/bcrypt"

	"github.com/sophia-pbx/sophia/config"
	"github.com/sophia-pbx/sophia/internal/redistest"
)

// clock is a settable clock for the store's Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 29, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a store on the shared test Redis under a prefix of the test's own.
type env struct {
	st    *config.Store
	rdb   redis.UniversalClient
	clock *clock
	keys  config.Keys
}

func newEnv(t testing.TB, edit ...func(*config.Options)) *env {
	t.Helper()
	rdb, prefix := redistest.New(t)
	return newEnvOn(t, rdb, prefix, edit...)
}

func newEnvOn(t testing.TB, rdb redis.UniversalClient, prefix string, edit ...func(*config.Options)) *env {
	t.Helper()
	c := newClock()
	o := config.Options{Client: rdb, Prefix: prefix, Now: c.Now, PINCost: bcrypt.MinCost}
	for _, e := range edit {
		e(&o)
	}
	st, err := config.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return &env{st: st, rdb: rdb, clock: c, keys: st.Keys()}
}

var ctx = context.Background()

// sheet decodes a sheet from JSON (the API's path) or fails the test.
func sheet(t testing.TB, js string) *config.Sheet {
	t.Helper()
	s, err := config.DecodeSheet([]byte(js))
	if err != nil {
		t.Fatalf("DecodeSheet(%s): %v", js, err)
	}
	return s
}

func (e *env) put(t testing.TB, js string) *config.Sheet {
	t.Helper()
	s, err := e.st.PutUser(ctx, sheet(t, js), "test")
	if err != nil {
		t.Fatalf("PutUser(%s): %v", js, err)
	}
	return s
}

// lyon creates the site of the testdata sheets and the media they name.
func (e *env) lyon(t testing.TB) *config.Site {
	t.Helper()
	site := loadSite(t, "testdata/site-lyon.json")
	got, err := e.st.PutSite(ctx, site, "test")
	if err != nil {
		t.Fatalf("PutSite(lyon): %v", err)
	}
	for _, m := range []string{"busy-fr", "ring-lyon", "moh-corporate"} {
		if _, err := e.st.PutMedia(ctx, m, wav(8000, 1, 16, 1, 100), "test"); err != nil {
			t.Fatalf("PutMedia(%s): %v", m, err)
		}
	}
	return got
}

// problems returns err's problems as "path: reason", failing unless err is a
// *ValidationError.
func problemsOf(t testing.TB, err error) []string {
	t.Helper()
	var ve *config.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *ValidationError", err, err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	return out
}

// index returns a Redis hash as a map.
func (e *env) hash(t testing.TB, key string) map[string]string {
	t.Helper()
	m, err := e.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) zset(t testing.TB, key string) []string {
	t.Helper()
	m, err := e.rdb.ZRange(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func (e *env) set(t testing.TB, key string) []string {
	t.Helper()
	m, err := e.rdb.SMembers(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(m)
	return m
}

// wav returns a RIFF/WAVE file: a 440 Hz tone of ms milliseconds in the given format
// (formatTag 1 is PCM; 3 is IEEE float, for refusals).
func wav(rate, channels, bits, formatTag, ms int) []byte {
	frames := rate * ms / 1000
	block := channels * bits / 8
	var data bytes.Buffer
	for i := range frames {
		v := math.Sin(2 * math.Pi * 440 * float64(i) / float64(rate))
		for range channels {
			switch bits {
			case 8:
				data.WriteByte(byte(128 + 100*v))
			case 16:
				binary.Write(&data, binary.LittleEndian, int16(20000*v))
			case 24:
				s := int32(4000000 * v)
				data.Write([]byte{byte(s), byte(s >> 8), byte(s >> 16)})
			case 32:
				binary.Write(&data, binary.LittleEndian, float32(v))
			}
		}
	}
	var b bytes.Buffer
	b.WriteString("RIFF")
	binary.Write(&b, binary.LittleEndian, uint32(4+8+16+8+data.Len()))
	b.WriteString("WAVE")
	b.WriteString("fmt ")
	binary.Write(&b, binary.LittleEndian, uint32(16))
	binary.Write(&b, binary.LittleEndian, uint16(formatTag))
	binary.Write(&b, binary.LittleEndian, uint16(channels))
	binary.Write(&b, binary.LittleEndian, uint32(rate))
	binary.Write(&b, binary.LittleEndian, uint32(rate*block))
	binary.Write(&b, binary.LittleEndian, uint16(block))
	binary.Write(&b, binary.LittleEndian, uint16(bits))
	b.WriteString("data")
	binary.Write(&b, binary.LittleEndian, uint32(data.Len()))
	b.Write(data.Bytes())
	return b.Bytes()
}

func contextWithCancel(t testing.TB) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c, cancel
}

// receive waits for one change, at most 5 s.
func receive(t testing.TB, ch <-chan config.Change) config.Change {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("change channel closed")
		}
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no change published within 5 s")
	}
	return config.Change{}
}
