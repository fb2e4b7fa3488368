package config

import "log/slog"

// Secret holds a PIN or a token secret. It prints, logs and marshals as "[redacted]", so a
// secret passed by mistake to fmt, slog or encoding/json never leaves the process; code
// that must use the value (hashing it) converts it explicitly: string(s).
type Secret string

const redacted = "[redacted]"

// String implements fmt.Stringer (and so %s, %v).
func (Secret) String() string { return redacted }

// GoString implements fmt.GoStringer (%#v).
func (Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler: a secret is never written out.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (map keys, text encoders, slog's JSON
// handler for nested values).
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
