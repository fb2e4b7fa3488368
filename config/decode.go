package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// DecodeSheet decodes a sheet as the API receives it: fields left out keep DefaultSheet's
// values, and decoding is strict. Every unknown field (matched exactly, not case-folded
// as encoding/json would) and every value of the wrong JSON type is reported at once, as
// a *ValidationError naming the field. "pin_set" is accepted and ignored: a sheet read
// from the API can be sent back as is. The result is neither normalized nor validated.
func DecodeSheet(data []byte) (*Sheet, error) {
	s := DefaultSheet()
	if err := decodeStrict(data, &s); err != nil {
		return nil, err
	}
	s.Voicemail.PINSet = false
	return &s, nil
}

// DecodeSite decodes a site as DecodeSheet does a sheet, starting from DefaultSite's
// values but for id and name, which a new site must name.
func DecodeSite(data []byte) (*Site, error) {
	s := DefaultSite()
	s.ID, s.Name = "", ""
	if err := decodeStrict(data, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// decodeStrict decodes data into v (a pointer to a struct already holding defaults). A
// first pass decodes into generic values and walks them against v's type, collecting
// every unknown field and type mismatch; only a clean input reaches json.Unmarshal.
func decodeStrict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return &ValidationError{Problems: []Problem{{"", "empty body: a JSON object is required"}}}
		}
		return &ValidationError{Problems: []Problem{{"", "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &ValidationError{Problems: []Problem{{"", "invalid JSON: data after the object"}}}
	}
	var ps problems
	checkJSON(raw, reflect.TypeOf(v).Elem(), "", &ps)
	if err := ps.err(); err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		// checkJSON accepts only what Unmarshal accepts; this is a guard, not a path.
		return &ValidationError{Problems: []Problem{{"", "invalid JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}}
	}
	return nil
}

// checkJSON checks a generically decoded value against the Go type it will decode into.
// null is accepted everywhere: encoding/json leaves the default in place (or nils a
// pointer or list, which Normalize turns back into an empty list).
func checkJSON(raw any, t reflect.Type, path string, ps *problems) {
	if raw == nil {
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		checkJSON(raw, t.Elem(), path, ps)
	case reflect.Struct:
		obj, ok := raw.(map[string]any)
		if !ok {
			ps.add(path, "must be an object")
			return
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		slices.Sort(keys) // problems in a stable order
		for _, k := range keys {
			sub := k
			if path != "" {
				sub = path + "." + k
			}
			ft, ok := fields[k]
			if !ok {
				ps.add(sub, "unknown field")
				continue
			}
			checkJSON(obj[k], ft, sub, ps)
		}
	case reflect.Slice:
		list, ok := raw.([]any)
		if !ok {
			ps.add(path, "must be a list")
			return
		}
		for i, e := range list {
			checkJSON(e, t.Elem(), idx(path, i), ps)
		}
	case reflect.String:
		if _, ok := raw.(string); !ok {
			ps.add(path, "must be a string")
		}
	case reflect.Bool:
		if _, ok := raw.(bool); !ok {
			ps.add(path, "must be true or false")
		}
	case reflect.Int, reflect.Int64, reflect.Int32:
		n, ok := raw.(json.Number)
		if !ok {
			ps.add(path, "must be an integer")
			return
		}
		if _, err := strconv.ParseInt(string(n), 10, t.Bits()); err != nil {
			ps.add(path, "must be an integer")
		}
	}
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of struct type t's fields to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

// Normalize puts a decoded sheet in canonical form before validation: no site means
// DefaultSiteID; numbers are E.164, parsed in region (the site's) when written nationally,
// or kept as internal extensions; lists are never null; weekdays are lower case; a MAC is
// lower case with colons. A value that does not parse is left as is for Validate to name.
func (s *Sheet) Normalize(region string) {
	s.Site = strings.TrimSpace(s.Site)
	if s.Site == "" {
		s.Site = DefaultSiteID
	}
	s.Name = strings.TrimSpace(s.Name)
	s.Timezone = strings.TrimSpace(s.Timezone)
	num := func(p *string) { *p = normalizeNumber(*p, region) }
	target := func(p *string) {
		t := strings.TrimSpace(*p)
		if t == TargetVoicemail || strings.HasPrefix(t, TargetUserPrefix) || t == "" {
			*p = t
			return
		}
		*p = normalizeNumber(t, region)
	}
	num(&s.MainNumber)
	if s.AssociatedNumbers == nil {
		s.AssociatedNumbers = []AssociatedNumber{}
	}
	for i := range s.AssociatedNumbers {
		num(&s.AssociatedNumbers[i].Number)
	}
	if s.ShortNumbers == nil {
		s.ShortNumbers = []ShortNumber{}
	}
	for i := range s.ShortNumbers {
		s.ShortNumbers[i].Code = strings.TrimSpace(s.ShortNumbers[i].Code)
		num(&s.ShortNumbers[i].Number)
	}
	if d := s.Device; d != nil {
		d.Endpoint = strings.TrimSpace(d.Endpoint)
		if mac, err := net.ParseMAC(strings.TrimSpace(d.MAC)); err == nil && len(mac) == 6 {
			d.MAC = mac.String()
		}
	}
	if s.FunctionKeys == nil {
		s.FunctionKeys = []FunctionKey{}
	}
	for i := range s.FunctionKeys {
		if k := &s.FunctionKeys[i]; k.Type == KeyShortcut {
			num(&k.Target)
		}
	}
	if s.PresentedNumber.Number != "" {
		num(&s.PresentedNumber.Number)
	}
	f := &s.Forwards
	target(&f.Unconditional.Target)
	target(&f.NoAnswer.Target)
	target(&f.NotConnected.Target)
	target(&f.Busy.Target)
	if f.Scheduled == nil {
		f.Scheduled = []ScheduledRule{}
	}
	for i := range f.Scheduled {
		r := &f.Scheduled[i]
		target(&r.Target)
		r.Start, r.End = strings.TrimSpace(r.Start), strings.TrimSpace(r.End)
		// Left out, start is midnight and end is midnight: from 18:00 on, until
		// 08:00, or (both left out, start = end) the whole day.
		if r.Start == "" {
			r.Start = "00:00"
		}
		if r.End == "" {
			r.End = "00:00"
		}
		for j := range r.Days {
			r.Days[j] = strings.ToLower(strings.TrimSpace(r.Days[j]))
		}
		if len(r.Days) == 0 {
			r.Days = nil // omitempty: an empty list does not survive a JSON round trip
		}
	}
	if f.SimultaneousRing.Targets == nil {
		f.SimultaneousRing.Targets = []string{}
	}
	for i := range f.SimultaneousRing.Targets {
		target(&f.SimultaneousRing.Targets[i])
	}
	v := &s.Voicemail
	v.Email.Address = strings.TrimSpace(v.Email.Address)
	if v.RemoteAccess.AllowedNumbers == nil {
		v.RemoteAccess.AllowedNumbers = []string{}
	}
	for i := range v.RemoteAccess.AllowedNumbers {
		num(&v.RemoteAccess.AllowedNumbers[i])
	}
}

// Normalize puts a decoded site in canonical form: the region upper case, the site
// number E.164 in that region, lists never null.
func (s *Site) Normalize() {
	s.Name = strings.TrimSpace(s.Name)
	s.Region = strings.ToUpper(strings.TrimSpace(s.Region))
	s.Timezone = strings.TrimSpace(s.Timezone)
	if s.Number != "" {
		s.Number = normalizeNumber(s.Number, s.Region)
	}
	if s.OutsideCalls.Allow == nil {
		s.OutsideCalls.Allow = []string{}
	}
	if s.OutsideCalls.Block == nil {
		s.OutsideCalls.Block = []string{}
	}
}

// normalizeNumber returns raw normalized, or trimmed as is when it does not parse.
func normalizeNumber(raw, region string) string {
	if n, err := NormalizeNumber(raw, region); err == nil {
		return n
	}
	return strings.TrimSpace(raw)
}
