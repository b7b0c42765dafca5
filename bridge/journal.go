package bridge

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/shmkit/shmkit/internal/procinfo"
	"github.com/shmkit/shmkit/shm"
)

// journal is a Send's record, in shared memory, of the messages it has
// taken from its local queue and JetStream has not acknowledged yet. It
// outlives the bridge process (it lives in a segment the queue's other
// holders keep mapped), so a bridge that starts after a crash publishes
// them again under the same message ids.
type journal struct {
	h        *journalHeader
	heads    []*entryHeader
	payloads [][]byte
	me       uint64 // this process's procinfo word: the owner while we run
	prefix   string // the message-id prefix, from h.id
}

// journalName is the object name of the journal of queue name.
func journalName(queue string) string { return "bridge." + queue }

// JournalSize returns the bytes a segment needs for the journal of a Send
// with a window of window messages of up to maxMessage bytes, the object
// header included. Send sizes its entries for the largest message it can
// publish: the smaller of the local queue's MaxMessage and the server's
// max_payload (1 MiB by default) less about 70 bytes of id header. A named queue's
// segment sized for the queue plus this holds the journal next to it.
func JournalSize(window, maxMessage int) int64 {
	return int64(shm.ObjectHeaderSize + journalBody(window, maxMessage) + cacheLine)
}

// openJournal finds the journal called name in seg, or makes one of n
// entries of payload bytes, and takes it for this process. An existing
// journal keeps its own geometry: a message larger than its entries is
// refused by record.
func openJournal(seg *shm.Segment, name string, n, payload int) (*journal, error) {
	if n <= 0 || n > maxEntries {
		return nil, fmt.Errorf("bridge: window of %d messages, not in 1..%d", n, maxEntries)
	}
	sp := journalSpec(n, payload)
	obj, err := seg.Lookup(name, &sp)
	if errors.Is(err, shm.ErrNotExist) {
		obj, err = seg.Alloc(name, sp, func(body []byte) error {
			var id [8]byte
			if _, err := rand.Read(id[:]); err != nil {
				return err
			}
			binary.LittleEndian.PutUint64(body[offID:], binary.LittleEndian.Uint64(id[:])|1)
			binary.LittleEndian.PutUint32(body[offEntries:], uint32(n))
			binary.LittleEndian.PutUint32(body[offPayload:], uint32(payload))
			return nil
		})
		if errors.Is(err, shm.ErrExist) {
			obj, err = seg.Lookup(name, &sp) // made meanwhile by another process
		}
	}
	if errors.Is(err, shm.ErrNoSpace) {
		return nil, fmt.Errorf("bridge: journal %q of %d bytes: %w (size the segment for it, bridge.JournalSize, or pass Options.Journal)", name, JournalSize(n, payload), err)
	}
	if err != nil {
		return nil, fmt.Errorf("bridge: journal: %w", err)
	}
	h, heads, payloads, err := journalAt(obj.Body)
	if err != nil {
		return nil, fmt.Errorf("bridge: journal %q: %w", name, err)
	}
	j := &journal{h: h, heads: heads, payloads: payloads, me: procinfo.Self().Word()}
	j.prefix = strconv.FormatUint(h.id.Load(), 36) + "-"
	for {
		w := h.owner.Load()
		if w != 0 && (w == j.me || procinfo.AliveWord(w)) {
			return nil, fmt.Errorf("%w: journal %q, pid %d", ErrBusy, name, procinfo.FromWord(w).Pid)
		}
		if h.owner.CompareAndSwap(w, j.me) { // free or dead -> this process
			break
		}
	}
	for i, e := range heads {
		if e.state.Load() == entryHeld && (int(e.length.Load()) > len(payloads[i]) || e.seq.Load() >= h.next.Load()) {
			j.release() // refused: the next try reports the damage again, not ErrBusy
			return nil, fmt.Errorf("%w: journal %q entry %d: %d bytes, sequence %d of %d", ErrCorrupt, name, i, e.length.Load(), e.seq.Load(), h.next.Load())
		}
	}
	return j, nil
}

// release gives the journal up: another process may take it.
func (j *journal) release() { j.h.owner.CompareAndSwap(j.me, 0) } // this process -> free

// held returns the entries holding messages, oldest first.
func (j *journal) held() []int {
	var idx []int
	for i, e := range j.heads {
		if e.state.Load() == entryHeld {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int {
		sa, sb := j.heads[a].seq.Load(), j.heads[b].seq.Load()
		switch {
		case sa < sb:
			return -1
		case sa > sb:
			return 1
		}
		return 0
	})
	return idx
}

// record copies msg into entry i under the next sequence number and
// publishes the entry.
func (j *journal) record(i int, msg []byte) error {
	p := j.payloads[i]
	if len(msg) > len(p) {
		return fmt.Errorf("bridge: %d-byte message, the journal holds %d", len(msg), len(p))
	}
	e := j.heads[i]
	seq := j.h.next.Load()
	copy(p, msg)
	e.length.Store(uint32(len(msg)))
	e.seq.Store(seq)
	j.h.next.Store(seq + 1)
	e.state.Store(entryHeld) // publishes: the message is in the journal
	return nil
}

// msg returns entry i's payload and its message id. The length is read
// again from shared memory, which any holder of the segment may write:
// one beyond the entry is ErrCorrupt (openJournal checked it only once).
func (j *journal) msg(i int) ([]byte, string, error) {
	e := j.heads[i]
	n := e.length.Load()
	if uint64(n) > uint64(len(j.payloads[i])) {
		return nil, "", fmt.Errorf("%w: journal entry %d: %d bytes, the entry holds %d", ErrCorrupt, i, n, len(j.payloads[i]))
	}
	var b [48]byte // prefix (at most maxIDPrefix) and 20 digits: one allocation, the string's
	id := strconv.AppendUint(append(b[:0], j.prefix...), e.seq.Load(), 10)
	return j.payloads[i][:n], string(id), nil
}

// free empties entry i: JetStream has the message.
func (j *journal) free(i int) { j.heads[i].state.Store(entryFree) } // held -> free
