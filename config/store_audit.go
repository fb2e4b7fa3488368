package config

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// AuditEntry is one change of one object, newest first in {P}:audit:<kind>:<id>.
type AuditEntry struct {
	At      time.Time     `json:"at"`
	Actor   string        `json:"actor"` // the API token's name, "sophiactl", "scheduler"…
	Op      string        `json:"op"`    // create, update, delete, "pin changed"
	Version int64         `json:"version,omitempty"`
	Changes []FieldChange `json:"changes"`
}

// FieldChange is one field's change: its path with JSON names, the old and the new value
// (null when absent). Secrets never appear: the PIN is not in the sheet, and token
// entries carry the name and scope only.
type FieldChange struct {
	Path string          `json:"path"`
	Old  json.RawMessage `json:"old"`
	New  json.RawMessage `json:"new"`
}

// Audit returns up to limit (1 to the audit bound; 0 means all kept) entries for an
// object, newest first. kind is KindUser, KindSite, KindMedia or KindToken.
func (s *Store) Audit(ctx context.Context, kind, id string, limit int) ([]AuditEntry, error) {
	if limit <= 0 || limit > s.auditLimit {
		limit = s.auditLimit
	}
	raw, err := s.rdb.LRange(ctx, s.keys.Audit(kind, id), 0, int64(limit-1)).Result()
	if err != nil {
		return nil, fmt.Errorf("read audit of %s %q: %w", kind, id, err)
	}
	out := make([]AuditEntry, 0, len(raw))
	for _, r := range raw {
		var e AuditEntry
		if err := json.Unmarshal([]byte(r), &e); err != nil {
			return nil, fmt.Errorf("decode audit of %s %q: %w", kind, id, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// diff returns the field-level changes from old to new (both JSON-marshalable), leaf by
// leaf, skipping the paths in ignore.
func diff(old, new any, ignore ...string) []FieldChange {
	a, b := toTree(old), toTree(new)
	var out []FieldChange
	walkDiff("", a, b, ignore, &out)
	return out
}

func toTree(v any) any {
	if v == nil {
		return nil
	}
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("diff: marshal %T: %v", v, err)) // plain data types only
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var t any
	if err := dec.Decode(&t); err != nil {
		panic(fmt.Sprintf("diff: decode own JSON: %v", err))
	}
	return t
}

func walkDiff(path string, a, b any, ignore []string, out *[]FieldChange) {
	if slices.Contains(ignore, path) {
		return
	}
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if (aIsMap || a == nil) && (bIsMap || b == nil) && (aIsMap || bIsMap) {
		keys := make([]string, 0, len(am)+len(bm))
		for k := range am {
			keys = append(keys, k)
		}
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			walkDiff(p, am[k], bm[k], ignore, out)
		}
		return
	}
	al, aIsList := a.([]any)
	bl, bIsList := b.([]any)
	if (aIsList || a == nil) && (bIsList || b == nil) && (aIsList || bIsList) {
		for i := range max(len(al), len(bl)) {
			var x, y any
			if i < len(al) {
				x = al[i]
			}
			if i < len(bl) {
				y = bl[i]
			}
			walkDiff(idx(path, i), x, y, ignore, out)
		}
		return
	}
	ra, rb := rawJSON(a), rawJSON(b)
	if !bytes.Equal(ra, rb) {
		*out = append(*out, FieldChange{Path: path, Old: ra, New: rb})
	}
}

func rawJSON(v any) json.RawMessage {
	data, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("diff: marshal leaf: %v", err))
	}
	return data
}
