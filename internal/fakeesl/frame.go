package fakeesl

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// DefaultMaxContentLength caps the body a frame may announce. FreeSWITCH bodies seen in the
// traces stay under 16 KiB (a CHANNEL_HANGUP_COMPLETE with every variable); 8 MiB leaves room
// for `show channels` on a busy box while refusing a length that would make us allocate
// gigabytes because a peer said so (eslgo's response.go trusts Content-Length blindly).
const DefaultMaxContentLength = 8 << 20

// maxHeaderBytes caps one header block (all lines before the blank line).
const maxHeaderBytes = 1 << 20

// Errors returned by the frame readers. Callers branch on them with errors.Is.
var (
	// ErrContentLength: the Content-Length header is not a plain decimal number
	// (negative, signed, empty, garbage, or does not fit an int).
	ErrContentLength = errors.New("fakeesl: invalid Content-Length")
	// ErrTooLarge: Content-Length above the reader's cap, or a header block above 1 MiB.
	ErrTooLarge = errors.New("fakeesl: frame too large")
	// ErrMalformedHeader: a header line without "Name:".
	ErrMalformedHeader = errors.New("fakeesl: malformed header line")
)

// Header is one "Name: value" line. Names keep the case they had on the wire.
type Header struct {
	Name  string
	Value string
}

// Message is one Event Socket frame: header lines, then Content-Length bytes of body.
// Command frames (client → FreeSWITCH) put the command line, e.g. "api status", in Command;
// frames FreeSWITCH sends have an empty Command.
type Message struct {
	Command string
	Headers []Header
	Body    []byte
}

// Get returns the first header named name, compared without regard to case as FreeSWITCH
// does (switch_event_get_header is case-insensitive; eslgo sends "Event-Uuid").
func (m *Message) Get(name string) string {
	v, _ := m.Lookup(name)
	return v
}

// Lookup is Get that also says whether the header was present.
func (m *Message) Lookup(name string) (string, bool) {
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value, true
		}
	}
	return "", false
}

// FrameReader reads Event Socket frames from a stream.
type FrameReader struct {
	r                *bufio.Reader
	maxContentLength int
}

// NewFrameReader reads frames from r; maxContentLength <= 0 means DefaultMaxContentLength.
func NewFrameReader(r io.Reader, maxContentLength int) *FrameReader {
	if maxContentLength <= 0 {
		maxContentLength = DefaultMaxContentLength
	}
	return &FrameReader{r: bufio.NewReaderSize(r, 16<<10), maxContentLength: maxContentLength}
}

// ReadCommand reads one client command: the first non-empty line is the command, the
// following lines up to a blank line are headers, then an optional Content-Length body.
// Blank lines before a command are skipped: eslgo ends every command with "\r\n\r\n", also
// after a body, which leaves an empty line in front of the next command. CRLF and LF line
// ends are both accepted.
func (fr *FrameReader) ReadCommand() (*Message, error) {
	return fr.read(true)
}

// ReadMessage reads one frame as FreeSWITCH sends it: header lines, a blank line, then
// Content-Length bytes when that header is present. Blank lines before it are skipped.
func (fr *FrameReader) ReadMessage() (*Message, error) {
	return fr.read(false)
}

func (fr *FrameReader) read(command bool) (*Message, error) {
	m := &Message{}
	total := 0
	started := false
	for {
		line, err := fr.readLine(&total)
		if err != nil {
			if errors.Is(err, io.EOF) && started {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if line == "" {
			if !started {
				continue
			}
			break
		}
		if !started {
			started = true
			if command {
				m.Command = strings.TrimSpace(line)
				continue
			}
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok || name == "" {
			if command {
				// FreeSWITCH ignores such a line in a command's header block.
				continue
			}
			return nil, fmt.Errorf("%w: %q", ErrMalformedHeader, truncate(line, 60))
		}
		m.Headers = append(m.Headers, Header{Name: strings.TrimSpace(name), Value: strings.TrimLeft(value, " \t")})
	}
	if cl, ok := m.Lookup("Content-Length"); ok {
		n, err := parseContentLength(cl)
		if err != nil {
			return nil, err
		}
		if n > fr.maxContentLength {
			return nil, fmt.Errorf("%w: Content-Length %d above cap %d", ErrTooLarge, n, fr.maxContentLength)
		}
		m.Body = make([]byte, n)
		if _, err := io.ReadFull(fr.r, m.Body); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("read %d body bytes: %w", n, err)
		}
	}
	return m, nil
}

// readLine returns one line without its "\n" or "\r\n", counting bytes against the cap.
func (fr *FrameReader) readLine(total *int) (string, error) {
	// Fast path: the whole line is in the buffer.
	if frag, err := fr.r.ReadSlice('\n'); err == nil {
		*total += len(frag)
		if *total > maxHeaderBytes {
			return "", fmt.Errorf("%w: header block above %d bytes", ErrTooLarge, maxHeaderBytes)
		}
		frag = bytes.TrimSuffix(frag[:len(frag)-1], []byte("\r"))
		return string(frag), nil
	} else if !errors.Is(err, bufio.ErrBufferFull) && !errors.Is(err, io.EOF) {
		return "", err
	} else {
		// Slow path below: the fragment read so far comes first.
		*total += len(frag)
		if *total > maxHeaderBytes {
			return "", fmt.Errorf("%w: header block above %d bytes", ErrTooLarge, maxHeaderBytes)
		}
		if errors.Is(err, io.EOF) {
			if len(frag) > 0 {
				return "", io.ErrUnexpectedEOF
			}
			return "", err
		}
		return fr.readLineSlow(total, append([]byte(nil), frag...))
	}
}

func (fr *FrameReader) readLineSlow(total *int, buf []byte) (string, error) {
	for {
		frag, err := fr.r.ReadSlice('\n')
		*total += len(frag)
		if *total > maxHeaderBytes {
			return "", fmt.Errorf("%w: header block above %d bytes", ErrTooLarge, maxHeaderBytes)
		}
		buf = append(buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		if len(buf) > 0 && errors.Is(err, io.EOF) {
			return "", io.ErrUnexpectedEOF
		}
		return "", err
	}
	buf = bytes.TrimSuffix(buf, []byte("\n"))
	buf = bytes.TrimSuffix(buf, []byte("\r"))
	return string(buf), nil
}

// parseContentLength accepts only ASCII digits: "-1", "+5", " 5", "0x10", "" are refused.
func parseContentLength(s string) (int, error) {
	s = strings.TrimRight(s, " \t")
	if s == "" || len(s) > 12 {
		return 0, fmt.Errorf("%w: %q", ErrContentLength, truncate(s, 20))
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%w: %q", ErrContentLength, truncate(s, 20))
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrContentLength, s)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
