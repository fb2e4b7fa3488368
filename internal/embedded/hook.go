package embedded

import (
	"context"
	"crypto/sha1"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// hook journals every data-changing command sent through the store's client.
type hook struct{ s *Store }

// noEffect lists the commands miniredis does not mark read-only that change no data.
var noEffect = map[string]bool{
	"client": true, "cluster": true, "auth": true, "echo": true, "hello": true, "ping": true,
	"quit": true, "wait": true, "object": true, "subscribe": true, "unsubscribe": true,
	"psubscribe": true, "punsubscribe": true, "ssubscribe": true, "sunsubscribe": true,
	"publish": true, "spublish": true, "pubsub": true, "command": true, "info": true,
	"time": true, "memory": true, "xinfo": true, "multi": true, "exec": true,
	"discard": true, "watch": true, "unwatch": true, "script": true, "readonly": true,
}

// refused lists commands the embedded store cannot journal faithfully.
var refused = map[string]bool{"select": true, "move": true, "swapdb": true}

func (h hook) isWrite(c redis.Cmder) bool {
	name := c.Name()
	return !noEffect[name] && !h.s.m.IsReadOnlyCommand(name)
}

func (h hook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h hook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, c redis.Cmder) error {
		if refused[c.Name()] {
			err := fmt.Errorf("embedded store: %s is not supported (one database only)", strings.ToUpper(c.Name()))
			c.SetErr(err)
			return err
		}
		h.learnScript(c)
		if !h.isWrite(c) {
			return next(ctx, c)
		}
		return h.s.write(func() (record, bool, error) {
			// Inside the hooks, a command's own error is not set yet: go-redis sets it
			// from what next returns.
			err := next(ctx, c)
			r, ok := h.s.recordOf(false, []redis.Cmder{c}, func(redis.Cmder) error { return err })
			return r, ok, err
		})
	}
}

func (h hook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		writes := false
		for _, c := range cmds {
			if refused[c.Name()] {
				err := fmt.Errorf("embedded store: %s is not supported (one database only)", strings.ToUpper(c.Name()))
				c.SetErr(err)
				return err
			}
			h.learnScript(c)
			writes = writes || h.isWrite(c)
		}
		if !writes {
			return next(ctx, cmds)
		}
		tx := len(cmds) >= 2 && cmds[0].Name() == "multi" && cmds[len(cmds)-1].Name() == "exec"
		return h.s.write(func() (record, bool, error) {
			err := next(ctx, cmds)
			if tx {
				if errors.Is(err, redis.TxFailedErr) || redis.IsExecAbortError(err) {
					return record{}, false, err // nothing ran
				}
				r, ok := h.s.recordOf(true, cmds[1:len(cmds)-1], redis.Cmder.Err)
				return r, ok, err
			}
			r, ok := h.s.recordOf(false, cmds, redis.Cmder.Err)
			return r, ok, err
		})
	}
}

// learnScript remembers the body of every script the client sends, so that a later
// EVALSHA can be journaled as the EVAL it stands for.
func (h hook) learnScript(c redis.Cmder) {
	args := c.Args()
	var body string
	switch name := c.Name(); {
	case (name == "eval" || name == "eval_ro") && len(args) > 1:
		body, _ = args[1].(string)
	case name == "script" && len(args) > 2 && strings.EqualFold(fmt.Sprint(args[1]), "load"):
		body, _ = args[2].(string)
	default:
		return
	}
	if body == "" {
		return
	}
	sum := sha1.Sum([]byte(body))
	sha := hex.EncodeToString(sum[:])
	h.s.mu.Lock()
	h.s.scripts[sha] = body
	h.s.mu.Unlock()
}

// errUnjournaled marks a write whose journal record could not be built: it is made
// durable by a snapshot instead.
var errUnjournaled = errors.New("unjournaled write")

