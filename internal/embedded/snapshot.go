package embedded

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// The snapshot is JSON lines: a header, one line per key, a trailer counting them (a
// snapshot without its trailer is refused). Keys and values are base64 (JSON []byte), as
// they may be any bytes (media files); scores are strings, as JSON has no infinity.

const snapshotFormat = "sophia-embedded-snapshot"

type snapHeader struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Gen     uint64    `json:"gen"` // the journal generation to replay after loading
	At      time.Time `json:"at"`
}

type snapKey struct {
	Key    []byte      `json:"k"`
	Type   string      `json:"t"`
	Expiry int64       `json:"exp,omitempty"` // unix ms; 0: none
	String []byte      `json:"s,omitempty"`
	Hash   []snapField `json:"h,omitempty"`
	List   [][]byte    `json:"l,omitempty"`
	Set    [][]byte    `json:"m,omitempty"`
	ZSet   []snapScore `json:"z,omitempty"`
	End    bool        `json:"end,omitempty"` // the trailer
	Keys   int         `json:"keys,omitempty"`
}

type snapField struct {
	Field  []byte `json:"f"`
	Value  []byte `json:"v"`
	Expiry int64  `json:"exp,omitempty"`
}

type snapScore struct {
	Member []byte `json:"m"`
	Score  string `json:"s"`
}

func expiryAt(now time.Time, ttl time.Duration) int64 {
	if ttl <= 0 {
		return 0
	}
	return now.Add(ttl).UnixMilli()
}

// writeSnapshot writes m's database 0 to path atomically: temporary file, fsync,
// rename, directory fsync. It returns the number of keys written.
func writeSnapshot(path string, m *miniredis.Miniredis, gen uint64, now time.Time) (int, error) {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return 0, fmt.Errorf("embedded: create snapshot: %w", err)
	}
	defer os.Remove(tmp) // a no-op once renamed
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<16)
	enc := json.NewEncoder(w)
	if err := enc.Encode(snapHeader{Format: snapshotFormat, Version: 1, Gen: gen, At: now.UTC()}); err != nil {
		return 0, fmt.Errorf("embedded: write snapshot: %w", err)
	}
	keys := m.Keys()
	for _, k := range keys {
		e, err := dumpKey(m, k, now)
		if err != nil {
			return 0, err
		}
		if err := enc.Encode(e); err != nil {
			return 0, fmt.Errorf("embedded: write snapshot: %w", err)
		}
	}
	if err := enc.Encode(snapKey{End: true, Keys: len(keys)}); err != nil {
		return 0, fmt.Errorf("embedded: write snapshot: %w", err)
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("embedded: write snapshot: %w", err)
	}
	if err := f.Sync(); err != nil {
		return 0, fmt.Errorf("embedded: sync snapshot: %w", err)
	}
	if err := f.Close(); err != nil {
		return 0, fmt.Errorf("embedded: close snapshot: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("embedded: install snapshot: %w", err)
	}
	return len(keys), syncDir(filepath.Dir(path))
}

func dumpKey(m *miniredis.Miniredis, k string, now time.Time) (snapKey, error) {
	e := snapKey{Key: []byte(k), Type: m.Type(k), Expiry: expiryAt(now, m.TTL(k))}
	var err error
	switch e.Type {
	case "string":
		var v string
		v, err = m.Get(k)
		e.String = []byte(v)
	case "hash":
		var fields []string
		fields, err = m.HKeys(k)
		for _, f := range fields {
			e.Hash = append(e.Hash, snapField{Field: []byte(f), Value: []byte(m.HGet(k, f)),
				Expiry: expiryAt(now, m.HTTL(k, f))})
		}
	case "list":
		var l []string
		l, err = m.List(k)
		for _, v := range l {
			e.List = append(e.List, []byte(v))
		}
	case "set":
		var l []string
		l, err = m.Members(k)
		for _, v := range l {
			e.Set = append(e.Set, []byte(v))
		}
	case "zset":
		var z map[string]float64
		z, err = m.SortedSet(k)
		for member, score := range z {
			e.ZSet = append(e.ZSet, snapScore{Member: []byte(member), Score: strconv.FormatFloat(score, 'g', -1, 64)})
		}
	case "":
		// Expired between listing and reading: nothing to keep.
		return e, nil
	default:
		return e, fmt.Errorf("embedded: snapshot key %q: type %s is not supported", k, e.Type)
	}
	if err != nil {
		return e, fmt.Errorf("embedded: snapshot key %q: %w", k, err)
	}
	return e, nil
}

// readSnapshot loads the snapshot at path into m and returns the journal generation to
// replay after it. No snapshot yet is generation 0 with no keys.
func readSnapshot(path string, m *miniredis.Miniredis, now time.Time) (gen uint64, keys int, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("embedded: open snapshot: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(bufio.NewReaderSize(f, 1<<16))
	dec.DisallowUnknownFields()
	var h snapHeader
	if err := dec.Decode(&h); err != nil || h.Format != snapshotFormat || h.Version != 1 {
		return 0, 0, fmt.Errorf("embedded: %s is not a snapshot of this version (%v)", path, err)
	}
	for {
		var e snapKey
		if err := dec.Decode(&e); err != nil {
			return 0, 0, fmt.Errorf("embedded: snapshot %s is truncated or damaged after %d keys: %w", path, keys, err)
		}
		if e.End {
			if e.Keys != keys {
				return 0, 0, fmt.Errorf("embedded: snapshot %s holds %d keys, its trailer says %d", path, keys, e.Keys)
			}
			return h.Gen, keys, nil
		}
		if err := restoreKey(m, e, now); err != nil {
			return 0, 0, err
		}
		keys++
	}
}

func restoreKey(m *miniredis.Miniredis, e snapKey, now time.Time) error {
	k := string(e.Key)
	if e.Expiry != 0 && e.Expiry <= now.UnixMilli() {
		return nil // expired while the daemon was down
	}
	var err error
	switch e.Type {
	case "string":
		err = m.Set(k, string(e.String))
	case "hash":
		for _, f := range e.Hash {
			if f.Expiry != 0 && f.Expiry <= now.UnixMilli() {
				continue
			}
			m.HSet(k, string(f.Field), string(f.Value))
			if f.Expiry != 0 {
				m.HExpire(k, string(f.Field), time.UnixMilli(f.Expiry).Sub(now))
			}
		}
	case "list":
		for _, v := range e.List {
			if _, err = m.Push(k, string(v)); err != nil {
				break
			}
		}
	case "set":
		for _, v := range e.Set {
			if _, err = m.SetAdd(k, string(v)); err != nil {
				break
			}
		}
	case "zset":
		for _, z := range e.ZSet {
			var score float64
			if score, err = strconv.ParseFloat(z.Score, 64); err != nil {
				break
			}
			if _, err = m.ZAdd(k, score, string(z.Member)); err != nil {
				break
			}
		}
	default:
		err = fmt.Errorf("type %q is not supported", e.Type)
	}
	if err != nil {
		return fmt.Errorf("embedded: restore key %q: %w", k, err)
	}
	if e.Expiry != 0 && m.Exists(k) {
		m.SetTTL(k, time.UnixMilli(e.Expiry).Sub(now))
	}
	return nil
}
