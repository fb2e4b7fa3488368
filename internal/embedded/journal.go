package embedded

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"github.com/redis/go-redis/v9"
)

// A journal is a sequence of records:
//
//	u32 payload length | u32 CRC-32C of payload | payload
//	payload = u8 flags (1: MULTI/EXEC) | uvarint #commands | per command:
//	          uvarint #args | per arg: uvarint length, bytes
//
// Arguments are the bytes the server received, so replay sends the same commands.

const (
	recordHeader = 8
	flagTx       = 1
	maxRecord    = 1 << 30 // a larger length is a torn or foreign file
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// record is one journal entry: the commands of one write, or of one transaction.
type record struct {
	tx   bool
	cmds [][][]byte
}

func (r record) encode() []byte {
	n := 1 + binary.MaxVarintLen64
	for _, c := range r.cmds {
		n += binary.MaxVarintLen64
		for _, a := range c {
			n += binary.MaxVarintLen64 + len(a)
		}
	}
	b := make([]byte, recordHeader, recordHeader+n)
	var flags byte
	if r.tx {
		flags = flagTx
	}
	b = append(b, flags)
	b = binary.AppendUvarint(b, uint64(len(r.cmds)))
	for _, c := range r.cmds {
		b = binary.AppendUvarint(b, uint64(len(c)))
		for _, a := range c {
			b = binary.AppendUvarint(b, uint64(len(a)))
			b = append(b, a...)
		}
	}
	payload := b[recordHeader:]
	binary.LittleEndian.PutUint32(b[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[4:8], crc32.Checksum(payload, crcTable))
	return b
}

var errCorrupt = errors.New("corrupt journal record")

func decodeRecord(p []byte) (record, error) {
	var r record
	if len(p) < 1 {
		return r, errCorrupt
	}
	r.tx = p[0]&flagTx != 0
	p = p[1:]
	next := func() (uint64, bool) {
		v, n := binary.Uvarint(p)
		if n <= 0 {
			return 0, false
		}
		p = p[n:]
		return v, true
	}
	ncmds, ok := next()
	if !ok || ncmds > uint64(len(p)) {
		return r, errCorrupt
	}
	r.cmds = make([][][]byte, 0, ncmds)
	for range ncmds {
		nargs, ok := next()
		if !ok || nargs == 0 || nargs > uint64(len(p)) {
			return r, errCorrupt
		}
		cmd := make([][]byte, 0, nargs)
		for range nargs {
			l, ok := next()
			if !ok || l > uint64(len(p)) {
				return r, errCorrupt
			}
			cmd = append(cmd, p[:l:l])
			p = p[l:]
		}
		r.cmds = append(r.cmds, cmd)
	}
	if len(p) != 0 {
		return r, errCorrupt
	}
	return r, nil
}

// apply replays r through c. Error replies are expected (a command that failed when it
// first ran fails the same way again) and ignored; a transport error is returned.
func (r record) apply(c *redis.Client) error {
	ctx := context.Background()
	args := func(cmd [][]byte) []any {
		a := make([]any, len(cmd))
		for i, x := range cmd {
			a[i] = x
		}
		return a
	}
	if r.tx {
		_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, cmd := range r.cmds {
				p.Do(ctx, args(cmd)...)
			}
			return nil
		})
		if err != nil && !isReply(err) {
			return fmt.Errorf("embedded: replay transaction: %w", err)
		}
		return nil
	}
	for _, cmd := range r.cmds {
		if err := c.Do(ctx, args(cmd)...).Err(); err != nil && !isReply(err) {
			return fmt.Errorf("embedded: replay %s: %w", cmd[0], err)
		}
	}
	return nil
}

// isReply reports whether err is the server's answer (an error reply or a nil), as
// opposed to a failure to talk to it.
func isReply(err error) bool {
	var re redis.Error
	return errors.Is(err, redis.Nil) || errors.As(err, &re)
}

// replayJournal calls fn for each whole, intact record of the journal at path, in order.
// It returns how many were replayed and the offset just past the last one: anything
// after it is a torn tail. A missing journal is an empty one.
func replayJournal(path string, fn func(record) error) (n int, good int64, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("embedded: open journal: %w", err)
	}
	defer f.Close()
	rd := bufio.NewReaderSize(f, 1<<16)
	var hdr [recordHeader]byte
	for {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return n, good, nil // clean end, or a torn header
		}
		size := binary.LittleEndian.Uint32(hdr[0:4])
		if size == 0 || size > maxRecord {
			return n, good, nil
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(rd, payload); err != nil {
			return n, good, nil
		}
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return n, good, nil
		}
		r, err := decodeRecord(payload)
		if err != nil {
			return n, good, nil
		}
		if err := fn(r); err != nil {
			return n, good, err
		}
		n++
		good += recordHeader + int64(size)
	}
}