// write runs one data-changing command (or pipeline) with the journal lock held, appends
// its record, and returns once the record is on disk.
func (s *Store) write(run func() (record, bool, error)) error {
	s.mu.Lock()
	r, ok, err := run()
	var off int64
	var aerr error
	f := s.journal
	switch {
	case !ok:
		// Nothing to journal: a transaction that did not run, or a command rejected
		// before it ran.
	case r.cmds == nil:
		// A write the journal cannot express: make it durable with a snapshot.
		aerr = s.compactLocked()
	default:
		off, aerr = s.appendLocked(r)
		s.maybeCompactLocked()
	}
	s.mu.Unlock()
	if aerr != nil {
		return aerr
	}
	if off > 0 {
		if serr := s.syncTo(off, f); serr != nil {
			return serr
		}
	}
	return err
}

// recordOf builds the journal record of cmds, which ran; errOf gives each one's error.
// ok is false when there is nothing to journal; a record with nil cmds asks for a
// snapshot instead.
func (s *Store) recordOf(tx bool, cmds []redis.Cmder, errOf func(redis.Cmder) error) (record, bool) {
	r := record{tx: tx}
	for _, c := range cmds {
		if !tx && !ranOnServer(errOf(c)) {
			continue
		}
		if noEffect[c.Name()] || s.m.IsReadOnlyCommand(c.Name()) {
			continue
		}
		args, err := s.wireArgs(c)
		if err != nil {
			s.opts.Logger.Warn("embedded store: a write the journal cannot hold; taking a snapshot instead",
				"command", c.Name(), "err", err)
			return record{}, true // snapshot
		}
		r.cmds = append(r.cmds, args)
	}
	if r.cmds == nil {
		return r, false
	}
	return r, true
}

// ranOnServer reports whether c reached the server and may have changed data: it got a
// reply, possibly an error reply. A script refused with NOSCRIPT changed nothing.
func ranOnServer(err error) bool {
	if err == nil || errors.Is(err, redis.Nil) {
		return true
	}
	if strings.HasPrefix(err.Error(), "NOSCRIPT") {
		return false
	}
	var re redis.Error
	if errors.As(err, &re) {
		return true
	}
	// A transport error: it may or may not have run. Journal it; replaying a command
	// that had not run is what the caller asked for anyway.
	return true
}

// wireArgs returns c's arguments as the bytes go-redis sends (proto.Writer.WriteArg),
// with EVALSHA turned into EVAL.
func (s *Store) wireArgs(c redis.Cmder) ([][]byte, error) {
	in := c.Args()
	out := make([][]byte, len(in))
	for i, a := range in {
		b, err := argBytes(a)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	if c.Name() == "evalsha" && len(out) > 1 {
		body, ok := s.scripts[strings.ToLower(string(out[1]))]
		if !ok {
			return nil, errUnjournaled
		}
		out[0], out[1] = []byte("eval"), []byte(body)
	}
	return out, nil
}

// argBytes mirrors go-redis's proto.Writer.WriteArg for the types it accepts.
func argBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return []byte{}, nil
	case string:
		return []byte(v), nil
	case []byte:
		return append([]byte(nil), v...), nil
	case int:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(nil, v, 10), nil
	case uint:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(nil, v, 10), nil
	case float32:
		return strconv.AppendFloat(nil, float64(v), 'f', -1, 64), nil
	case float64:
		return strconv.AppendFloat(nil, v, 'f', -1, 64), nil
	case bool:
		if v {
			return []byte("1"), nil
		}
		return []byte("0"), nil
	case time.Time:
		return v.AppendFormat(nil, time.RFC3339Nano), nil
	case time.Duration:
		return strconv.AppendInt(nil, v.Nanoseconds(), 10), nil
	case net.IP:
		return append([]byte(nil), v...), nil
	case encoding.BinaryMarshaler:
		return v.MarshalBinary()
	}
	return nil, fmt.Errorf("embedded: cannot journal argument of type %T", v)
}
