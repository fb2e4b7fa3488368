package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// mergePatch applies an RFC 7396 JSON merge patch to the JSON document doc and returns
// the result. It follows the RFC's MergePatch pseudocode exactly: an object patch merges
// member by member, null removes a member, anything else (arrays included) replaces the
// target whole. Numbers keep their exact text.
func mergePatch(doc, patch []byte) ([]byte, error) {
	target, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, err
	}
	return json.Marshal(mergeValue(target, p))
}

func mergeValue(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergeValue(t[k], v)
	}
	return t
}

var errTrailingData = errors.New("invalid JSON: data after the value")

// decodeJSON decodes exactly one JSON value, keeping numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errTrailingData
	}
	return v, nil
}
