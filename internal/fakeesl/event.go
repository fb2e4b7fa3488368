package fakeesl

import (
	"bufio"
	"bytes"
	"strconv"
	"strings"
)

// Event is a FreeSWITCH event: headers in the order FreeSWITCH writes them, and an optional
// body (BACKGROUND_JOB output, a sendevent body).
type Event struct {
	Headers []Header
	Body    string
}

// Name is the Event-Name header.
func (e *Event) Name() string { return e.Get("Event-Name") }

// Get returns the first header named name (case-insensitive).
func (e *Event) Get(name string) string {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// Has says whether the header is present.
func (e *Event) Has(name string) bool {
	for _, h := range e.Headers {
		if strings.EqualFold(h.Name, name) {
			return true
		}
	}
	return false
}

func (e *Event) add(name, value string) { e.Headers = append(e.Headers, Header{name, value}) }

// clone copies the header slice so a recorded event is not changed later.
func (e *Event) clone() *Event {
	c := &Event{Headers: make([]Header, len(e.Headers)), Body: e.Body}
	copy(c.Headers, e.Headers)
	return c
}

// plainBody renders the text/event-plain body: "Name: url-encoded value\n" per header, then
// either "\n" or, for an event with a body, "Content-Length: M\n\n" and the M bytes.
func (e *Event) plainBody() []byte {
	var b strings.Builder
	b.Grow(64 * len(e.Headers))
	for _, h := range e.Headers {
		b.WriteString(h.Name)
		b.WriteString(": ")
		b.WriteString(urlEncode(h.Value))
		b.WriteByte('\n')
	}
	if e.Body != "" {
		b.WriteString("Content-Length: ")
		b.WriteString(strconv.Itoa(len(e.Body)))
		b.WriteString("\n\n")
		b.WriteString(e.Body)
	} else {
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// jsonBody renders the text/event-json body as cJSON does: keys in header order, values
// not URL-encoded, "/" not escaped, the body as "Content-Length" then "_body".
func (e *Event) jsonBody() []byte {
	var b strings.Builder
	b.Grow(64 * len(e.Headers))
	b.WriteByte('{')
	for i, h := range e.Headers {
		if i > 0 {
			b.WriteByte(',')
		}
		jsonString(&b, h.Name)
		b.WriteByte(':')
		jsonString(&b, h.Value)
	}
	if e.Body != "" {
		b.WriteString(`,"Content-Length":`)
		jsonString(&b, strconv.Itoa(len(e.Body)))
		b.WriteString(`,"_body":`)
		jsonString(&b, e.Body)
	}
	b.WriteByte('}')
	return []byte(b.String())
}

// frame wraps an event body in its Event Socket frame. Events put Content-Length before
// Content-Type, unlike api/response.
func eventFrame(contentType string, body []byte) []byte {
	var b strings.Builder
	b.Grow(len(body) + 64)
	b.WriteString("Content-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\nContent-Type: ")
	b.WriteString(contentType)
	b.WriteString("\n\n")
	b.Write(body)
	return []byte(b.String())
}

func jsonString(b *strings.Builder, s string) {
	const hex = "0123456789abcdef"
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			if c < 0x20 {
				b.WriteString(`\u00`)
				b.WriteByte(hex[c>>4])
				b.WriteByte(hex[c&15])
			} else {
				b.WriteByte(c)
			}
		}
	}
	b.WriteByte('"')
}

// urlUnsafe is switch_url_encode's set (switch_utils.c): these, control bytes and bytes
// above '~' become %XX; "/", "(", ")", ",", "'", "!", "*" and friends stay as they are.
const urlUnsafe = "\r\n \"#%&+:;<=>?@[\\]^`{|}"

// urlEncode encodes a header value as FreeSWITCH writes it in plain events and in the
// connect reply. A "%" already followed by two hex digits is kept (no double encoding).
func urlEncode(s string) string {
	need := false
	for i := 0; i < len(s); i++ {
		if unsafeByte(s[i]) {
			need = true
			break
		}
	}
	if !need {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			b.WriteByte(c)
			continue
		}
		if unsafeByte(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func unsafeByte(c byte) bool {
	return c < ' ' || c > '~' || strings.IndexByte(urlUnsafe, c) >= 0
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// urlDecode undoes urlEncode (and "+" stays "+", as FreeSWITCH's decoder leaves it).
func urlDecode(s string) string {
	if strings.IndexByte(s, '%') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			v, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(v))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// ParseEvent decodes a text/event-plain body (as FreeSWITCH sends it) into an Event with
// decoded values. Tests and the replay use it; the fake itself never reads events.
func ParseEvent(body []byte) (*Event, error) {
	// A reader sized to the body: events are decoded by the thousand in tests.
	size := len(body) + 16
	if size > 16<<10 {
		size = 16 << 10
	}
	fr := &FrameReader{r: bufio.NewReaderSize(bytes.NewReader(body), size), maxContentLength: DefaultMaxContentLength}
	m, err := fr.ReadMessage()
	if err != nil {
		return nil, err
	}
	e := &Event{Body: string(m.Body)}
	for _, h := range m.Headers {
		if strings.EqualFold(h.Name, "Content-Length") && m.Body != nil {
			continue
		}
		e.Headers = append(e.Headers, Header{h.Name, urlDecode(h.Value)})
	}
	return e, nil
}
