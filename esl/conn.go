package esl

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/percipia/eslgo/command"
)

// errGone: the socket ended (FreeSWITCH's disconnect notice, or the connection closed).
var errGone = errors.New("esl: socket closed by FreeSWITCH")

// maxBacklog bounds the events a call may have read but not yet handled (read while it
// waited for a command's reply). A call never has more than a few dozen; past the bound
// the oldest are dropped and counted (sophia_esl_events_dropped_total{reason="queue_full"}).
const maxBacklog = 4096

// sock is one outbound Event Socket connection, the one FreeSWITCH's `socket`
// application opened for a call. One reader goroutine reads frames and hands them, in
// wire order, to the call's goroutine; the call's goroutine is the only one that writes
// and the only one that looks at frames, so nothing here needs a lock but the handoff.
type sock struct {
	a      *Adapter
	nc     net.Conn
	frames chan *frame
	done   chan struct{} // closed when the reader has returned
	rerr   error         // the reader's error, readable once done is closed
	wbuf   []byte

	backlog []*event // events read while waiting for a reply, oldest first
	gone    bool     // disconnect notice seen, or the connection closed

	// The controlled channel, as its events said.
	uuid      string
	hungup    bool
	completed bool // CHANNEL_HANGUP_COMPLETE seen
	lastSeq   uint64
}

func newSock(a *Adapter, nc net.Conn) *sock {
	s := &sock{a: a, nc: nc, frames: make(chan *frame, 64), done: make(chan struct{})}
	go s.read()
	return s
}

// read is the only reader of the socket: it decodes frames and hands them on in wire
// order. It returns when the socket fails or closes.
func (s *sock) read() {
	defer close(s.done)
	defer close(s.frames)
	br := bufio.NewReaderSize(s.nc, 32<<10)
	for {
		f, err := readFrame(br)
		if err != nil {
			s.rerr = err
			return
		}
		s.frames <- f
	}
}

// close closes the connection and waits for the reader, draining what it still hands on.
func (s *sock) close() {
	_ = s.nc.Close()
	for range s.frames {
	}
	<-s.done
}

// next returns the next frame, in wire order, from the reader.
func (s *sock) next(ctx context.Context) (*frame, error) {
	if s.gone {
		return nil, errGone
	}
	select {
	case f, ok := <-s.frames:
		if !ok {
			s.gone = true
			return nil, errGone
		}
		return f, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// write sends commands, each ended by a blank line, in one write.
func (s *sock) write(cmds ...string) error {
	s.wbuf = s.wbuf[:0]
	for _, c := range cmds {
		s.wbuf = append(s.wbuf, c...)
		s.wbuf = append(s.wbuf, "\n\n"...)
	}
	_ = s.nc.SetWriteDeadline(time.Now().Add(s.a.o.CommandTimeout))
	_, err := s.nc.Write(s.wbuf)
	if err != nil {
		return fmt.Errorf("write to FreeSWITCH: %w", err)
	}
	return nil
}

// render returns an eslgo command's wire text with LF line ends (FreeSWITCH accepts
// both; one convention keeps our frames and the traces comparable).
func render(c command.Command) string {
	return strings.ReplaceAll(c.BuildMessage(), "\r\n", "\n")
}

// commands sends cmds at once (pipelined) and returns their replies in order. Events
// that arrive meanwhile go to the backlog. A reply that does not start with +OK is an
// error naming the command, unless raw is set (getvar, api).
func (s *sock) commands(ctx context.Context, cmds ...string) ([]*frame, error) {
	if s.gone {
		return nil, errGone
	}
	if err := s.write(cmds...); err != nil {
		s.a.m.commands.WithLabelValues("error").Inc()
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.a.o.CommandTimeout)
	defer cancel()
	replies := make([]*frame, 0, len(cmds))
	for len(replies) < len(cmds) {
		f, err := s.next(ctx)
		if err != nil {
			if errors.Is(err, context.DeadlineExceeded) && parent.Err() == nil {
				s.a.m.commands.WithLabelValues("timeout").Inc()
				return replies, fmt.Errorf("%s: no reply from FreeSWITCH within %v", firstLine(cmds[len(replies)]), s.a.o.CommandTimeout)
			}
			s.a.m.commands.WithLabelValues("error").Inc()
			return replies, err
		}
		switch f.contentType() {
		case "command/reply", "api/response":
			replies = append(replies, f)
		default:
			s.take(f)
		}
	}
	s.a.m.commands.WithLabelValues("ok").Add(float64(len(cmds)))
	return replies, nil
}

// mustOK sends cmds and checks that every reply is +OK.
func (s *sock) mustOK(ctx context.Context, cmds ...string) error {
	replies, err := s.commands(ctx, cmds...)
	if err != nil {
		return err
	}
	for i, r := range replies {
		if t := r.replyText(); !strings.HasPrefix(t, "+OK") {
			return fmt.Errorf("%s: FreeSWITCH answered %q", firstLine(cmds[i]), strings.TrimSpace(t))
		}
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// take files a frame that is not a reply: an event into the backlog (its effect on
// the channel's state recorded at once), a disconnect notice into the socket's state.
func (s *sock) take(f *frame) {
	switch f.contentType() {
	case "text/event-plain":
		e, err := decodeEvent(f.body)
		if err != nil {
			s.a.m.dropped.WithLabelValues("undecodable").Inc()
			s.a.log.Warn("undecodable FreeSWITCH event", "err", err)
			return
		}
		s.observe(e)
		if len(s.backlog) >= maxBacklog {
			s.a.m.dropped.WithLabelValues("queue_full").Inc()
			s.backlog = s.backlog[1:]
		}
		s.backlog = append(s.backlog, e)
	case "text/disconnect-notice":
		if strings.EqualFold(f.hdrs.get("Content-Disposition"), "linger") {
			return // the channel is gone, the socket stays (linger): its events follow
		}
		s.gone = true
	}
}

// observe records what an event says about the controlled channel. FreeSWITCH numbers
// events with Event-Sequence; on one socket they arrive in that order (one writer), so a
// lower number is only counted, never reordered.
func (s *sock) observe(e *event) {
	if e.seq != 0 {
		if e.seq < s.lastSeq {
			s.a.m.dropped.WithLabelValues("out_of_order").Inc()
		}
		s.lastSeq = e.seq
	}
	switch e.name() {
	case "CHANNEL_HANGUP":
		s.hungup = true
	case "CHANNEL_HANGUP_COMPLETE":
		s.hungup, s.completed = true, true
	}
}

// event returns the next event of the controlled channel: the backlog first, then the
// socket. It returns errGone once the socket ended.
func (s *sock) event(ctx context.Context) (*event, error) {
	for {
		if len(s.backlog) > 0 {
			e := s.backlog[0]
			s.backlog[0] = nil
			s.backlog = s.backlog[1:]
			return e, nil
		}
		f, err := s.next(ctx)
		if err != nil {
			return nil, err
		}
		s.take(f)
		if s.gone && len(s.backlog) == 0 {
			return nil, errGone
		}
	}
}

// drain reads the socket until FreeSWITCH closes it, at most for d.
func (s *sock) drain(d time.Duration) {
	_ = s.nc.SetReadDeadline(time.Now().Add(d))
	for range s.frames {
	}
	s.gone = true
	if s.rerr != nil && !errors.Is(s.rerr, io.EOF) && !errors.Is(s.rerr, net.ErrClosed) {
		var ne net.Error
		if !errors.As(s.rerr, &ne) || !ne.Timeout() {
			s.a.log.Debug("outbound socket ended", "call_id", s.uuid, "err", s.rerr)
		}
	}
}
