package esl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
)

// Frame limits. FreeSWITCH's largest frames in the traces are CHANNEL_HANGUP_COMPLETE
// events with every variable (~16 KiB) and the outbound `connect` reply; 4 MiB leaves
// room for `show registrations as json` on a large box while refusing a Content-Length
// that would make us allocate gigabytes because a peer said so (eslgo's response.go
// trusts it, and a negative one panics there).
const (
	maxBody        = 4 << 20
	maxHeaderBlock = 1 << 20
)

// Errors of the frame reader.
var (
	errContentLength = errors.New("esl: invalid Content-Length")
	errTooLarge      = errors.New("esl: frame too large")
	errHeaderLine    = errors.New("esl: malformed header line")
)

// header is one "Name: value" line; the value is kept as it came on the wire
// (URL-encoded in plain events and in the connect reply).
type header struct{ name, value string }

// headers is a frame's or event's header list, in wire order.
type headers []header

// raw returns the first value of name as on the wire. Names compare without regard to
// case, as FreeSWITCH's switch_event_get_header does.
func (hs headers) raw(name string) (string, bool) {
	for _, h := range hs {
		if strings.EqualFold(h.name, name) {
			return h.value, true
		}
	}
	return "", false
}

// get returns the URL-decoded value of name ("" when absent or undecodable).
func (hs headers) get(name string) string {
	v, _ := hs.raw(name)
	return decodeValue(v)
}

// decodeValue URL-decodes a header value; a value that does not decode is returned as
// is (FreeSWITCH only ever encodes, and a stray % must not lose the value).
func decodeValue(v string) string {
	if !strings.ContainsRune(v, '%') {
		return v
	}
	if d, err := url.PathUnescape(v); err == nil {
		return d
	}
	return v
}

// frame is one Event Socket message from FreeSWITCH: headers, then Content-Length bytes.
type frame struct {
	hdrs headers
	body []byte
}

func (f *frame) contentType() string { v, _ := f.hdrs.raw("Content-Type"); return v }

// replyText is a command/reply's Reply-Text, or an api/response's body.
func (f *frame) replyText() string {
	if f.contentType() == "api/response" {
		return string(f.body)
	}
	return f.hdrs.get("Reply-Text")
}

// readFrame reads one frame: header lines up to a blank line (blank lines before the
// first header are skipped), then the body when Content-Length says so. LF and CRLF
// line ends are both accepted.
func readFrame(br *bufio.Reader) (*frame, error) {
	f := &frame{}
	total := 0
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, fmt.Errorf("%w: header line over %d bytes", errTooLarge, br.Size())
		}
		if err != nil {
			if err == io.EOF && (len(line) > 0 || len(f.hdrs) > 0) {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		total += len(line)
		if total > maxHeaderBlock {
			return nil, fmt.Errorf("%w: header block over %d bytes", errTooLarge, maxHeaderBlock)
		}
		s := strings.TrimRight(string(line), "\r\n")
		if s == "" {
			if len(f.hdrs) == 0 {
				continue
			}
			break
		}
		name, value, ok := strings.Cut(s, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: %.40q", errHeaderLine, s)
		}
		f.hdrs = append(f.hdrs, header{name, strings.TrimLeft(value, " ")})
	}
	cl, ok := f.hdrs.raw("Content-Length")
	if !ok {
		return f, nil
	}
	n, err := parseLength(cl)
	if err != nil {
		return nil, err
	}
	f.body = make([]byte, n)
	if _, err := io.ReadFull(br, f.body); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return f, nil
}

// parseLength reads a Content-Length: plain decimal digits, at most maxBody.
func parseLength(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 10 {
		return 0, fmt.Errorf("%w: %.20q", errContentLength, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %.20q", errContentLength, s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %.20q", errContentLength, s)
	}
	if n > maxBody {
		return 0, fmt.Errorf("%w: Content-Length %d over %d", errTooLarge, n, maxBody)
	}
	return n, nil
}

// event is a decoded text/event-plain body.
type event struct {
	hdrs headers
	body []byte // an event's own body (BACKGROUND_JOB), if any
	seq  uint64 // Event-Sequence, 0 when absent
}

func (e *event) name() string             { return e.get("Event-Name") }
func (e *event) get(name string) string   { return e.hdrs.get(name) }
func (e *event) variable(n string) string { return e.hdrs.get("variable_" + n) }

// decodeEvent decodes a plain event body: "Name: value" lines with URL-encoded values,
// ended by a blank line; when the event carries a body of its own, Content-Length is its
// last header and the body follows the blank line.
func decodeEvent(body []byte) (*event, error) {
	e := &event{hdrs: make(headers, 0, bytes.Count(body, []byte{'\n'}))}
	s := string(body)
	for {
		i := strings.IndexByte(s, '\n')
		var line string
		if i < 0 {
			line, s = s, ""
		} else {
			line, s = s[:i], s[i+1:]
		}
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("%w in event: %.40q", errHeaderLine, line)
		}
		e.hdrs = append(e.hdrs, header{name, strings.TrimLeft(value, " ")})
		if s == "" {
			break
		}
	}
	if len(e.hdrs) == 0 {
		return nil, fmt.Errorf("%w: empty event", errHeaderLine)
	}
	if cl, ok := e.hdrs.raw("Content-Length"); ok {
		n, err := parseLength(cl)
		if err != nil {
			return nil, fmt.Errorf("event body: %w", err)
		}
		if n > len(s) {
			return nil, fmt.Errorf("event body: %w: %d bytes announced, %d present", io.ErrUnexpectedEOF, n, len(s))
		}
		e.body = []byte(s[:n])
	}
	if v, ok := e.hdrs.raw("Event-Sequence"); ok {
		e.seq, _ = strconv.ParseUint(v, 10, 64)
	}
	return e, nil
}
