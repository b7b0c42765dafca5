package manager

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The protocol: a request is an op byte, the object's id (uvarint) and the
// op's operands; a reply is a status byte (statusOK or an error code) and
// its results. Byte strings go as a uvarint length and the bytes. One
// request is one message of the transport and is applied by the server
// under the object's lock, whole or not at all.

// op is a request's operation.
type op uint8

const (
	opNew  op = iota + 1 // kind byte, type name: new object, reply id
	opPing               // no object: reply empty

	opDictGet     // key: found byte, value
	opDictSet     // key, value
	opDictDelete  // key: found byte
	opDictLen     // : uvarint
	opDictHas     // key: found byte
	opDictPage    // flags, from, to, after, limit: count, (key, value)*, more byte
	opDictCAS     // key, have-old byte, old, new: swapped byte
	opDictAdd     // key, tagged delta, width byte: new value
	opDictUpdate  // key, name, arg: new value
	opDictSetMany // count, (key, value)*
	opDictGetMany // count, key*: count, (found byte, value)*
	opDictClear   // :
	opDictSetDef  // key, value: the value now stored

	opListAppend // value: new len
	opListExtend // count, value*: new len
	opListInsert // index (varint), value
	opListIndex  // value: index
	opListRemove // value
	opListPop    // index (varint): value
	opListGet    // index (varint): value
	opListSet    // index (varint), value
	opListLen    // : uvarint
	opListSlice  // start, stop (varint), limit: count, value*
	opListAdd    // index, tagged delta, width byte: new value
	opListUpdate // index, name, arg: new value
	opListCAS    // index, old, new: swapped byte

	opCall // method name, arg: result
)

// Object kinds, opNew's operand.
const (
	kindDict = iota + 1
	kindList
	kindUser
)

// Reply status codes.
const (
	statusOK byte = iota
	statusNoObject
	statusIndex
	statusNotFound
	statusNotNumber
	statusNotRegistered
	statusUpdate // name, message
	statusBadRequest
	statusTooLarge
	statusType
)

var statusErrors = map[byte]error{
	statusIndex:         ErrIndex,
	statusNotFound:      ErrNotFound,
	statusNotNumber:     ErrNotNumber,
	statusNotRegistered: ErrNotRegistered,
	statusTooLarge:      ErrTooLarge,
	statusType:          ErrType,
}

// errNoObject: the server has no object of that id (another manager's
// handle?).
var errNoObject = errors.New("manager: no such object on the server")

// wbuf builds a request or reply.
type wbuf struct{ b []byte }

func (w *wbuf) byte(c byte)      { w.b = append(w.b, c) }
func (w *wbuf) uvarint(x uint64) { w.b = binary.AppendUvarint(w.b, x) }
func (w *wbuf) varint(x int64)   { w.b = binary.AppendVarint(w.b, x) }
func (w *wbuf) bytes(p []byte)   { w.uvarint(uint64(len(p))); w.b = append(w.b, p...) }
func (w *wbuf) str(s string)     { w.uvarint(uint64(len(s))); w.b = append(w.b, s...) }

// uvarintLen is the length of n as a uvarint.
func uvarintLen(n int) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// open reserves a length for the bytes appended next: fixLength fills it in.
func (w *wbuf) open() int             { w.b = append(w.b, 0, 0, 0, 0, 0); return len(w.b) }
func (w *wbuf) bool(v bool)           { w.byte(b2u(v)) }
func (w *wbuf) reset(o op, id uint64) { w.b = append(w.b[:0], byte(o)); w.uvarint(id) }

func b2u(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// rbuf reads a request or reply; the first malformed read sets err and
// every later read returns zero values.
type rbuf struct {
	b   []byte
	err error
}

func (r *rbuf) fail() {
	if r.err == nil {
		r.err = errMalformed
	}
	r.b = nil
}

var errMalformed = errors.New("manager: malformed message")

func (r *rbuf) byte() byte {
	if len(r.b) < 1 {
		r.fail()
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// peekByte returns the next byte without reading it (0 at the end).
func (r *rbuf) peekByte() byte {
	if len(r.b) < 1 {
		return 0
	}
	return r.b[0]
}

func (r *rbuf) bool() bool { return r.byte() != 0 }

func (r *rbuf) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *rbuf) varint() int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail()
		return 0
	}
	r.b = r.b[n:]
	return x
}

// bytes returns a length-prefixed byte string in place (not a copy).
func (r *rbuf) bytes() []byte {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return nil
	}
	p := r.b[:n:n]
	r.b = r.b[n:]
	return p
}

// count reads a uvarint count bounded by the bytes left (each item takes
// at least one byte), so that a hostile count allocates nothing huge.
func (r *rbuf) count() int {
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		r.fail()
		return 0
	}
	return int(n)
}

// replyError turns a reply's status into an error; nil for statusOK, and
// the rest of the reply is then in r.
func replyError(r *rbuf) error {
	s := r.byte()
	if r.err != nil {
		return fmt.Errorf("%w: empty reply", ErrBadReply)
	}
	switch s {
	case statusOK:
		return nil
	case statusNoObject:
		return errNoObject
	case statusUpdate:
		name, msg := string(r.bytes()), string(r.bytes())
		return &UpdateError{Name: name, Msg: msg}
	case statusBadRequest:
		return fmt.Errorf("%w: the server refused the request: %s", ErrBadReply, r.bytes())
	}
	if err, ok := statusErrors[s]; ok {
		return err
	}
	return fmt.Errorf("%w: status %d", ErrBadReply, s)
}
