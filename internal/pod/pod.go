// Package pod decides which Go types may live in shared memory and
// fingerprints them.
//
// A type may live in shared memory when it is fixed-size and pointer-free:
// booleans, integers, floats, complex numbers, and arrays and structs of
// those. Pointers, strings, slices, maps, interfaces, channels and functions
// hold addresses that mean nothing in another process, so they are refused,
// with an error that names the offending field.
package pod

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"

	"github.com/shmkit/shmkit/shm"
)

// Check returns nil if t is fixed-size and pointer-free, and otherwise an
// error matching shm.ErrUnsupportedType that names the first offending
// field ("pod.Msg.Tags: slice").
func Check(t reflect.Type) error {
	if t == nil {
		return fmt.Errorf("%w: nil type (an interface type?)", shm.ErrUnsupportedType)
	}
	return check(t, t.String())
}

func check(t reflect.Type, path string) error {
	switch t.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil
	case reflect.Array:
		return check(t.Elem(), path+"[]")
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if err := check(f.Type, path+"."+f.Name); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("%w: %s is a %s (%s), which cannot live in shared memory", shm.ErrUnsupportedType, path, t.Kind(), t)
}

// TypeID fingerprints t: its size, alignment, and a hash of its name and of
// the kind, size and offset of every field, so that two types with one name
// and different layouts differ. t must have passed Check.
func TypeID(t reflect.Type) shm.TypeID {
	h := fnv.New64a()
	describe(h, t)
	return shm.TypeID{Size: uint32(t.Size()), Align: uint32(t.Align()), Hash: h.Sum64()}
}

type writer interface{ Write([]byte) (int, error) }

func describe(w writer, t reflect.Type) {
	w.Write([]byte(t.String() + ":" + t.Kind().String() + ":" + strconv.Itoa(int(t.Size())) + ";"))
	switch t.Kind() {
	case reflect.Array:
		w.Write([]byte("[" + strconv.Itoa(t.Len()) + "]"))
		describe(w, t.Elem())
	case reflect.Struct:
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			w.Write([]byte("{" + f.Name + "@" + strconv.Itoa(int(f.Offset)) + "}"))
			describe(w, f.Type)
		}
	}
}

// Of checks T and returns its fingerprint.
func Of[T any]() (shm.TypeID, error) {
	t := reflect.TypeFor[T]()
	if err := Check(t); err != nil {
		return shm.TypeID{}, err
	}
	return TypeID(t), nil
}
