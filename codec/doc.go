// Package codec turns Go values into bytes and back for shmkit's queues and
// pipes, the part that Python's multiprocessing does with pickle.
//
// A Codec[T] appends the encoding of a *T to a caller's buffer and decodes a
// *T from bytes. The buffer handed to Append may be a record reserved in a
// ring buffer (length 0, capacity the record's size): a codec that knows the
// size of an encoding up front (Size returns it) writes straight into shared
// memory, with no copy and no allocation. Decode reads bytes in place in
// shared memory: it must copy whatever it keeps, and must not keep src.
//
// Shipped codecs:
//
//   - Binary[T]: fixed-size, pointer-free T (ints, floats, bools, arrays and
//     structs of them) as its raw in-memory bytes. The fastest: one copy
//     each way, no allocation. T is checked when the codec is made; a bad
//     field is named in the error.
//   - Gob[T]: any value encoding/gob can carry (strings, slices, maps,
//     structs with exported fields, interface values of registered types).
//     The default for types that the others refuse, as pickle is Python's.
//     A nil pointer arrives as nil: a nil *Task is Python's None poison
//     pill, never a zero Task.
//   - Marshaler[T]: types that encode themselves through encoding's
//     BinaryAppender or BinaryMarshaler and BinaryUnmarshaler (time.Time,
//     netip.Addr).
//   - Bytes: []byte as is; String: string as is.
//
// Default[T] picks Bytes or String for those two types, then Marshaler,
// Binary and Gob, the first that fits T.
//
// Decoders never panic on garbage: a peer process may be buggy or hostile,
// and every decoder is fuzzed. Gob refuses a map whose count its message
// cannot hold before encoding/gob makes the map that size (a message of a
// few bytes could ask for gigabytes), and a value nested more than 65536
// deep before encoding/gob recurses through it (a few MiB could exhaust
// the stack, a fatal error), except for a type with interfaces inside,
// which encoding/gob decodes as it would alone.
//
// # Names
//
// A queue or pipe records the name of its codec (Name) in its fingerprint
// and in the handle that carries it to a worker, which finds the codec again
// by that name (ByName). The shipped codecs are found by their names
// ("binary", "gob", "marshaler", "bytes", "string"). A codec of your own
// names itself by implementing Namer (a CodecName method returning a short,
// stable name; without it the name is its Go type) and must be registered
// with Register in every process that decodes such a handle, at
// initialisation, beside the workers' process.Register.
//
// # Plugging in another codec
//
// Any type with the three methods of Codec is a codec. A protobuf codec for a
// generated message type *pb.Msg is a few lines:
//
//	type Proto struct{}
//
//	func (Proto) CodecName() string { return "proto" }
//	func (Proto) Size(v **pb.Msg) int { return proto.Size(*v) }
//	func (Proto) Append(dst []byte, v **pb.Msg) ([]byte, error) {
//		return proto.MarshalOptions{}.MarshalAppend(dst, *v)
//	}
//	func (Proto) Decode(src []byte, v **pb.Msg) error {
//		*v = new(pb.Msg)
//		return proto.Unmarshal(src, *v) // copies: src may be shared memory
//	}
//
//	func init() { codec.Register[*pb.Msg](Proto{}) }
//
// and is given to a queue or a pipe in its options:
//
//	q, err := queue.New(queue.Options[*pb.Msg]{Codec: Proto{}})
//	parent, child, err := pipe.New(pipe.Options[*pb.Msg]{Codec: Proto{}})
//
// A msgpack codec takes the same shape with msgpack.Marshal (Size returning
// -1: unknown until encoded).
package codec
