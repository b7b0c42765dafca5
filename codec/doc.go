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
//     The default for types that Binary refuses, as pickle is Python's.
//   - Bytes: []byte as is; String: string as is.
//
// Default[T] picks Binary when T qualifies and Gob otherwise.
//
// Decoders never panic on garbage: a peer process may be buggy or hostile,
// and every decoder is fuzzed (see codec_test.go and testdata/).
//
// # Plugging in another codec
//
// Any type with the three methods of Codec is a codec. A protobuf codec for a
// generated message type *pb.Msg is a few lines:
//
//	type Proto struct{}
//
//	func (Proto) Size(v **pb.Msg) int { return proto.Size(*v) }
//	func (Proto) Append(dst []byte, v **pb.Msg) ([]byte, error) {
//		return proto.MarshalOptions{}.MarshalAppend(dst, *v)
//	}
//	func (Proto) Decode(src []byte, v **pb.Msg) error {
//		*v = new(pb.Msg)
//		return proto.Unmarshal(src, *v) // copies: src may be shared memory
//	}
//
// and is used as queue.Create[*pb.Msg](seg, "q", queue.Options{}, Proto{}) or
// with pipe.WithCodec. A msgpack codec takes the same shape with
// msgpack.Marshal (Size returning -1: unknown until encoded).
package codec
